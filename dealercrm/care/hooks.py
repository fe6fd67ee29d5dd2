"""What the care app plugs into the others (task-completion hooks, repair-order listeners,
workspace panels). Called from CareConfig.ready()."""

from __future__ import annotations


def register() -> None:
    pass
    _register_care_tasks()
    _register_engine()


def _register_care_tasks() -> None:
    # Care tasks: a task closed on the generic worklist closes its occurrence; the workspace
    # shows each person's care tasks due today or overdue.
    from dealercrm.core.workspace_panels import register_workspace_panel

    from .services.outcomes import register_hooks
    from .workspace import care_tasks_panel

    register_hooks()
    register_workspace_panel(care_tasks_panel)


def _register_engine() -> None:
    # Service-to-sales: a repair order opened for a replacement candidate alerts the consultant
    # the same hour (the listener runs on the repair order's commit).
    from dealercrm.service.events import register_repair_order_listener

    from .services.engine import on_repair_order_opened

    register_repair_order_listener("opened", on_repair_order_opened)
