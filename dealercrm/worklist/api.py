"""The worklist API (mounted at /api/worklist/): my tasks, one task, completing it.

A task is visible to the person it is assigned to; a user who manages the dealer's tasks sees
every task of the dealer and may list them by assignee. Everyone else's tasks, and another
dealer's, answer 404.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm

from . import selectors, services
from .models import Task, TaskStatus

router = Router(tags=["worklist"])


class StaffOut(Schema):
    id: int
    name: str


class TaskOut(Schema):
    id: int
    dealer_id: int
    customer_id: int
    customer_name: str
    assignee: StaffOut | None
    kind: str
    title: str
    body: str = Field(description="What to say or do: a call script, the reply to answer")
    due_at: datetime.datetime
    is_overdue: bool
    status: str
    outcome: str
    source_kind: str
    source_id: str
    created_at: datetime.datetime
    completed_at: datetime.datetime | None
    completed_by: StaffOut | None


class TaskListQuery(Schema):
    status: str = Field(default=TaskStatus.OPEN, description='open, done, cancelled; "" for all')
    assignee: str = Field(
        default="",
        description='Managers only: a user id, "none" for unassigned tasks, "all" for everyone; '
        "default: my own tasks",
    )
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class TaskListOut(Schema):
    count: int
    items: list[TaskOut]


class CompleteIn(Schema):
    outcome: str = Field(default="", max_length=200, description="What came of it")


def _staff(user: Any) -> dict[str, Any] | None:
    return {"id": user.pk, "name": str(user)} if user is not None else None


def _task_out(task: Task, now: datetime.datetime) -> dict[str, Any]:
    return {
        "id": task.pk,
        "dealer_id": task.dealer_id,
        "customer_id": task.customer_id,
        "customer_name": task.customer.name,
        "assignee": _staff(task.assignee),
        "kind": task.kind,
        "title": task.title,
        "body": task.body,
        "due_at": task.due_at,
        "is_overdue": task.status == TaskStatus.OPEN and task.due_at < now,
        "status": task.status,
        "outcome": task.outcome,
        "source_kind": task.source_kind,
        "source_id": task.source_id,
        "created_at": task.created_at,
        "completed_at": task.completed_at,
        "completed_by": _staff(task.completed_by),
    }


@router.get("/tasks", response=TaskListOut, summary="My tasks, due first")
@api_permission(Perm.WORK_TASKS)
def task_list(request: HttpRequest, params: Query[TaskListQuery]) -> dict[str, Any]:
    user = request.user
    filters = selectors.TaskFilters.from_params(
        {"status": params.status, "assignee": "" if params.assignee == "all" else params.assignee}
    )
    if params.assignee:
        if not user.has_perm(Perm.MANAGE_TASKS):
            raise PermissionDenied(_("Only a manager of the dealer's tasks sees others' tasks."))
        page = selectors.dealer_tasks(user, filters, per_page=params.limit)
    else:
        page = selectors.my_tasks(user, filters, per_page=params.limit)
    # The selectors order and filter; the API pages by offset like the other lists.
    qs = page.paginator.object_list
    now = timezone.now()
    items = [_task_out(t, now) for t in qs[params.offset : params.offset + params.limit]]
    return {"count": page.paginator.count, "items": items}


@router.get("/tasks/{task_id}", response=TaskOut, summary="A task")
@api_permission(Perm.WORK_TASKS)
def task_get(request: HttpRequest, task_id: int) -> dict[str, Any]:
    return _task_out(selectors.get_task_for_user(request.user, task_id), timezone.now())


@router.post("/tasks/{task_id}/complete", response=TaskOut, summary="Complete a task")
@api_permission(Perm.WORK_TASKS)
def task_complete(request: HttpRequest, task_id: int, payload: CompleteIn) -> dict[str, Any]:
    """Mark an open task done with its outcome (a closed one answers 422)."""
    task = selectors.get_task_for_user(request.user, task_id)
    services.task_complete(actor=request.user, task=task, outcome=payload.outcome)
    return _task_out(selectors.get_task_for_user(request.user, task_id), timezone.now())
