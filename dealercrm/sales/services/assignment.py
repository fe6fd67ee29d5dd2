"""Who works a lead: the dealer's rule (round-robin, by load, manual), reassignment with its
history, and the first-response sweep (flag, escalate, reassign automatically).

CONTRACT:
- `lead_assign(*, actor, lead, consultant, note="") -> Lead`  manual (re)assignment.
- `lead_assign_auto(*, lead, actor=None) -> Lead`  the dealer's rule; manual mode (or nobody on
  duty) leaves it unassigned and notifies the managers (worklist.services.notice_create).
- `first_response_deadline(*, policy, start) -> datetime`  start + policy.first_response_minutes
  counted in opening hours only (dealer time zone).
- `lead_response_sweep(*, now=None) -> int`  all dealers (jobs), set-based: flags overdue
  leads, escalates to the managers, reassigns when the dealer turns that on. Idempotent.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer
from dealercrm.worklist.services import NoticeSpec, notice_create, notices_create_bulk

from ..models import AssignmentMode, Lead, LeadEvent, LeadStage, SalesPolicy
from ..models.leads import CLOSED_STAGES
from ..selectors.policy import sales_policy_for
from .leads import _customer_follows, _event, lead_working_staff

NOTICE_SOURCE = "sales.lead"
SWEEP_BATCH = 500


def lead_url(lead_id: int) -> str:
    return reverse("sales:lead", kwargs={"lead_id": lead_id})


# --- opening hours ------------------------------------------------------------------------------


def _zone(policy: SalesPolicy) -> datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(policy.dealer.time_zone or "Asia/Shanghai")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Asia/Shanghai")


def first_response_deadline(*, policy: SalesPolicy, start: datetime.datetime) -> datetime.datetime:
    """`start` plus the policy's first-response minutes, counting opening hours only.

    In the dealer's time zone, on its open weekdays, between opening and closing time: a lead
    arriving at 17:50 with 30 minutes (open 9–18) is due at 09:20 on the next open day.
    """
    minutes = policy.first_response_minutes
    weekdays = {int(c) for c in policy.open_weekdays if c in "1234567"}
    if not weekdays or policy.opens_at >= policy.closes_at:
        return start + datetime.timedelta(minutes=minutes)
    zone = _zone(policy)
    current = start.astimezone(zone)
    remaining = datetime.timedelta(minutes=minutes)
    for _day in range(400):
        day = current.date()
        opens = datetime.datetime.combine(day, policy.opens_at, tzinfo=zone)
        closes = datetime.datetime.combine(day, policy.closes_at, tzinfo=zone)
        if day.isoweekday() in weekdays and current < closes:
            current = max(current, opens)
            available = closes - current
            if remaining <= available:
                return (current + remaining).astimezone(datetime.UTC)
            remaining -= available
        next_day = day + datetime.timedelta(days=1)
        current = datetime.datetime.combine(next_day, policy.opens_at, tzinfo=zone)
    return start + datetime.timedelta(minutes=minutes)


# --- choosing a consultant ----------------------------------------------------------------------


def _on_duty(dealer_id: int, exclude_ids: Iterable[int] = ()) -> list[User]:
    return list(
        User.objects.filter(
            dealer_id=dealer_id, role=Role.SALES_CONSULTANT, is_active=True, on_duty=True
        )
        .exclude(pk__in=[i for i in exclude_ids if i])
        .order_by("pk")
    )


def _next_in_turn(candidates: Sequence[User], last_id: int | None) -> User:
    for candidate in candidates:
        if last_id is None or candidate.pk > last_id:
            return candidate
    return candidates[0]


def _least_loaded(dealer_id: int, candidates: Sequence[User], last_id: int | None) -> User:
    loads = dict(
        Lead.objects.open()
        .filter(dealer_id=dealer_id, consultant_id__in=[c.pk for c in candidates])
        .order_by()
        .values_list("consultant_id")
        .annotate(n=Count("id"))
    )
    fewest = min(loads.get(c.pk, 0) for c in candidates)
    # Ties go round in turn, so equal loads do not always favour the same person.
    return _next_in_turn([c for c in candidates if loads.get(c.pk, 0) == fewest], last_id)


def _choose(policy: SalesPolicy, *, exclude_ids: Iterable[int] = ()) -> User | None:
    """The consultant the dealer's rule picks (moving the round-robin pointer), or None."""
    candidates = _on_duty(policy.dealer_id, exclude_ids)
    if not candidates:
        return None
    if policy.assignment_mode == AssignmentMode.BY_LOAD:
        chosen = _least_loaded(policy.dealer_id, candidates, policy.last_assigned_id)
    else:
        chosen = _next_in_turn(candidates, policy.last_assigned_id)
    SalesPolicy.objects.filter(pk=policy.pk).update(last_assigned=chosen)
    policy.last_assigned_id = chosen.pk
    return chosen


