"""Owners drifting away: no visit in 12 months → at risk (win-back call), 18 months → lost.

The stage changes are set-based UPDATEs of this run's new occurrences; owners at risk or lost
who came back (a visit within the at-risk period) are set back to owner.
"""

from __future__ import annotations

import datetime

from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .base import (
    Action,
    Assignee,
    Candidate,
    ConfigField,
    Rule,
    RuleContext,
    add_months,
    common_fields,
)


def _dormant(ctx: RuleContext, *, months: int, stages: tuple[str, ...]) -> list[Candidate]:
    """Customers in `stages` whose latest visit over all their cars (a car never serviced
    counts from its delivery) is `months` or more ago: one grouped query.

    After the dealer's first run only the customers who crossed the line on the window's days
    are looked at (a car last seen exactly then, found through the indexes on last visit and
    delivery), so a run does not group a million customers every morning to find a few.
    """
    from dealercrm.customers.models import Customer
    from dealercrm.service.models import VehicleServiceState
    from dealercrm.vehicles.models import Vehicle

    cutoff = add_months(ctx.last, -months)
    customers = Customer.objects.filter(
        dealer_id=ctx.dealer_id, is_deleted=False, lifecycle_stage__in=stages
    )
    if not ctx.first_run:
        since = add_months(ctx.first - datetime.timedelta(days=1), -months)
        visited = VehicleServiceState.objects.filter(
            dealer_id=ctx.dealer_id, last_visit_on__gt=since, last_visit_on__lte=cutoff
        ).values("vehicle__owner_id")
        never = (
            Vehicle.objects.filter(
                dealer_id=ctx.dealer_id, delivery_date__gt=since, delivery_date__lte=cutoff
            )
            .filter(Q(service_state__isnull=True) | Q(service_state__last_visit_on__isnull=True))
            .values("owner_id")
        )
        # Two index range reads, then the few customers by primary key: an OR of two IN
        # subqueries makes PostgreSQL group every customer of the dealer first.
        owners = set(visited.values_list("vehicle__owner_id", flat=True))
        owners.update(never.values_list("owner_id", flat=True))
        owners.discard(None)
        if not owners:
            return []
        customers = customers.filter(pk__in=sorted(owners))
    # The latest visit over the customer's cars, as a subquery on (dealer, owner): a plain
    # join on the owner alone cannot use that index and reads every car of the network.
    seen = (
        Vehicle.objects.filter(dealer_id=ctx.dealer_id, owner_id=OuterRef("pk"))
        .annotate(seen=Coalesce("service_state__last_visit_on", "delivery_date"))
        .filter(seen__isnull=False)
        .order_by("-seen")
        .values("seen")[:1]
    )
    rows = (
        customers.annotate(seen=Subquery(seen)).filter(seen__lte=cutoff).values_list("id", "seen")
    )
    return [
        Candidate(cid, cid, None, f"seen/{seen.isoformat()}", ctx.last, {"due": seen.isoformat()})
        for cid, seen in rows
    ]


def _set_stage(
    ctx: RuleContext, run_id: int, rule: str, stage: str, stages: tuple[str, ...]
) -> int:
    from dealercrm.care.models import CareOccurrence
    from dealercrm.customers.models import Customer

    new = CareOccurrence.objects.filter(dealer_id=ctx.dealer_id, run_id=run_id, rule=rule)
    return Customer.objects.filter(
        dealer_id=ctx.dealer_id,
        lifecycle_stage__in=stages,
        pk__in=new.values("customer_id"),
    ).update(lifecycle_stage=stage, updated_at=timezone.now())


class DormantAtRisk(Rule):
    code = "dormant_at_risk"
    label = _("Dormant owner: at risk")
    description = _(
        "Owners not seen for 12 months (their latest visit over all their cars, or the delivery "
        'of a car never serviced) become "at risk" and get a win-back call. Owners at risk or '
        "lost who visit again become owners again."
    )
    subject = "customer"
    defaults = {
        "enabled": True,
        "months": 12,
        "action": Action.TASK,
        "channel": "phone",
        "assignee": Assignee.CARE_SPECIALIST,
        "task_kind": "call",
        "purpose": "win_back",
        "script": _(
            "Call {salutation}: we have not seen them since {due_date}. Ask how the {vehicle} "
            "is doing and why they have not come back; offer a free check."
        ),
    }
    config_fields = (
        ConfigField("months", "int", _("Months without a visit"), min_value=3, max_value=60),
        *common_fields(),
    )
    title = _("Win back: {customer}, not seen since {due_date}")

    STAGES = ("owner", "loyal")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        return _dormant(ctx, months=int(ctx.config["months"]), stages=self.STAGES)

    def after_insert(self, ctx: RuleContext, run_id: int) -> int:
        from dealercrm.customers.models import Customer
        from dealercrm.service.models import VehicleServiceState

        changed = _set_stage(ctx, run_id, self.code, "at_risk", self.STAGES)
        # Came back: a visit within the period (after the first run: a visit recorded for the
        # window's days or the week before, the slack for repair orders closed late).
        since = add_months(ctx.last, -int(ctx.config["months"]))
        if not ctx.first_run:
            since = max(since, ctx.first - datetime.timedelta(days=8))
        recent = VehicleServiceState.objects.filter(
            dealer_id=ctx.dealer_id, last_visit_on__gt=since
        ).values("vehicle__owner_id")
        changed += Customer.objects.filter(
            dealer_id=ctx.dealer_id,
            lifecycle_stage__in=("at_risk", "lost"),
            is_deleted=False,
            pk__in=recent,
        ).update(lifecycle_stage="owner", updated_at=timezone.now())
        return changed


class DormantLost(Rule):
    code = "dormant_lost"
    label = _("Dormant owner: lost")
    description = _(
        'Owners not seen for 18 months become "lost" (no task: they are counted in the '
        "retention figures and can be targeted by win-back campaigns)."
    )
    subject = "customer"
    defaults = {
        "enabled": True,
        "months": 18,
        "action": Action.NONE,
        "channel": "phone",
        "assignee": Assignee.CARE_SPECIALIST,
        "task_kind": "call",
        "purpose": "win_back",
        "script": _("{salutation} has not been seen since {due_date}."),
    }
    config_fields = (
        ConfigField("months", "int", _("Months without a visit"), min_value=6, max_value=120),
        *common_fields(),
    )
    title = _("Lost: {customer}, not seen since {due_date}")

    STAGES = ("owner", "loyal", "at_risk")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        return _dormant(ctx, months=int(ctx.config["months"]), stages=self.STAGES)

    def after_insert(self, ctx: RuleContext, run_id: int) -> int:
        return _set_stage(ctx, run_id, self.code, "lost", self.STAGES)


RULES = (DormantLost(), DormantAtRisk())
