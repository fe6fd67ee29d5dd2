"""The phone channel: a message becomes a call task on the worklist, with the script to read.

Nothing can dial for us, so "sending" a phone message means handing it to a person: a Task of
kind "call" for the message's assignee (None: the dealer's managers hand it out), its body the
rendered script. The outcome is "sent" — a person will call; the call's result is the task's.

The task's source is ("messaging.message", message id), which is also how `lookup` tells, after a
crash, that the task already exists, so a message is never turned into two tasks.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from dealercrm.worklist.models import Task, TaskKind
from dealercrm.worklist.services import task_create

from .base import Outcome, OutgoingMessage, SendResult
from .configuration import BaseProvider

TASK_SOURCE_KIND = "messaging.message"


class PhoneTaskProvider(BaseProvider):
    kind = "phone_task"
    supports_lookup = True

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        results: dict[int, SendResult] = {}
        existing = self._existing_sources(messages)
        with transaction.atomic():
            for m in messages:
                if m.customer_id is None:
                    results[m.message_id] = SendResult(
                        message_id=m.message_id,
                        outcome=Outcome.FAILED,
                        reason=_("A call task needs a customer."),
                    )
                    continue
                if str(m.message_id) not in existing:
                    # Calls are made one at a time by people, so batches are small: the
                    # worklist's one write path (task_create) is worth more than a bulk insert.
                    task_create(
                        dealer_id=m.dealer_id,
                        customer_id=m.customer_id,
                        kind=TaskKind.CALL,
                        title=self._title(m),
                        body=m.body,
                        assignee_id=m.assignee_id,
                        source_kind=TASK_SOURCE_KIND,
                        source_id=str(m.message_id),
                    )
                results[m.message_id] = SendResult(message_id=m.message_id, outcome=Outcome.SENT)
        return [results[m.message_id] for m in messages]

    @staticmethod
    def _title(message: OutgoingMessage) -> str:
        if message.subject:
            return _("Call %(name)s: %(subject)s") % {
                "name": message.customer_name,
                "subject": message.subject,
            }
        return _("Call %(name)s") % {"name": message.customer_name}

    @staticmethod
    def _existing_sources(messages: list[OutgoingMessage]) -> set[str]:
        if not messages:
            return set()
        return set(
            Task.objects.filter(
                dealer_id__in={m.dealer_id for m in messages},
                source_kind=TASK_SOURCE_KIND,
                source_id__in=[str(m.message_id) for m in messages],
            ).values_list("source_id", flat=True)
        )

    def lookup(self, message: OutgoingMessage) -> SendResult | None:
        if str(message.message_id) in self._existing_sources([message]):
            return SendResult(message_id=message.message_id, outcome=Outcome.SENT)
        return None