def _manager_ids(dealer_ids: Iterable[int]) -> dict[int, list[int]]:
    result: dict[int, list[int]] = defaultdict(list)
    for dealer_id, user_id in User.objects.filter(
        dealer_id__in=list(dealer_ids), role=Role.DEALER_MANAGER, is_active=True
    ).values_list("dealer_id", "pk"):
        result[dealer_id].append(user_id)
    return result


def _set_consultant(
    lead: Lead,
    consultant: User,
    *,
    actor: User | None,
    kind: str,
    now: datetime.datetime,
    note: str = "",
    policy: SalesPolicy | None = None,
) -> Lead:
    previous = lead.consultant
    previous_id = lead.consultant_id
    lead.consultant = consultant
    lead.assigned_at = now
    lead.updated_at = now
    fields = ["consultant", "assigned_at", "updated_at"]
    if previous_id is not None and lead.stage == LeadStage.NEW and lead.first_contacted_at is None:
        # A new consultant gets the whole first-response time afresh.
        policy = policy or sales_policy_for(lead.dealer_id)
        lead.first_response_due_at = first_response_deadline(policy=policy, start=now)
        lead.response_flagged_at = None
        fields += ["first_response_due_at", "response_flagged_at"]
    lead.save(update_fields=fields)
    _event(
        lead,
        kind,
        actor=actor,
        at=now,
        from_value=str(previous) if previous is not None else "",
        to_value=str(consultant),
        note=note,
    )
    _customer_follows(lead.customer, previous_id=previous_id, new_id=consultant.pk, now=now)
    if actor is None or actor.pk != consultant.pk:
        notice_create(
            dealer_id=lead.dealer_id,
            recipient_ids=[consultant.pk],
            title=_("New lead for you: %(name)s") % {"name": lead.customer.name},
            link=lead_url(lead.pk),
            source_kind=NOTICE_SOURCE,
            source_id=str(lead.pk),
            reason=f"assigned:{consultant.pk}:{int(now.timestamp())}",
        )
    return lead


# --- services -----------------------------------------------------------------------------------


@transaction.atomic
def lead_assign(*, actor: User | None, lead: Lead, consultant: User, note: str = "") -> Lead:
    """Give the lead to `consultant` (a consultant or manager of its dealer); history kept."""
    if lead.stage in CLOSED_STAGES:
        raise ValidationError({"consultant": _("This lead is closed.")})
    if not lead_working_staff(lead.dealer_id).filter(pk=consultant.pk).exists():
        raise ValidationError({"consultant": _("Choose an active consultant of this dealer.")})
    if lead.consultant_id == consultant.pk:
        return lead
    kind = LeadEvent.Kind.REASSIGNED if lead.consultant_id else LeadEvent.Kind.ASSIGNED
    return _set_consultant(lead, consultant, actor=actor, kind=kind, now=timezone.now(), note=note)


@transaction.atomic
def lead_assign_auto(
    *, lead: Lead, actor: User | None = None, exclude_ids: Iterable[int] = ()
) -> Lead:
    """Assign by the dealer's rule. The policy row is locked while the pointer moves.

    Manual mode, or nobody on duty: the lead stays unassigned and the managers are told.
    """
    policy = sales_policy_for(lead.dealer_id, for_update=True)
    now = timezone.now()
    consultant = None
    if policy.assignment_mode != AssignmentMode.MANUAL:
        consultant = _choose(policy, exclude_ids=exclude_ids)
    if consultant is None:
        reason = (
            _("Assign it: the dealer assigns leads by hand.")
            if policy.assignment_mode == AssignmentMode.MANUAL
            else _("Nobody is on duty to take it.")
        )
        notice_create(
            dealer_id=lead.dealer_id,
            recipient_ids=_manager_ids([lead.dealer_id]).get(lead.dealer_id, []),
            title=_("Lead waiting to be assigned: %(name)s") % {"name": lead.customer.name},
            body=reason,
            link=lead_url(lead.pk),
            source_kind=NOTICE_SOURCE,
            source_id=str(lead.pk),
            reason="unassigned",
        )
        return lead
    kind = LeadEvent.Kind.REASSIGNED if lead.consultant_id else LeadEvent.Kind.ASSIGNED
    return _set_consultant(lead, consultant, actor=actor, kind=kind, now=now, policy=policy)


def lead_response_sweep(*, now: datetime.datetime | None = None) -> int:
    """Flag every lead past its first-response time, escalate it, maybe reassign it.

    Runs across all dealers (the job's network scope). For each batch: one UPDATE flags the
    leads, one INSERT writes their events, notices go to the consultant and the managers
    (idempotent: once per lead, consultant and reason), and at dealers with auto_reassign the
    lead goes to the next consultant on duty with a new deadline. A second run finds nothing.
    Returns how many leads were flagged.
    """
    now = now or timezone.now()
    flagged = 0
    while True:
        with transaction.atomic():
            batch = _sweep_batch(now)
        flagged += batch
        if batch < SWEEP_BATCH:
            return flagged


