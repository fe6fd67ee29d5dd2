"""Follow-up calls after a delivery and after a service visit (交车回访 / 维修回访)."""

from __future__ import annotations

import datetime
import zoneinfo

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
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


class DeliveryFollowUp(Rule):
    code = "delivery_follow_up"
    label = _("Follow-up call after delivery")
    description = _(
        "A call from the sales consultant a few days after the car was delivered (the standard "
        "asks for one within 3 days): is everything fine, was everything explained. Cars sold "
        "through the sales pipeline already get this call from the order; the rule calls the "
        "owners of cars delivered elsewhere (imports)."
    )
    defaults = {
        "enabled": True,
        "days": 3,
        "action": Action.TASK,
        "channel": "phone",
        "assignee": Assignee.CONSULTANT,
        "task_kind": "follow_up",
        "purpose": "follow_up",
        "script": _(
            "Call {salutation}: the {vehicle} ({plate}) was delivered on {due_date}. Ask how the "
            "car is, whether everything was explained at the handover, and remind them of the "
            "first maintenance."
        ),
    }
    config_fields = (
        ConfigField(
            "days",
            "int",
            _("Days after delivery"),
            _("Within 3 days by the standard."),
            min_value=0,
            max_value=30,
        ),
        *common_fields(),
    )
    title = _("Follow-up call after delivery: {customer}")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        from dealercrm.sales.services.orders import FOLLOWUP_TASK_SUFFIX, TASK_SOURCE_KIND
        from dealercrm.vehicles.models import Vehicle
        from dealercrm.worklist.models import Task

        days = int(ctx.config["days"])
        # The sales pipeline made its own follow-up task for this owner: nobody is called twice.
        from_sales = Task.objects.filter(
            dealer_id=ctx.dealer_id,
            customer_id=OuterRef("owner_id"),
            source_kind=TASK_SOURCE_KIND,
            source_id__endswith=f":{FOLLOWUP_TASK_SUFFIX}",
        )
        rows = (
            Vehicle.objects.filter(
                dealer_id=ctx.dealer_id,
                delivery_date__in=shifted(ctx.days, -days),
                owner__isnull=False,
                owner__is_deleted=False,
            )
            .filter(~Exists(from_sales))
            .values_list("id", "owner_id", "delivery_date")
        )
        delta = datetime.timedelta(days=days)
        return [
            Candidate(vid, owner, vid, f"delivery/{delivered.isoformat()}", delivered + delta)
            for vid, owner, delivered in rows
        ]


class ServiceFollowUp(Rule):
    code = "service_follow_up"
    label = _("Follow-up call after a service visit")
    description = _(
        "A call from the service advisor the day after a repair order was closed (the standard "
        "asks for one within 3 days): is the customer satisfied with the work."
    )
    defaults = {
        "enabled": True,
        "days": 1,
        "action": Action.TASK,
        "channel": "phone",
        "assignee": Assignee.ADVISOR,
        "task_kind": "follow_up",
        "purpose": "follow_up",
        "script": _(
            "Call {salutation}: the {vehicle} ({plate}) was serviced with us. Ask whether the "
            "problem is solved and whether they are satisfied with the work and the advisor."
        ),
    }
    config_fields = (
        ConfigField(
            "days",
            "int",
            _("Days after the visit"),
            _("Within 3 days by the standard."),
            min_value=0,
            max_value=3,
        ),
        *common_fields(),
    )
    title = _("Follow-up call after service: {customer}")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        from dealercrm.service.models import RepairOrder, RepairOrderStatus

        days = int(ctx.config["days"])
        tz = zoneinfo.ZoneInfo(ctx.time_zone)
        # Closed on the shifted days, in the dealer's time zone.
        start = datetime.datetime.combine(
            ctx.first - datetime.timedelta(days=days), datetime.time.min, tz
        )
        end = datetime.datetime.combine(
            ctx.last - datetime.timedelta(days=days - 1), datetime.time.min, tz
        )
        rows = (
            RepairOrder.objects.filter(
                dealer_id=ctx.dealer_id,
                status=RepairOrderStatus.CLOSED,
                closed_at__gte=start,
                closed_at__lt=end,
            )
            .annotate(person=Coalesce("customer_id", "vehicle__owner_id"))
            .filter(Q(person__isnull=False))
            .values_list("id", "vehicle_id", "person", "closed_at", "advisor_id")
        )
        delta = datetime.timedelta(days=days)
        return [
            Candidate(
                vid,
                person,
                vid,
                f"ro/{ro_id}",
                closed.astimezone(tz).date() + delta,
                {"repair_order_id": ro_id, "advisor_id": advisor},
            )
            for ro_id, vid, person, closed, advisor in rows
        ]


RULES = (DeliveryFollowUp(), ServiceFollowUp())
