"""What closing a phone-call task means for its message.

A message on the phone channel is handed to a person as a worklist task (the phone-task
provider, source_kind "messaging.message", source_id the message id); the outbox marks it
"sent" when the task exists. When the person closes the task, the message learns how it went:
the customer was reached → delivered; no answer, busy, cancelled → failed; a wrong number →
undeliverable. The worklist calls this through its completion hooks (it must not import
messaging); register it in MessagingConfig.ready()::

    from dealercrm.worklist.services import register_task_completion_hook
    from .task_hooks import TASK_SOURCE_KIND, message_task_closed
    register_task_completion_hook(TASK_SOURCE_KIND, message_task_closed)
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.worklist.models import Task, TaskStatus
from dealercrm.worklist.outcomes import REACHED_RESULTS, TaskResult, split_outcome

from .models import Channel, Message, MessageStatus

TASK_SOURCE_KIND = "messaging.message"

# A call task's message can only move forward from these (never back from delivered/failed).
_OPEN_STATUSES = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT)


def message_task_closed(task: Task) -> None:
    """Set the status of the phone message the task was made for (one UPDATE, no read)."""
    if task.source_kind != TASK_SOURCE_KIND or not task.source_id.isdigit():
        return
    result, note = split_outcome(task.outcome)
    now = timezone.now()
    changes: dict = {"status_changed_at": now}
    if task.status == TaskStatus.DONE and (
        result in REACHED_RESULTS or result in ("", TaskResult.DONE)
    ):
        changes.update(status=MessageStatus.DELIVERED, delivered_at=now, status_reason="")
    else:
        if task.status == TaskStatus.CANCELLED:
            reason = _("The call task was cancelled.")
        else:
            reason = _("Call: %(result)s") % {"result": TaskResult(result).label}
        if note:
            reason = f"{reason} {note}"
        status = (
            MessageStatus.UNDELIVERABLE
            if result == TaskResult.WRONG_NUMBER
            else MessageStatus.FAILED
        )
        changes.update(status=status, status_reason=reason[:300])
    Message.objects.filter(
        dealer_id=task.dealer_id,
        pk=int(task.source_id),
        direction=Message.Direction.OUTBOUND,
        channel=Channel.PHONE,
        status__in=_OPEN_STATUSES,
    ).update(**changes)
