"""What recalls and rescue plug into the rest: the repair-order "closed" listener (a closed
recall repair order completes the car's recall), the worklist hook (a recall call that booked
an appointment marks the car booked) and the customer timeline providers.
Registered by hooks.register()."""

from __future__ import annotations

import datetime
import logging

from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.timeline import ProviderQuery

logger = logging.getLogger(__name__)


def on_repair_order_closed(repair_order_id: int, dealer_id: int) -> None:
    from .services.recalls import recall_complete_from_repair_order

    with dealer_scope(dealer_id):
        recall_complete_from_repair_order(repair_order_id=repair_order_id, dealer_id=dealer_id)


def on_recall_task_closed(task) -> None:  # noqa: ANN001
    """A recall call whose outcome says an appointment was booked marks the car booked."""
    from dealercrm.worklist.models import TaskStatus

    from .services.recalls import recall_vehicle_mark_booked

    if task.status != TaskStatus.DONE or not task.source_id.isdigit():
        return
    if (task.outcome or "").startswith("appointment_booked"):
        recall_vehicle_mark_booked(recall_vehicle_ids=[int(task.source_id)])


def register() -> None:
    from dealercrm.customers.timeline import (
        TimelineQueries,
        TimelineRows,
        register_timeline_provider,
    )
    from dealercrm.worklist.services import register_task_completion_hook

    from .events import register_repair_order_listener
    from .models import RescueCall
    from .services.recalls import TASK_SOURCE_KIND

    register_repair_order_listener("closed", on_repair_order_closed)
    register_task_completion_hook(TASK_SOURCE_KIND, on_recall_task_closed)
    register_timeline_provider(recall_timeline, rows=TimelineQueries(_recall_times))
    register_timeline_provider(rescue_timeline, rows=TimelineRows(RescueCall, "called_at"))


# --- the customer 360 timeline (one query each) -----------------------------------------------


def _recalls(dealer_id: int, customer_id: int, before: datetime.datetime | None):  # noqa: ANN202
    from django.db.models.functions import Coalesce

    from .models import RecallVehicle

    rows = (
        RecallVehicle.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
        .select_related("campaign", "vehicle")
        .annotate(at=Coalesce("completed_at", "notified_at", "created_at"))
        .order_by("-at", "-id")
    )
    return rows if before is None else rows.filter(at__lt=before)


_RECALLS = ProviderQuery(_recalls)


def recall_timeline(customer, *, limit: int, before=None):  # noqa: ANN001, ANN201
    """Recall notices of the customer's cars, with where each stands. One query."""
    from django.urls import reverse
    from django.utils.translation import gettext as _

    from dealercrm.customers.timeline import TimelineEntry

    from .models import RecallStatus

    icons = {RecallStatus.COMPLETED: "circle-check", RecallStatus.UNREACHABLE: "phone-off"}
    entries = []
    for row in _RECALLS(customer, limit=limit, before=before):
        car = row.vehicle.plate or row.vin
        entries.append(
            TimelineEntry(
                occurred_at=row.at,
                kind=f"recall_{row.status}",
                icon=icons.get(row.status, "alert-triangle"),
                title=_("Recall %(code)s for %(car)s: %(status)s")
                % {"code": row.campaign.code, "car": car, "status": row.get_status_display()},
                body=row.campaign.title,
                url=reverse("service:recall_vehicles", kwargs={"recall_id": row.campaign_id})
                + f"?q={row.vin}",
                source="service",
            )
        )
    return entries


def _recall_times(dealer_id: int, customer_id: int):  # noqa: ANN202
    """The times of recall_timeline's entries (TimelineQueries)."""
    from django.db.models.functions import Coalesce

    from .models import RecallVehicle

    rows = RecallVehicle.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
    return [rows.annotate(timeline_at=Coalesce("completed_at", "notified_at", "created_at"))]


def _rescues(dealer_id: int, customer_id: int, before: datetime.datetime | None):  # noqa: ANN202
    from .models import RescueCall

    rows = RescueCall.objects.filter(dealer_id=dealer_id, customer_id=customer_id).order_by(
        "-called_at", "-id"
    )
    return rows if before is None else rows.filter(called_at__lt=before)


_RESCUES = ProviderQuery(_rescues)


def rescue_timeline(customer, *, limit: int, before=None):  # noqa: ANN001, ANN201
    """Roadside rescues of the customer. One query."""
    from django.urls import reverse
    from django.utils.translation import gettext as _

    from dealercrm.customers.timeline import TimelineEntry

    entries = []
    for row in _RESCUES(customer, limit=limit, before=before):
        outcome = row.get_outcome_display() if row.outcome else row.get_status_display()
        entries.append(
            TimelineEntry(
                occurred_at=row.called_at,
                kind="rescue",
                icon="lifebuoy",
                title=_("Roadside rescue: %(problem)s (%(outcome)s)")
                % {"problem": row.get_problem_display(), "outcome": outcome},
                body=row.location,
                url=reverse("service:rescue_detail", kwargs={"rescue_id": row.pk}),
                source="service",
            )
        )
    return entries
