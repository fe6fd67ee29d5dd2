"""What the sales app plugs into the apps before it (called from SalesConfig.ready()).

All of the app's wiring in one place: timeline providers, task-completion hooks, workspace
panels.
"""

from __future__ import annotations


def register() -> None:
    from dealercrm.customers.timeline import TimelineRows, register_timeline_provider

    from .models import Activity, Order, TestDrive
    from .services import orders
    from .timeline import (
        activity_timeline,
        lead_event_times,
        lead_timeline,
        order_timeline,
        test_drive_timeline,
    )
    from .workspace import register_panels

    # The timeline asks each only for what it will show (customers.timeline, point 3).
    register_timeline_provider(lead_timeline, rows=lead_event_times)
    register_timeline_provider(activity_timeline, rows=TimelineRows(Activity, "occurred_at"))
    register_timeline_provider(test_drive_timeline, rows=TimelineRows(TestDrive, "starts_at"))
    register_timeline_provider(order_timeline, rows=TimelineRows(Order, "created_at"))
    # A delay task done with the customer reached counts as "customer told".
    orders.register_task_hooks()
    # Leads waiting for a first response, follow-ups due, losses to approve.
    register_panels()
