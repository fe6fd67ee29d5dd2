"""What a care call ended with: the occurrence closed (or retried), its task with it, and what
the outcome sets off — the contact point flagged, an appointment booked, a complaint opened.

One service, `care_task_record_outcome`, for the care task page, the API and the generic
worklist (through the completion hook below), so every path writes the same things.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.permissions import Role
from dealercrm.customers.models import CustomerPhone
from dealercrm.worklist.models import Task, TaskStatus
from dealercrm.worklist.outcomes import TaskResult, join_outcome, split_outcome
from dealercrm.worklist.services import (
    NoticeSpec,
    notices_create_bulk,
    register_task_completion_hook,
    task_complete,
)

from ..models import CareOccurrence, CareOutcome, CareRuleCode, OccurrenceStatus
from .tasks import CARE_SOURCE_KIND, calling_hours, max_attempts, next_attempt_at, rule_config

# What a person may choose; UNREACHABLE is the system's, when the retries run out.
CHOOSABLE_OUTCOMES = [c for c in CareOutcome.choices if c[0] != CareOutcome.UNREACHABLE]


@dataclass(frozen=True)
class AppointmentRequest:
    """The slot booked on the call (the service app checks hours, capacity and bays)."""

    starts_at: datetime.datetime
    kind: str = ""
    concern: str = ""


@dataclass(frozen=True)
class ComplaintRequest:
    """What the customer complained about on the call."""

    description: str
    category: str = "other"
    severity: str = "medium"


# The repair kind an appointment booked on a rule's call is for.
APPOINTMENT_KIND_BY_RULE: dict[str, str] = {
    CareRuleCode.ANNUAL_INSPECTION: "inspection",
    CareRuleCode.SEASONAL_CHECK: "inspection",
}


def _lock(occurrence: CareOccurrence) -> CareOccurrence:
    try:
        # Locked alone (PostgreSQL refuses FOR UPDATE on an outer join); its task is read after.
        return CareOccurrence.objects.select_for_update().get(
            pk=occurrence.pk, dealer_id=occurrence.dealer_id
        )
    except CareOccurrence.DoesNotExist as exc:
        raise ValidationError({"occurrence": [_("This care task no longer exists.")]}) from exc


def _close(
    occurrence: CareOccurrence, *, actor: User | None, outcome: str, note: str, task_text: str
) -> None:
    now = timezone.now()
    occurrence.status = OccurrenceStatus.DONE
    occurrence.outcome = outcome
    occurrence.outcome_note = note
    occurrence.closed_at = now
    occurrence.closed_by = actor if actor is not None and actor.is_authenticated else None
    occurrence.save(update_fields=["status", "outcome", "outcome_note", "closed_at", "closed_by"])
    task = occurrence.task
    # The occurrence is closed first, so the completion hook below finds nothing left to do.
    if task is not None and task.status == TaskStatus.OPEN and actor is not None:
        task_complete(actor=actor, task=task, outcome=task_text)


def _log_attempt(occurrence: CareOccurrence, *, actor: User, outcome: str, note: str) -> None:
    log = list((occurrence.detail or {}).get("attempt_log", []))
    log.append(
        {
            "at": timezone.now().isoformat(),
            "by": actor.pk,
            "by_name": str(actor),
            "outcome": outcome,
            "note": note,
        }
    )
    occurrence.detail = {**(occurrence.detail or {}), "attempt_log": log[-20:]}


def _flag_wrong_number(occurrence: CareOccurrence) -> int:
    """Mark the customer's number as reported wrong: the primary one (else the first)."""
    phones = CustomerPhone.objects.filter(
        dealer_id=occurrence.dealer_id,
        customer_id=occurrence.customer_id,
        wrong_number_reported_at__isnull=True,
    ).order_by("-is_primary", "id")
    phone_id = phones.values_list("id", flat=True).first()
    if phone_id is None:
        return 0
    return CustomerPhone.objects.filter(pk=phone_id).update(wrong_number_reported_at=timezone.now())


def _manager_ids(dealer_id: int) -> list[int]:
    return list(
        User.objects.filter(
            dealer_id=dealer_id, role=Role.DEALER_MANAGER, is_active=True
        ).values_list("id", flat=True)
    )


