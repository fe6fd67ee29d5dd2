"""Reads of care tasks: the worklist with its filters, one task by occurrence id, the calendar.

A care task is an occurrence with its worklist.Task. Every read starts from
`visible_care_tasks(user)`: the user's dealer, and only the tasks assigned to them unless they
manage the dealer's care (MANAGE_CARE). A look-up by id answers 404 alike for a missing
occurrence, another dealer's and a colleague's.
"""

from __future__ import annotations

import calendar
import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm, Role, permissions_for_role
from dealercrm.customers.models import CustomerPhone
from dealercrm.worklist.models import TaskStatus

from ..models import CareOccurrence, CareRuleCode

PAGE_SIZE = 50
UNASSIGNED = "none"
DUE_CHOICES = ("overdue", "today", "week", "later")
STATUS_CHOICES = ("open", "done", "all")


def _dealer_id(user: User) -> int | None:
    return user.dealer_id if user.is_authenticated and user.is_active else None


def can_manage(user: User) -> bool:
    return user.has_perm(Perm.MANAGE_CARE)


def visible_care_tasks(user: User, *, dealer_id: int | None = None) -> QuerySet:
    """Occurrences that have a task, of the user's dealer (`dealer_id` for a network user who
    manages care), only their own unless they manage the dealer's care."""
    qs = CareOccurrence.objects.filter(task__isnull=False)
    own = _dealer_id(user)
    if own:
        qs = qs.filter(dealer_id=own)
    elif dealer_id and can_manage(user):
        qs = qs.filter(dealer_id=dealer_id)
    elif not (user.is_authenticated and user.role == Role.SYSTEM_ADMIN):
        return qs.none()
    if not can_manage(user):
        qs = qs.filter(task__assignee_id=user.pk)
    return qs


