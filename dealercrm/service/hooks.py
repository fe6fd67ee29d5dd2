"""What the service app plugs into the others: timeline providers, workspace panels, the vehicle
page's forecast panel, task-completion hooks. Called from ServiceConfig.ready()."""

from __future__ import annotations


def register() -> None:
    from dealercrm.core.workspace_panels import register_workspace_panel
    from dealercrm.customers.timeline import TimelineRows, register_timeline_provider
    from dealercrm.vehicles.panels import register_vehicle_panel

    from . import timeline, workspace
    from .models import Appointment, RepairOrder
    from .views.repair_orders import service_history_panel

    register_timeline_provider(
        timeline.appointment_timeline, rows=TimelineRows(Appointment, "starts_at")
    )
    register_timeline_provider(
        timeline.repair_order_timeline, rows=TimelineRows(RepairOrder, "opened_at")
    )
    register_workspace_panel(workspace.advisor_panel)
    register_vehicle_panel(service_history_panel)
    from .forecast_panel import next_service_panel

    register_vehicle_panel(next_service_panel)

    from . import recall_listeners

    recall_listeners.register()
