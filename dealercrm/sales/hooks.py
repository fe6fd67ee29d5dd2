"""What the sales app plugs into the apps before it (called from SalesConfig.ready()).

All of the app's wiring in one place: timeline providers, task-completion hooks.
"""

from __future__ import annotations


def register() -> None:
    from dealercrm.customers.timeline import register_timeline_provider

    from .timeline import lead_timeline, order_timeline, test_drive_timeline

    register_timeline_provider(lead_timeline)
    register_timeline_provider(test_drive_timeline)
    register_timeline_provider(order_timeline)
    # Task-completion hooks (worklist.services.register_task_completion_hook) of each topic:
    from .services import orders

    orders.register_task_hooks()
