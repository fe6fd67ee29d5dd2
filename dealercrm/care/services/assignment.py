"""Who gets a care task: by the rule's assignee role, never an inactive or departed person.

- consultant: the customer's assigned consultant;
- advisor: the advisor of the car's latest repair order (else a care specialist);
- care specialist: the dealer's active care specialists in turn, by customer id;
- otherwise None: the dealer's managers hand the task out.

A consultant who left is replaced by a care specialist, then None, like an advisor.
`care_tasks_reassign_departed` moves the open care tasks of people who left the same way,
with one UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import Case, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Mod
from django.db.models.lookups import Exact

from dealercrm.core.models import User
from dealercrm.core.permissions import Role

from ..rules.base import Assignee

TASK_SOURCE_KIND = "care.occurrence"


def active_staff(dealer_id: int) -> dict[int, str]:
    """The dealer's active staff: user id → role (one query)."""
    return dict(User.objects.filter(dealer_id=dealer_id, is_active=True).values_list("id", "role"))


def care_specialists(staff: dict[int, str]) -> list[int]:
    return sorted(uid for uid, role in staff.items() if role == Role.CARE_SPECIALIST)


def _in_turn(specialists: Sequence[int], customer_id: int) -> int | None:
    return specialists[customer_id % len(specialists)] if specialists else None


def assignees_for(
    *,
    dealer_id: int,
    role: str,
    rows: Sequence[tuple[int, int, int | None, dict[str, Any]]],
    staff: dict[int, str] | None = None,
) -> dict[int, int | None]:
    """occurrence id → user id (or None) for `rows` = (occurrence id, customer id, vehicle id,
    detail); at most two queries for the whole batch."""
    from dealercrm.customers.models import Customer
    from dealercrm.service.models import RepairOrder
    from dealercrm.vehicles.models import Vehicle

    staff = active_staff(dealer_id) if staff is None else staff
    specialists = care_specialists(staff)
    chosen: dict[int, int | None] = {}
    if role == Assignee.CONSULTANT:
        customer_ids = sorted({cid for _o, cid, _v, _d in rows})
        consultants: dict[int, int | None] = {}
        for start in range(0, len(customer_ids), 900):
            consultants.update(
                Customer.objects.filter(
                    dealer_id=dealer_id, pk__in=customer_ids[start : start + 900]
                ).values_list("id", "assigned_consultant_id")
            )
        for oid, cid, _vid, _detail in rows:
            person = consultants.get(cid)
            chosen[oid] = person if person in staff else _in_turn(specialists, cid)
    elif role == Assignee.ADVISOR:
        need = sorted({vid for _o, _c, vid, d in rows if vid and not (d or {}).get("advisor_id")})
        latest: dict[int, int | None] = {}
        for start in range(0, len(need), 900):
            last_ro = RepairOrder.objects.filter(
                dealer_id=dealer_id, vehicle_id=OuterRef("pk"), advisor__isnull=False
            ).order_by("-opened_at", "-id")
            latest.update(
                Vehicle.objects.filter(dealer_id=dealer_id, pk__in=need[start : start + 900])
                .annotate(advisor=Subquery(last_ro.values("advisor_id")[:1]))
                .values_list("id", "advisor")
            )
        for oid, cid, vid, detail in rows:
            person = (detail or {}).get("advisor_id") or latest.get(vid or 0)
            chosen[oid] = person if person in staff else _in_turn(specialists, cid)
    elif role == Assignee.CARE_SPECIALIST:
        for oid, cid, _vid, _detail in rows:
            chosen[oid] = _in_turn(specialists, cid)
    else:
        chosen = {oid: None for oid, *_rest in rows}
    return chosen


@transaction.atomic
def care_tasks_reassign_departed(dealer_id: int) -> int:
    """Hand the open care tasks of people who are no longer active staff of the dealer to the
    fallback (the care specialists in turn by customer, else nobody: the managers' pile), in
    one UPDATE. Returns how many tasks moved."""
    from dealercrm.worklist.models import Task, TaskStatus

    staff = active_staff(dealer_id)
    specialists = care_specialists(staff)
    departed = Task.objects.filter(
        dealer_id=dealer_id,
        source_kind=TASK_SOURCE_KIND,
        status=TaskStatus.OPEN,
        assignee__isnull=False,
    ).filter(~Q(assignee_id__in=list(staff)) if staff else Q())
    if specialists:
        turn = Mod("customer_id", len(specialists))
        target = Case(
            *(When(Exact(turn, index), then=Value(uid)) for index, uid in enumerate(specialists)),
            output_field=IntegerField(),
        )
        return departed.update(assignee_id=target)
    return departed.update(assignee_id=None)


__all__ = [
    "TASK_SOURCE_KIND",
    "active_staff",
    "assignees_for",
    "care_specialists",
    "care_tasks_reassign_departed",
]
