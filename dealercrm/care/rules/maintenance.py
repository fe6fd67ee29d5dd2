"""Maintenance reminders from each vehicle's forecast (service.VehicleServiceState)."""

from __future__ import annotations

import datetime

from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .base import (
    Action,
    Assignee,
    Candidate,
    ConfigField,
    Rule,
    RuleContext,
    common_fields,
    shifted,
)


def _state_rows(ctx: RuleContext, *, kind: str | None, offset: int, extra: Q | None = None):
    """Vehicles (with a living owner) whose next service falls `offset` days after a day of the
    window: (vehicle id, owner id, next service date)."""
    from dealercrm.service.models import VehicleServiceState

    query = VehicleServiceState.objects.filter(
        dealer_id=ctx.dealer_id,
        next_service_on__in=shifted(ctx.days, offset),
        vehicle__owner__isnull=False,
        vehicle__owner__is_deleted=False,
    )
    if kind:
        query = query.filter(next_service_kind=kind)
    if extra is not None:
        query = query.filter(extra)
    return query.values_list("vehicle_id", "vehicle__owner_id", "next_service_on")


class FirstMaintenance(Rule):
    code = "first_maintenance"
    label = _("First maintenance reminder")
    description = _(
        "A week before a new car's first maintenance is forecast to fall due (by distance or "
        "time, whichever comes first): a message to the owner and a call to book it."
    )
    defaults = {
        "enabled": True,
        "days_before": 7,
        "action": Action.BOTH,
        "channel": "sms",
        "assignee": Assignee.CARE_SPECIALIST,
        "task_kind": "call",
        "purpose": "maintenance_reminder",
        "script": _(
            "Call {salutation}: the first maintenance of the {vehicle} ({plate}) is due around "
            "{due_date}. Offer an appointment."
        ),
    }
    config_fields = (
        ConfigField("days_before", "int", _("Days before it is due"), min_value=0, max_value=60),
        *common_fields(),
    )
    title = _("First maintenance due: {customer} ({plate})")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        before = int(ctx.config["days_before"])
        delta = datetime.timedelta(days=before)
        return [
            Candidate(
                vid, owner, vid, f"first/{due.isoformat()}", due - delta, {"due": due.isoformat()}
            )
            for vid, owner, due in _state_rows(ctx, kind="first", offset=before)
        ]


class MaintenanceDue(Rule):
    code = "maintenance_due"
    label = _("Maintenance due")
    description = _(
        "Some days before a regular maintenance is forecast to fall due: a message to the "
        "owner and a call to book it."
    )
    defaults = {
        "enabled": True,
        "days_before": 7,
        "action": Action.BOTH,
        "channel": "sms",
        "assignee": Assignee.CARE_SPECIALIST,
        "task_kind": "call",
        "purpose": "maintenance_reminder",
        "script": _(
            "Call {salutation}: the {vehicle} ({plate}) is due for maintenance around {due_date}. "
            "Offer an appointment."
        ),
    }
    config_fields = (
        ConfigField("days_before", "int", _("Days before it is due"), min_value=0, max_value=60),
        *common_fields(),
    )
    title = _("Maintenance due: {customer} ({plate})")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        before = int(ctx.config["days_before"])
        delta = datetime.timedelta(days=before)
        return [
            Candidate(
                vid, owner, vid, f"due/{due.isoformat()}", due - delta, {"due": due.isoformat()}
            )
            for vid, owner, due in _state_rows(ctx, kind="regular", offset=before)
        ]


class MaintenanceOverdue(Rule):
    code = "maintenance_overdue"
    label = _("Maintenance overdue (win-back)")
    description = _(
        "A month after a maintenance fell due with no visit since: a win-back call (the car is "
        "probably serviced elsewhere)."
    )
    defaults = {
        "enabled": True,
        "days_after": 30,
        "action": Action.TASK,
        "channel": "phone",
        "assignee": Assignee.CARE_SPECIALIST,
        "task_kind": "call",
        "purpose": "win_back",
        "script": _(
            "Call {salutation}: the maintenance of the {vehicle} ({plate}) was due on "
            "{due_date} and we have not seen the car since. Ask why, and offer an appointment."
        ),
    }
    config_fields = (
        ConfigField("days_after", "int", _("Days after it fell due"), min_value=1, max_value=365),
        *common_fields(),
    )
    title = _("Maintenance overdue: {customer} ({plate})")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        after = int(ctx.config["days_after"])
        delta = datetime.timedelta(days=after)
        no_visit = Q(last_visit_on__isnull=True) | Q(last_visit_on__lt=F("next_service_on"))
        return [
            Candidate(
                vid, owner, vid, f"overdue/{due.isoformat()}", due + delta, {"due": due.isoformat()}
            )
            for vid, owner, due in _state_rows(ctx, kind=None, offset=-after, extra=no_visit)
        ]


RULES = (FirstMaintenance(), MaintenanceDue(), MaintenanceOverdue())