def _sweep_batch(now: datetime.datetime) -> int:
    leads = list(
        Lead.objects.response_overdue(now)
        .filter(response_flagged_at__isnull=True)
        .select_related("customer", "consultant")
        .select_for_update(of=("self",))
        .order_by("first_response_due_at", "pk")[:SWEEP_BATCH]
    )
    if not leads:
        return 0
    ids = [lead.pk for lead in leads]
    Lead.objects.filter(pk__in=ids).update(
        response_flagged_at=now, escalated_at=now, updated_at=now
    )
    events = []
    for lead in leads:
        lead.response_flagged_at = lead.escalated_at = now
        consultant = str(lead.consultant) if lead.consultant_id else ""
        events.append(
            LeadEvent(
                dealer_id=lead.dealer_id,
                lead=lead,
                kind=LeadEvent.Kind.RESPONSE_OVERDUE,
                to_value=consultant,
                at=now,
            )
        )
        events.append(
            LeadEvent(dealer_id=lead.dealer_id, lead=lead, kind=LeadEvent.Kind.ESCALATED, at=now)
        )
    LeadEvent.objects.bulk_create(events)

    dealer_ids = {lead.dealer_id for lead in leads}
    managers = _manager_ids(dealer_ids)
    notices_create_bulk(
        [
            NoticeSpec(
                dealer_id=lead.dealer_id,
                recipient_ids=[*managers.get(lead.dealer_id, []), lead.consultant_id or 0],
                title=_("No first response in time: %(name)s") % {"name": lead.customer.name},
                body=(
                    _("Consultant: %(consultant)s") % {"consultant": lead.consultant}
                    if lead.consultant_id
                    else _("Not assigned yet.")
                ),
                link=lead_url(lead.pk),
                source_kind=NOTICE_SOURCE,
                source_id=str(lead.pk),
                reason=(
                    f"overdue:{lead.consultant_id or 0}:{lead.first_response_due_at:%Y%m%d%H%M}"
                )[:40],
            )
            for lead in leads
        ]
    )

    auto = {
        p.dealer_id: p
        for p in SalesPolicy.objects.filter(dealer_id__in=dealer_ids, auto_reassign=True)
        .select_related("dealer")
        .select_for_update(of=("self",))
    }
    if auto:
        _reassign_overdue([lead for lead in leads if lead.dealer_id in auto], auto, now)
    return len(leads)


def _reassign_overdue(
    leads: list[Lead], policies: dict[int, SalesPolicy], now: datetime.datetime
) -> None:
    """Each unanswered lead to the next consultant on duty (never back to the same one)."""
    on_duty: dict[int, list[User]] = defaultdict(list)
    for user in User.objects.filter(
        dealer_id__in=list(policies),
        role=Role.SALES_CONSULTANT,
        is_active=True,
        on_duty=True,
    ).order_by("pk"):
        if user.dealer_id is not None:
            on_duty[user.dealer_id].append(user)
    moved: list[Lead] = []
    events: list[LeadEvent] = []
    follows: dict[tuple[int | None, int], list[int]] = defaultdict(list)
    for lead in leads:
        policy = policies[lead.dealer_id]
        candidates = [u for u in on_duty[lead.dealer_id] if u.pk != lead.consultant_id]
        if not candidates:
            continue
        chosen = _next_in_turn(candidates, policy.last_assigned_id)
        policy.last_assigned_id = chosen.pk
        previous = lead.consultant
        follows[(lead.consultant_id, chosen.pk)].append(lead.customer_id)
        lead.consultant = chosen
        lead.assigned_at = now
        lead.first_response_due_at = first_response_deadline(policy=policy, start=now)
        lead.response_flagged_at = None
        lead.updated_at = now
        moved.append(lead)
        events.append(
            LeadEvent(
                dealer_id=lead.dealer_id,
                lead=lead,
                kind=LeadEvent.Kind.AUTO_REASSIGNED,
                from_value=str(previous) if previous is not None else "",
                to_value=str(chosen),
                at=now,
            )
        )
    if not moved:
        return
    Lead.objects.bulk_update(
        moved,
        ["consultant", "assigned_at", "first_response_due_at", "response_flagged_at", "updated_at"],
    )
    LeadEvent.objects.bulk_create(events)
    for policy in policies.values():
        SalesPolicy.objects.filter(pk=policy.pk).update(last_assigned_id=policy.last_assigned_id)
    for (previous_id, new_id), customer_ids in follows.items():
        condition = Q(assigned_consultant__isnull=True)
        if previous_id is not None:
            condition |= Q(assigned_consultant_id=previous_id)
        Customer.objects.filter(condition, pk__in=customer_ids).update(
            assigned_consultant_id=new_id, version=F("version") + 1, updated_at=now
        )
    for lead in moved:
        notice_create(
            dealer_id=lead.dealer_id,
            recipient_ids=[lead.consultant_id or 0],
            title=_("Lead passed to you (no first response in time): %(name)s")
            % {"name": lead.customer.name},
            link=lead_url(lead.pk),
            source_kind=NOTICE_SOURCE,
            source_id=str(lead.pk),
            reason=f"auto:{lead.consultant_id}:{int(now.timestamp())}"[:40],
        )