def get_care_task_for_user(user: User, occurrence_id: int | str) -> CareOccurrence:
    try:
        return (
            visible_care_tasks(user)
            .select_related("task", "task__assignee", "customer", "vehicle", "vehicle__car_model")
            .get(pk=int(occurrence_id))
        )
    except (CareOccurrence.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


@dataclass(frozen=True)
class CareTaskFilters:
    """What the care worklist can be narrowed by; unknown values mean "the default"."""

    rule: str = ""
    due: str = ""  # overdue / today / week / later, "" = any
    day: datetime.date | None = None  # one due day (from the calendar)
    status: str = "open"  # open / done / all
    q: str = ""
    assignee: str = ""  # managers: a user id or UNASSIGNED; "" = mine, "all" = everyone

    @classmethod
    def from_params(cls, params) -> CareTaskFilters:  # noqa: ANN001 — QueryDict or dict
        rule = params.get("rule") or ""
        if rule not in CareRuleCode.values:
            rule = ""
        due = params.get("due") or ""
        if due not in DUE_CHOICES:
            due = ""
        status = params.get("status") or "open"
        if status not in STATUS_CHOICES:
            status = "open"
        day = None
        if params.get("day"):
            try:
                day = datetime.date.fromisoformat(params.get("day"))
            except ValueError:
                day = None
        assignee = (params.get("assignee") or "").strip()
        if assignee not in (UNASSIGNED, "all") and not assignee.isdigit():
            assignee = ""
        return cls(
            rule=rule,
            due=due,
            day=day,
            status=status,
            q=(params.get("q") or "").strip()[:50],
            assignee=assignee,
        )


def _local_day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def filtered_care_tasks(
    user: User, filters: CareTaskFilters, *, today: datetime.date | None = None
) -> QuerySet:
    today = today or timezone.localdate()
    qs = visible_care_tasks(user)
    if filters.assignee and can_manage(user):
        if filters.assignee == UNASSIGNED:
            qs = qs.filter(task__assignee__isnull=True)
        elif filters.assignee.isdigit():
            qs = qs.filter(task__assignee_id=int(filters.assignee))
    elif not filters.assignee:
        qs = qs.filter(task__assignee_id=user.pk)
    if filters.rule:
        qs = qs.filter(rule=filters.rule)
    if filters.status == "open":
        qs = qs.filter(task__status=TaskStatus.OPEN)
    elif filters.status == "done":
        qs = qs.exclude(task__status=TaskStatus.OPEN)
    start_today = _local_day_start(today)
    start_tomorrow = _local_day_start(today + datetime.timedelta(days=1))
    end_week = _local_day_start(today + datetime.timedelta(days=7 - today.weekday()))
    if filters.due == "overdue":
        qs = qs.filter(task__due_at__lt=timezone.now(), task__status=TaskStatus.OPEN)
    elif filters.due == "today":
        qs = qs.filter(task__due_at__gte=start_today, task__due_at__lt=start_tomorrow)
    elif filters.due == "week":
        qs = qs.filter(task__due_at__gte=start_today, task__due_at__lt=end_week)
    elif filters.due == "later":
        qs = qs.filter(task__due_at__gte=end_week)
    if filters.day:
        qs = qs.filter(
            task__due_at__gte=_local_day_start(filters.day),
            task__due_at__lt=_local_day_start(filters.day + datetime.timedelta(days=1)),
        )
    if filters.q:
        digits = "".join(ch for ch in filters.q if ch.isdigit())
        match = Q(customer__name__icontains=filters.q)
        if len(digits) >= 4:
            phones = CustomerPhone.objects.filter(
                dealer_id=OuterRef("dealer_id"),
                customer_id=OuterRef("customer_id"),
                number__endswith=digits,
            )
            match |= Q(Exists(phones))
        vehicles = Q(vehicle__plate__icontains=filters.q) | Q(vehicle__vin__iendswith=filters.q)
        qs = qs.filter(match | vehicles)
    return qs


def care_task_page(
    user: User,
    filters: CareTaskFilters,
    *,
    page: int | str = 1,
    per_page: int = PAGE_SIZE,
) -> Page:
    """One page of the worklist: open ones by due time, closed ones last closed first."""
    qs = filtered_care_tasks(user, filters).select_related(
        "task", "task__assignee", "customer", "vehicle", "vehicle__car_model"
    )
    if filters.status == "open":
        qs = qs.order_by("task__due_at", "id")
    else:
        qs = qs.order_by("-task__due_at", "-id")
    page_obj = Paginator(qs, per_page).get_page(page)
    _attach_primary_phones(list(page_obj.object_list))
    return page_obj


def _attach_primary_phones(rows: list[CareOccurrence]) -> None:
    """Each row's customer gets `care_phone`: the number to dial (primary first), in one query."""
    customer_ids = {row.customer_id for row in rows}
    best: dict[int, CustomerPhone] = {}
    if customer_ids:
        for phone in CustomerPhone.objects.filter(customer_id__in=customer_ids).order_by(
            "customer_id", "-is_primary", "id"
        ):
            best.setdefault(phone.customer_id, phone)
    for row in rows:
        row.customer.care_phone = best.get(row.customer_id)  # type: ignore[attr-defined]


def care_assignee_choices(user: User) -> list[User]:
    """Staff a manager can look at or hand care tasks to: active staff who work care tasks."""
    if not user.dealer_id:
        return []
    roles = [role for role in Role if Perm.WORK_CARE in permissions_for_role(role)]
    return list(
        User.objects.filter(dealer_id=user.dealer_id, is_active=True, role__in=roles).order_by(
            "display_name", "username"
        )
    )


@dataclass
class CalendarDay:
    day: datetime.date
    in_month: bool
    total: int = 0
    by_rule: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass
class CareCalendar:
    month: datetime.date  # the first of the month
    weeks: list[list[CalendarDay]]
    previous: datetime.date
    next: datetime.date
    total: int
    series: list[list]  # [["2027-03-05", n], …] for an ECharts calendar heatmap


def care_calendar(
    user: User, *, month: datetime.date, team: bool, today: datetime.date | None = None
) -> CareCalendar:
    """Open care tasks of the month by due day and rule: one grouped query."""
    first = month.replace(day=1)
    days_in_month = calendar.monthrange(first.year, first.month)[1]
    after = first + datetime.timedelta(days=days_in_month)
    qs = visible_care_tasks(user).filter(
        task__status=TaskStatus.OPEN,
        task__due_at__gte=_local_day_start(first),
        task__due_at__lt=_local_day_start(after),
    )
    if not (team and can_manage(user)):
        qs = qs.filter(task__assignee_id=user.pk)
    counts: dict[datetime.date, dict[str, int]] = defaultdict(dict)
    rows = (
        qs.annotate(day=TruncDate("task__due_at"))
        .values("day", "rule")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        day = row["day"]
        if isinstance(day, datetime.datetime):
            day = day.date()
        counts[day][row["rule"]] = counts[day].get(row["rule"], 0) + row["n"]
    labels = dict(CareRuleCode.choices)
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
        cells = []
        for day in week:
            per_rule = counts.get(day, {}) if day.month == first.month else {}
            cells.append(
                CalendarDay(
                    day=day,
                    in_month=day.month == first.month,
                    total=sum(per_rule.values()),
                    by_rule=sorted(
                        ((code, str(labels.get(code, code)), n) for code, n in per_rule.items()),
                        key=lambda item: -item[2],
                    ),
                )
            )
        weeks.append(cells)
    previous = (first - datetime.timedelta(days=1)).replace(day=1)
    series = [[day.isoformat(), sum(v.values())] for day, v in sorted(counts.items())]
    return CareCalendar(
        month=first,
        weeks=weeks,
        previous=previous,
        next=after,
        total=sum(sum(v.values()) for v in counts.values()),
        series=series,
    )


def my_due_care_tasks(user: User, *, today: datetime.date, limit: int = 8) -> tuple[list, int]:
    """The user's open care tasks due today or overdue: the first few and how many (2 queries)."""
    end = _local_day_start(today + datetime.timedelta(days=1))
    qs = visible_care_tasks(user).filter(
        task__assignee_id=user.pk, task__status=TaskStatus.OPEN, task__due_at__lt=end
    )
    rows = list(qs.select_related("task", "customer").order_by("task__due_at", "id")[:limit])
    return rows, len(rows) if len(rows) < limit else qs.count()
