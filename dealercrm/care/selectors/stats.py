"""The care team's figures for managers: per person and per rule, over the occurrences due in a
period — due, completed, completed on time, overdue and still open — one grouped query each."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, F, Q
from django.utils.translation import gettext as _

from ..models import CareOccurrence, CareRuleCode, OccurrenceStatus


@dataclass
class CareFigures:
    key: str
    label: str
    due: int = 0
    completed: int = 0
    on_time: int = 0
    overdue_open: int = 0

    @property
    def completion_rate(self) -> float | None:
        return round(100 * self.completed / self.due, 1) if self.due else None

    @property
    def on_time_rate(self) -> float | None:
        return round(100 * self.on_time / self.due, 1) if self.due else None

    @property
    def overdue_rate(self) -> float | None:
        return round(100 * self.overdue_open / self.due, 1) if self.due else None


@dataclass
class CareStats:
    start: datetime.date
    end: datetime.date
    by_person: list[CareFigures]
    by_rule: list[CareFigures]
    total: CareFigures


def _measures(today: datetime.date) -> dict:
    done = Q(status=OccurrenceStatus.DONE)
    return {
        "due": Count("id"),
        "completed": Count("id", filter=done),
        # Closed on or before the day it was due (the dealer's day: the server's time zone).
        "on_time": Count("id", filter=done & Q(closed_at__date__lte=F("due_on"))),
        "overdue_open": Count("id", filter=Q(status=OccurrenceStatus.OPEN, due_on__lt=today)),
    }


def care_stats(
    dealer_id: int, *, start: datetime.date, end: datetime.date, today: datetime.date
) -> CareStats:
    """Care tasks (occurrences with a task, not cancelled) due from `start` to `end`: two
    queries, whatever the number of tasks."""
    base = CareOccurrence.objects.filter(
        dealer_id=dealer_id, task__isnull=False, due_on__gte=start, due_on__lte=end
    ).exclude(status=OccurrenceStatus.CANCELLED)
    measures = _measures(today)
    by_person = []
    person_rows = (
        base.values("task__assignee_id", "task__assignee__display_name", "task__assignee__username")
        .annotate(**measures)
        .order_by()
    )
    for row in person_rows:
        name = row["task__assignee__display_name"] or row["task__assignee__username"]
        by_person.append(
            CareFigures(
                key=str(row["task__assignee_id"] or "none"),
                label=name or _("Nobody yet"),
                **{k: row[k] for k in measures},
            )
        )
    by_person.sort(key=lambda f: (f.key == "none", f.label))
    labels = dict(CareRuleCode.choices)
    by_rule = [
        CareFigures(
            key=row["rule"],
            label=str(labels.get(row["rule"], row["rule"])),
            **{k: row[k] for k in measures},
        )
        for row in base.values("rule").annotate(**measures).order_by()
    ]
    by_rule.sort(key=lambda f: f.label)
    total = CareFigures(key="total", label=_("All"))
    for figures in by_rule:
        total.due += figures.due
        total.completed += figures.completed
        total.on_time += figures.on_time
        total.overdue_open += figures.overdue_open
    return CareStats(start=start, end=end, by_person=by_person, by_rule=by_rule, total=total)