@transaction.atomic
def care_task_record_outcome(
    *,
    actor: User,
    occurrence: CareOccurrence,
    outcome: str,
    note: str = "",
    appointment: AppointmentRequest | None = None,
    complaint: ComplaintRequest | None = None,
    seen_attempts: int | None = None,
) -> CareOccurrence:
    """Record how the care call went; returns the occurrence as it now stands.

    `seen_attempts` is the attempt count the caller's form showed: a second "no answer" sent
    with the same count (a double click) finds it already moved on and changes nothing, as a
    second submit of a closing outcome does.
    """
    note = (note or "").strip()
    if outcome not in CareOutcome.values or outcome == CareOutcome.UNREACHABLE:
        raise ValidationError({"outcome": [_("Choose how the call ended.")]})
    current = _lock(occurrence)
    if current.status != OccurrenceStatus.OPEN:
        if current.outcome == outcome or (
            outcome == CareOutcome.NO_ANSWER and current.outcome == CareOutcome.UNREACHABLE
        ):
            return current  # the same answer again: already recorded
        raise ValidationError(
            {
                "outcome": [
                    _("This care task is already closed: %(outcome)s.")
                    % {"outcome": current.get_outcome_display() or current.get_status_display()}
                ]
            }
        )
    if (
        seen_attempts is not None
        and current.attempts != seen_attempts
        and current.outcome == outcome
    ):
        return current  # a repeated "no answer" of a form already answered
    if current.task is not None and current.task.status != TaskStatus.OPEN:
        raise ValidationError({"outcome": [_("This care task's worklist task is already closed.")]})

    if outcome in (CareOutcome.REACHED, CareOutcome.NOT_INTERESTED):
        _close(
            current, actor=actor, outcome=outcome, note=note, task_text=join_outcome(outcome, note)
        )
    elif outcome == CareOutcome.NO_ANSWER:
        _record_no_answer(current, actor=actor, note=note)
    elif outcome == CareOutcome.WRONG_NUMBER:
        _flag_wrong_number(current)
        _close(
            current,
            actor=actor,
            outcome=outcome,
            note=note,
            task_text=join_outcome(TaskResult.WRONG_NUMBER, note),
        )
    elif outcome == CareOutcome.APPOINTMENT_BOOKED:
        _book_appointment(current, actor=actor, note=note, appointment=appointment)
    elif outcome == CareOutcome.COMPLAINT:
        _open_complaint(current, actor=actor, note=note, complaint=complaint)
    return current


def _record_no_answer(current: CareOccurrence, *, actor: User, note: str) -> None:
    config = rule_config(current.dealer_id, current.rule)
    limit = max_attempts(config)
    current.attempts += 1
    _log_attempt(current, actor=actor, outcome=CareOutcome.NO_ANSWER, note=note)
    if current.attempts >= limit:
        current.save(update_fields=["attempts", "detail"])
        text = _("Unreachable after %(count)d attempts") % {"count": current.attempts}
        _close(
            current,
            actor=actor,
            outcome=CareOutcome.UNREACHABLE,
            note=note,
            task_text=join_outcome(TaskResult.NO_ANSWER, f"{text} {note}".strip()),
        )
        return
    current.outcome = CareOutcome.NO_ANSWER
    current.outcome_note = note
    current.save(update_fields=["attempts", "detail", "outcome", "outcome_note"])
    task = current.task
    if task is not None:
        due = next_attempt_at(
            attempts=current.attempts,
            now=timezone.now(),
            config=config,
            hours=calling_hours(current.dealer_id),
        )
        Task.objects.filter(pk=task.pk).update(due_at=due)
        task.due_at = due


