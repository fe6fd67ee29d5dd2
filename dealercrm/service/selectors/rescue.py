"""Reads of roadside rescue: the list (open first), one rescue, durations and their averages."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from dealercrm.core.models import User
from dealercrm.core.permissions import Role

from ..models import RescueCall, RescueStatus

OPEN_STATUSES = (RescueStatus.CALLED, RescueStatus.DISPATCHED, RescueStatus.ARRIVED)
AVERAGE_DAYS = 90


def rescue_list(*, status: str = "") -> QuerySet[RescueCall]:
    """The scope's rescues, the open ones first, newest call first."""
    qs = RescueCall.objects.select_related("customer", "vehicle", "responder", "dealer").annotate(
        is_open=Case(
            When(status__in=OPEN_STATUSES, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
    )
    if status == "open":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status in RescueStatus.values:
        qs = qs.filter(status=status)
    return qs.order_by("is_open", "-called_at", "-id")


def get_rescue_for_user(user: User, rescue_id: int) -> RescueCall:
    """The rescue, or 404 when it is another dealer's (the scoped manager) or missing."""
    rescue = (
        RescueCall.objects.select_related(
            "customer",
            "vehicle",
            "vehicle__car_model",
            "responder",
            "repair_order",
            "follow_up_task",
        )
        .filter(pk=rescue_id)
        .first()
    )
    if rescue is None:
        raise Http404
    return rescue


def durations(rescue: Any) -> dict[str, datetime.timedelta | None]:
    """call → dispatched, dispatched → arrived, arrived → done, and call → done."""

    def span(a: datetime.datetime | None, b: datetime.datetime | None) -> datetime.timedelta | None:
        return b - a if a and b else None

    return {
        "to_dispatch": span(rescue.called_at, rescue.dispatched_at),
        "to_arrive": span(rescue.dispatched_at, rescue.arrived_at),
        "on_site": span(rescue.arrived_at, rescue.done_at),
        "total": span(rescue.called_at, rescue.done_at),
    }


@dataclass
class Averages:
    count: int
    to_dispatch: datetime.timedelta | None
    to_arrive: datetime.timedelta | None
    on_site: datetime.timedelta | None
    total: datetime.timedelta | None


def rescue_averages(*, days: int = AVERAGE_DAYS, now: datetime.datetime | None = None) -> Averages:
    """Average durations of the rescues done in the last `days` days (one query; rescues are a
    few a day, so the times are averaged here, the same on every engine)."""
    since = (now or timezone.now()) - datetime.timedelta(days=days)
    rows = list(
        RescueCall.objects.filter(status=RescueStatus.DONE, called_at__gte=since).values_list(
            "called_at", "dispatched_at", "arrived_at", "done_at"
        )
    )
    sums: dict[str, list[datetime.timedelta]] = {
        "to_dispatch": [],
        "to_arrive": [],
        "on_site": [],
        "total": [],
    }
    for called, dispatched, arrived, done in rows:
        for key, (a, b) in (
            ("to_dispatch", (called, dispatched)),
            ("to_arrive", (dispatched, arrived)),
            ("on_site", (arrived, done)),
            ("total", (called, done)),
        ):
            if a and b:
                sums[key].append(b - a)

    def mean(values: list[datetime.timedelta]) -> datetime.timedelta | None:
        return sum(values, datetime.timedelta()) / len(values) if values else None

    return Averages(len(rows), **{key: mean(values) for key, values in sums.items()})


def format_duration(value: datetime.timedelta | None) -> str:
    """ "1:05" (hours:minutes), or "—"."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def technicians(dealer_id: int) -> QuerySet[User]:
    """Staff of the dealer who can be sent out (service advisors and the workshop's people)."""
    return User.objects.filter(
        dealer_id=dealer_id,
        is_active=True,
        role__in=[Role.SERVICE_ADVISOR, Role.DEALER_MANAGER, Role.CARE_SPECIALIST],
    ).order_by("display_name", "username")
