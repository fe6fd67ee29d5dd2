"""The worklist's entries on the customer timeline: tasks, by when they were created."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from dealercrm.customers.timeline import ProviderQuery, TimelineEntry

from .models import Task, TaskStatus
from .outcomes import outcome_display


def _tasks(dealer_id: int, customer_id: int, before: datetime.datetime | None) -> QuerySet:
    rows = Task.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
    if before is not None:
        rows = rows.filter(created_at__lt=before)
    return rows.select_related("assignee").order_by("-created_at", "-id")


_TASKS = ProviderQuery(_tasks)


def task_timeline(customer, *, limit: int, before: datetime.datetime | None) -> list[TimelineEntry]:  # noqa: ANN001
    """Timeline provider of the worklist: one query, the assignee selected with the tasks."""
    entries = []
    for task in _TASKS(customer, limit=limit, before=before):
        state = task.get_status_display()
        entries.append(
            TimelineEntry(
                occurred_at=task.created_at,
                kind="task",
                icon="checkbox" if task.status == TaskStatus.DONE else "clipboard-list",
                title=_("Task: %(title)s (%(state)s)") % {"title": task.title, "state": state},
                # A closed task shows how it went; an open one what is to be done.
                body=outcome_display(task.outcome) or task.body,
                actor=str(task.assignee) if task.assignee else "",
                url=reverse("worklist:detail", args=[task.pk]),
                source="worklist",
            )
        )
    return entries
