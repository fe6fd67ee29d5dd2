"""Writes of the worklist: create a task, hand it to someone, complete or cancel it.

Other apps learn that a task of theirs was closed through completion hooks, registered per
`source_kind` in their AppConfig.ready(): the worklist never imports the apps that create tasks
(dependencies point one way), yet closing a phone-call task can still mark its message
delivered, in the same transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User

from .models import Notice, Task, TaskStatus
from .outcomes import OUTCOME_MAX_LENGTH

TaskHook = Callable[[Task], None]

_completion_hooks: dict[str, list[TaskHook]] = {}


def register_task_completion_hook(source_kind: str, hook: TaskHook) -> TaskHook:
    """Call `hook(task)` whenever a task with this `source_kind` is completed or cancelled.

    The hook runs inside the closing transaction, after the task is saved (task.status,
    task.outcome are the new values): if it raises, the task stays open. Registering the same
    hook again does nothing.
    """
    hooks = _completion_hooks.setdefault(source_kind, [])
    if hook not in hooks:
        hooks.append(hook)
    return hook


def unregister_task_completion_hook(source_kind: str, hook: TaskHook) -> None:
    hooks = _completion_hooks.get(source_kind, [])
    if hook in hooks:
        hooks.remove(hook)


def _run_completion_hooks(task: Task) -> None:
    for hook in tuple(_completion_hooks.get(task.source_kind, ())):
        hook(task)


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


def _close(*, actor: User, task: Task, status: str, outcome: str) -> Task:
    # Re-read the row locked: two people closing the same task at once close it once.
    current = Task.objects.select_for_update().only("status").get(pk=task.pk)
    if current.status != TaskStatus.OPEN:
        raise ValidationError({"status": _("This task is already closed.")})
    task.status = status
    task.outcome = outcome[:OUTCOME_MAX_LENGTH]
    task.completed_at = timezone.now()
    task.completed_by = actor
    task.save(update_fields=["status", "outcome", "completed_at", "completed_by"])
    _run_completion_hooks(task)
    return task


@transaction.atomic
def task_complete(*, actor: User, task: Task, outcome: str = "") -> Task:
    """Mark an open task done with what came of it.

    `outcome` is "<result>: <note>", a bare result ("reached") or a free note; see
    worklist.outcomes. The source's completion hooks run in the same transaction.
    """
    return _close(actor=actor, task=task, status=TaskStatus.DONE, outcome=outcome)


@transaction.atomic
def task_cancel(*, actor: User, task: Task, outcome: str = "") -> Task:
    """Close an open task without doing it (the source's hooks run, seeing status cancelled)."""
    return _close(actor=actor, task=task, status=TaskStatus.CANCELLED, outcome=outcome)


@transaction.atomic
def task_assign(*, actor: User, task: Task, assignee: User | None) -> Task:
    """Hand an open task to a colleague of its dealer (None: back to the managers' pile)."""
    if task.status != TaskStatus.OPEN:
        raise ValidationError({"status": _("This task is already closed.")})
    if assignee is not None and assignee.dealer_id != task.dealer_id:
        raise ValidationError({"assignee": _("Choose someone of this task's dealer.")})
    task.assignee = assignee
    task.save(update_fields=["assignee"])
    return task


@dataclass(frozen=True)
class NoticeSpec:
    """One notice for several people (the arguments of notice_create)."""

    dealer_id: int
    recipient_ids: Sequence[int]
    title: str
    body: str = ""
    link: str = ""
    source_kind: str = ""
    source_id: str = ""
    reason: str = ""


def notices_create_bulk(specs: Sequence[NoticeSpec]) -> int:
    """Note each spec for each of its recipients; returns how many notices were new.

    With a source, the same (source, reason) for the same person is noted once: a job that runs
    twice tells nobody twice. Set-based: one query for what exists, one INSERT for the rest.
    """
    wanted = {
        (spec.dealer_id, recipient, spec.source_kind, spec.source_id, spec.reason): spec
        for spec in specs
        for recipient in sorted({r for r in spec.recipient_ids if r})
    }
    if not wanted:
        return 0
    sourced = [key for key in wanted if key[2]]
    existing: set[tuple[int, int, str, str, str]] = set()
    if sourced:
        existing = set(
            Notice.objects.filter(
                dealer_id__in={k[0] for k in sourced},
                recipient_id__in={k[1] for k in sourced},
                source_kind__in={k[2] for k in sourced},
                source_id__in={k[3] for k in sourced},
            ).values_list("dealer_id", "recipient_id", "source_kind", "source_id", "reason")
        )
    now = timezone.now()
    new = [
        Notice(
            dealer_id=key[0],
            recipient_id=key[1],
            title=spec.title[:200],
            body=spec.body,
            link=spec.link,
            source_kind=spec.source_kind,
            source_id=spec.source_id,
            reason=spec.reason,
            created_at=now,
        )
        for key, spec in wanted.items()
        if key not in existing
    ]
    Notice.objects.bulk_create(new, ignore_conflicts=bool(sourced))
    return len(new)


def notice_create(
    *,
    dealer_id: int,
    recipient_ids: Sequence[int],
    title: str,
    body: str = "",
    link: str = "",
    source_kind: str = "",
    source_id: str = "",
    reason: str = "",
) -> int:
    """Note `title` for each recipient (see notices_create_bulk); returns how many were new."""
    return notices_create_bulk(
        [
            NoticeSpec(
                dealer_id=dealer_id,
                recipient_ids=recipient_ids,
                title=title,
                body=body,
                link=link,
                source_kind=source_kind,
                source_id=source_id,
                reason=reason,
            )
        ]
    )


def notices_mark_read(*, actor: User, notice_ids: Sequence[int] | None = None) -> int:
    """Mark the actor's notices read (all of them when `notice_ids` is None)."""
    qs = Notice.objects.for_recipient(actor.pk).unread()
    if notice_ids is not None:
        qs = qs.filter(pk__in=list(notice_ids))
    return qs.update(read_at=timezone.now())
