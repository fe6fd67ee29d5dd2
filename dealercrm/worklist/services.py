"""Writes of the worklist: create a task, complete or cancel it."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User

from .models import Task, TaskStatus


def task_create(
    *,
    dealer_id: int,
    customer_id: int,
    kind: str,
    title: str,
    body: str = "",
    assignee_id: int | None = None,
    due_at: datetime.datetime | None = None,
    source_kind: str = "",
    source_id: str = "",
) -> Task:
    """A task for `assignee_id` (None: for the dealer's managers to hand out)."""
    return Task.objects.create(
        dealer_id=dealer_id,
        customer_id=customer_id,
        kind=kind,
        title=title[:200],
        body=body,
        assignee_id=assignee_id,
        due_at=due_at or timezone.now(),
        source_kind=source_kind,
        source_id=source_id,
    )


@transaction.atomic
def task_complete(*, actor: User, task: Task, outcome: str = "") -> Task:
    """Mark an open task done with what came of it."""
    if task.status != TaskStatus.OPEN:
        raise ValidationError({"status": _("This task is already closed.")})
    task.status = TaskStatus.DONE
    task.outcome = outcome[:200]
    task.completed_at = timezone.now()
    task.completed_by = actor
    task.save(update_fields=["status", "outcome", "completed_at", "completed_by"])
    return task


@transaction.atomic
def task_cancel(*, actor: User, task: Task, outcome: str = "") -> Task:
    if task.status != TaskStatus.OPEN:
        raise ValidationError({"status": _("This task is already closed.")})
    task.status = TaskStatus.CANCELLED
    task.outcome = outcome[:200]
    task.completed_at = timezone.now()
    task.completed_by = actor
    task.save(update_fields=["status", "outcome", "completed_at", "completed_by"])
    return task
