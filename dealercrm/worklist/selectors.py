"""Reads of the worklist: a person's open tasks, the dealer's tasks for managers, one task by id.

Every read starts from `visible_tasks(user)`: the active dealer scope narrowed to the user's own
dealer (or brand, for network roles), and to the tasks assigned to them unless they manage the
dealer's tasks. A look-up by id answers 404 alike for a missing task, another dealer's and a
colleague's.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.utils import timezone

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm, Role, permissions_for_role

from .models import Task, TaskQuerySet, TaskStatus

PAGE_SIZE = 50
# Filter value of the managers' page for tasks nobody has yet.
UNASSIGNED = "none"


def visible_tasks(user: User) -> TaskQuerySet:
    """The tasks this user may see and work, within the active dealer scope."""
    qs: TaskQuerySet = Task.objects.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.role == Role.SYSTEM_ADMIN:
        pass
    elif user.has_perm(Perm.VIEW_NETWORK) and user.brand_id:
        qs = qs.filter(dealer__brand_id=user.brand_id)
    elif user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    else:
        return qs.none()
    if not user.has_perm(Perm.MANAGE_TASKS):
        qs = qs.for_assignee(user.pk)
    return qs


def get_task_for_user(user: User, task_id: int | str) -> Task:
    """The task, or Http404 alike for missing, another dealer's or a colleague's."""
    try:
        return (
            visible_tasks(user)
            .select_related("customer", "assignee", "completed_by")
            .get(pk=int(task_id))
        )
    except (Task.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


@dataclass(frozen=True)
class TaskFilters:
    """What the task lists can be narrowed by. Unknown values mean "the default"."""

    status: str = TaskStatus.OPEN  # "" = every status
    assignee: str = ""  # a user id, UNASSIGNED, or "" for anyone

    @classmethod
    def from_params(cls, params) -> TaskFilters:  # noqa: ANN001 — a QueryDict or a dict
        status = params.get("status", TaskStatus.OPEN)
        if status not in TaskStatus.values and status != "":
            status = TaskStatus.OPEN
        assignee = (params.get("assignee") or "").strip()
        if assignee != UNASSIGNED and not assignee.isdigit():
            assignee = ""
        return cls(status=status, assignee=assignee)

    @property
    def assignee_id(self) -> int | None:
        return int(self.assignee) if self.assignee.isdigit() else None


def _ordered(qs: TaskQuerySet, status: str) -> TaskQuerySet:
    # Open work: what is due first; closed work: what was closed last.
    if status == TaskStatus.OPEN:
        return qs.order_by("due_at", "id")
    return qs.order_by("-completed_at", "-created_at", "-id")


def _filtered(qs: TaskQuerySet, filters: TaskFilters) -> TaskQuerySet:
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.assignee == UNASSIGNED:
        qs = qs.filter(assignee__isnull=True)
    elif filters.assignee_id:
        qs = qs.filter(assignee_id=filters.assignee_id)
    return _ordered(qs.select_related("customer", "assignee", "completed_by"), filters.status)


def my_tasks(
    user: User,
    filters: TaskFilters | None = None,
    *,
    page: int | str = 1,
    per_page: int = PAGE_SIZE,
) -> Page:
    """One page of the user's own tasks (open ones by due time): a count and the rows."""
    filters = TaskFilters(status=(filters or TaskFilters()).status)
    qs = _filtered(visible_tasks(user).for_assignee(user.pk), filters)
    return Paginator(qs, per_page).get_page(page)


def dealer_tasks(
    user: User,
    filters: TaskFilters | None = None,
    *,
    page: int | str = 1,
    per_page: int = PAGE_SIZE,
) -> Page:
    """One page of every task the user manages, filtered by assignee and status."""
    qs = _filtered(visible_tasks(user), filters or TaskFilters())
    return Paginator(qs, per_page).get_page(page)


@dataclass(frozen=True)
class TaskCounts:
    open: int = 0
    overdue: int = 0


def task_counts(user: User, *, mine: bool, now: datetime.datetime | None = None) -> TaskCounts:
    """Open and overdue counts for the page header, in one query."""
    qs = visible_tasks(user).open()
    if mine:
        qs = qs.for_assignee(user.pk)
    counts = qs.aggregate(
        open=Count("id"), overdue=Count("id", filter=Q(due_at__lt=now or timezone.now()))
    )
    return TaskCounts(open=counts["open"] or 0, overdue=counts["overdue"] or 0)


def assignee_choices(user: User) -> list[User]:
    """Colleagues a manager can hand a task to: active staff of the dealer who work tasks."""
    if not user.dealer_id:
        return []
    roles = [role for role in Role if Perm.WORK_TASKS in permissions_for_role(role)]
    return list(
        User.objects.filter(dealer_id=user.dealer_id, is_active=True, role__in=roles).order_by(
            "display_name", "username"
        )
    )


# --- notices: the workspace panel -------------------------------------------------------------

NOTICE_PANEL_LIMIT = 8


def unread_notices(user: User, *, limit: int = NOTICE_PANEL_LIMIT) -> tuple[list, int]:
    """The user's newest unread notices and how many there are. Two queries at most."""
    from .models import Notice

    if not user.is_authenticated:
        return [], 0
    # OEM users (no dealer) get notices about their brand's dealers (complaints escalated to the
    # brand); the request's scope already limits them to those dealers.
    qs = Notice.objects.for_recipient(user.pk).unread()
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    rows = list(qs.order_by("-created_at", "-id")[:limit])
    return rows, len(rows) if len(rows) < limit else qs.count()


def notices_panel(user: User, *, today: datetime.date):  # noqa: ANN201
    """Workspace panel (registered in apps.py): the user's unread notices; none when none."""
    from dealercrm.core.workspace_panels import WorkspacePanel

    rows, count = unread_notices(user)
    if not count:
        return None
    return WorkspacePanel(
        template="worklist/_notices_panel.html",
        context={"notices": rows, "count": count},
        order=5,
    )
