"""How a task ended, kept in one text field that is both machine-readable and readable.

`Task.outcome` holds ``"<result>"`` or ``"<result>: <note>"`` where `<result>` is one of
TaskResult (the call outcomes of the customers app, plus a plain "done"); anything else is a
free note. The result prefix is what other apps react to (a phone-call message becomes
delivered when the customer was reached), the note is what the person wrote. One field keeps
the API and the pages writing the same thing without a second column.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from dealercrm.customers.models import CallOutcome


class TaskResult(models.TextChoices):
    REACHED = CallOutcome.REACHED.value, CallOutcome.REACHED.label
    NO_ANSWER = CallOutcome.NO_ANSWER.value, CallOutcome.NO_ANSWER.label
    BUSY = CallOutcome.BUSY.value, CallOutcome.BUSY.label
    CALL_BACK = CallOutcome.CALL_BACK.value, CallOutcome.CALL_BACK.label
    NOT_INTERESTED = CallOutcome.NOT_INTERESTED.value, CallOutcome.NOT_INTERESTED.label
    WRONG_NUMBER = CallOutcome.WRONG_NUMBER.value, CallOutcome.WRONG_NUMBER.label
    DONE = "done", _("Done")


# The customer was on the line, whatever they said.
REACHED_RESULTS = frozenset({TaskResult.REACHED, TaskResult.CALL_BACK, TaskResult.NOT_INTERESTED})

OUTCOME_MAX_LENGTH = 200


def split_outcome(text: str) -> tuple[str, str]:
    """(result, note): ("reached", "周六来店") from "reached: 周六来店"; ("", text) for a free note."""
    head, sep, rest = (text or "").partition(":")
    if head.strip() in TaskResult.values:
        return head.strip(), rest.strip() if sep else ""
    return "", (text or "").strip()


def join_outcome(result: str, note: str = "") -> str:
    """The stored form of a result and a note, cut to the field's length."""
    note = (note or "").strip()
    text = f"{result}: {note}" if result and note else result or note
    return text[:OUTCOME_MAX_LENGTH]


def outcome_display(text: str) -> str:
    """What people read: "Reached the customer · 周六来店"."""
    result, note = split_outcome(text)
    if not result:
        return note
    label = str(TaskResult(result).label)
    return f"{label} · {note}" if note else label