def _book_appointment(
    current: CareOccurrence,
    *,
    actor: User,
    note: str,
    appointment: AppointmentRequest | None,
) -> None:
    if appointment is None or appointment.starts_at is None:
        raise ValidationError({"starts_at": [_("Choose the appointment's time slot.")]})
    from dealercrm.service.models import AppointmentChannel
    from dealercrm.service.services.appointments import appointment_create

    # A refusal (a full day, outside the workshop's hours) raises and undoes everything here.
    booked = appointment_create(
        actor=actor,
        customer=current.customer,
        vehicle=current.vehicle,
        starts_at=appointment.starts_at,
        channel=AppointmentChannel.CARE_CALL,
        kind=appointment.kind or APPOINTMENT_KIND_BY_RULE.get(current.rule, "maintenance"),
        concern=appointment.concern or note,
        source_kind=CARE_SOURCE_KIND,
        source_id=str(current.pk),
    )
    local = timezone.localtime(booked.starts_at)
    text = _("Appointment booked for %(when)s") % {"when": local.strftime("%Y-%m-%d %H:%M")}
    current.detail = {**(current.detail or {}), "appointment_id": booked.pk}
    current.save(update_fields=["detail"])
    _close(
        current,
        actor=actor,
        outcome=CareOutcome.APPOINTMENT_BOOKED,
        note=note,
        task_text=join_outcome(TaskResult.REACHED, f"{text} {note}".strip()),
    )


def _open_complaint(
    current: CareOccurrence,
    *,
    actor: User,
    note: str,
    complaint: ComplaintRequest | None,
) -> None:
    from dealercrm.feedback.services import complaint_open

    description = (complaint.description if complaint else "") or note
    opened = complaint_open(
        actor=actor,
        dealer_id=current.dealer_id,
        customer_id=current.customer_id,
        vehicle_id=current.vehicle_id,
        channel="care_task",
        description=description,
        category=complaint.category if complaint else "other",
        severity=complaint.severity if complaint else "medium",
        source_kind=CARE_SOURCE_KIND,
        source_id=str(current.pk),
    )
    current.detail = {**(current.detail or {}), "complaint_id": opened.pk}
    current.save(update_fields=["detail"])
    notices_create_bulk(
        [
            NoticeSpec(
                dealer_id=current.dealer_id,
                recipient_ids=_manager_ids(current.dealer_id),
                title=_("Complaint on a care call: %(customer)s")
                % {"customer": current.customer.name},
                body=description[:500],
                link=reverse("feedback:complaint", kwargs={"complaint_id": opened.pk}),
                source_kind="feedback.complaint",
                source_id=str(opened.pk),
                reason="care_call",
            )
        ]
    )
    text = _("Complaint recorded")
    _close(
        current,
        actor=actor,
        outcome=CareOutcome.COMPLAINT,
        note=note or description,
        task_text=join_outcome(TaskResult.REACHED, f"{text}: {note or description}"),
    )


# --- the generic worklist closing a care task ---------------------------------------------------

# A result chosen on the worklist page → the occurrence's outcome.
_FROM_TASK_RESULT: dict[str, str] = {
    TaskResult.NOT_INTERESTED: CareOutcome.NOT_INTERESTED,
    TaskResult.WRONG_NUMBER: CareOutcome.WRONG_NUMBER,
    TaskResult.NO_ANSWER: CareOutcome.UNREACHABLE,
    TaskResult.BUSY: CareOutcome.UNREACHABLE,
}


def care_task_closed(task: Task) -> None:
    """Completion hook (source_kind "care.occurrence"): a care task closed on the worklist page
    closes its occurrence — as reached unless the result said otherwise; cancelled with the task.
    Runs inside the task's transaction; an occurrence already closed (by the outcome service,
    which closes it before its task) is left alone."""
    if not task.source_id.isdigit():
        return
    occurrence = (
        CareOccurrence.objects.select_for_update()
        .filter(dealer_id=task.dealer_id, pk=int(task.source_id), status=OccurrenceStatus.OPEN)
        .first()
    )
    if occurrence is None:
        return
    result, note = split_outcome(task.outcome)
    if task.status == TaskStatus.CANCELLED:
        occurrence.status = OccurrenceStatus.CANCELLED
        occurrence.outcome = ""
    else:
        occurrence.status = OccurrenceStatus.DONE
        occurrence.outcome = _FROM_TASK_RESULT.get(result, CareOutcome.REACHED)
        if occurrence.outcome == CareOutcome.WRONG_NUMBER:
            _flag_wrong_number(occurrence)
    occurrence.outcome_note = note
    occurrence.closed_at = task.completed_at or timezone.now()
    occurrence.closed_by_id = task.completed_by_id
    occurrence.save(update_fields=["status", "outcome", "outcome_note", "closed_at", "closed_by"])


def register_hooks() -> None:
    register_task_completion_hook(CARE_SOURCE_KIND, care_task_closed)
