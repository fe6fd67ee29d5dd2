"""The handling record of a complaint: the contact log (whose first entry is the first
response), the solution and the customer's acceptance, the root cause and actions, the
assignment, and the closing follow-up.

Each step is a keyword-only service in one transaction that writes its `ComplaintEvent`s and
bumps `Complaint.version`. A caller passing the `version` it showed (a form, an API client)
gets "someone else changed this complaint; reload" when another handler saved in between, and
nothing is written. The follow-up is the only way to close a complaint: a "yes" closes it, a
"no" reopens it and restarts the solution clock.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealercrm.core.models import User

from ..models import (
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintStatus,
    RootCause,
)
from . import sla
from .intake import is_complaint_handler

# How a handler reaches the customer (values of ComplaintChannel).
CONTACT_CHANNELS = (
    ComplaintChannel.PHONE,
    ComplaintChannel.WECHAT,
    ComplaintChannel.WALK_IN,
    ComplaintChannel.EMAIL,
)
CLOSE_ONLY_BY_FOLLOW_UP = gettext_lazy(
    "A complaint closes only after the follow-up with the customer."
)
STALE = gettext_lazy("Someone else changed this complaint; reload it and try again.")
# A contact time a little ahead of the server's clock is a clock difference, not the future.
CLOCK_SLACK = datetime.timedelta(minutes=5)


class StaleComplaint(ValidationError):  # noqa: N818 — reads as what happened
    """Another handler saved the complaint after the caller read it; nothing was written."""

    def __init__(self, current_version: int) -> None:
        super().__init__({NON_FIELD_ERRORS: [str(STALE)]})
        self.current_version = current_version


def _actor(actor: User | None) -> User | None:
    return actor if actor is not None and actor.is_authenticated else None


def _load(complaint: Complaint, version: int | None) -> Complaint:
    """The complaint as stored now, locked where the database can (PostgreSQL), checked
    against the version the caller saw."""
    current = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if version is not None and int(version) != current.version:
        raise StaleComplaint(current.version)
    return current


def _save(current: Complaint, fields: list[str]) -> None:
    """Write `fields` and the next version, only if nobody wrote in between."""
    seen = current.version
    current.version = seen + 1
    values: dict[str, Any] = {name: getattr(current, name) for name in dict.fromkeys(fields)}
    written = Complaint.objects.filter(pk=current.pk, version=seen).update(
        **values, version=current.version
    )
    if written != 1:
        raise StaleComplaint(seen)


def _event(current: Complaint, kind: str, *, actor: User | None, at: datetime.datetime, **kw):  # noqa: ANN003, ANN202
    return ComplaintEvent(
        dealer_id=current.dealer_id, complaint=current, kind=kind, at=at, actor=actor, **kw
    )


def _refuse_closed(current: Complaint) -> None:
    if current.status == ComplaintStatus.CLOSED:
        raise ValidationError(
            {NON_FIELD_ERRORS: [_("This complaint is closed; its handling can no longer change.")]}
        )


def _respond(
    current: Complaint, *, at: datetime.datetime, actor: User | None, events: list, fields: list
) -> None:
    """The first contact with the customer is the first response: it stops that clock."""
    if current.first_response_at is not None:
        return
    current.first_response_at = at
    fields.append("first_response_at")
    events.append(_event(current, ComplaintEventKind.RESPONDED, actor=actor, at=at))
    if current.status == ComplaintStatus.OPEN:
        current.status = ComplaintStatus.IN_PROGRESS
        fields.append("status")
    if current.handler_id is None and actor is not None and actor.dealer_id == current.dealer_id:
        # Whoever answers first handles it until someone reassigns it.
        current.handler_id = actor.pk
        fields.append("handler_id")


@transaction.atomic
def complaint_contact_log(
    *,
    actor: User | None,
    complaint: Complaint,
    channel: str,
    note: str,
    at: datetime.datetime | None = None,
    version: int | None = None,
) -> Complaint:
    """Log a contact with the customer (CONTACT step); the first one is the first response
    (RESPONDED step, status open → in progress)."""
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    if channel not in CONTACT_CHANNELS:
        errors["channel"] = [_("Choose how you contacted the customer.")]
    if not (note or "").strip():
        errors["note"] = [_("Write down what was said.")]
    at = at or now
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    if at > now + CLOCK_SLACK:
        errors["at"] = [_("The contact cannot be in the future.")]
    elif at < complaint.created_at:
        errors["at"] = [_("The contact cannot be before the complaint was received.")]
    if errors:
        raise ValidationError(errors)
    current = _load(complaint, version)
    _refuse_closed(current)
    by = _actor(actor)
    events = [
        _event(
            current, ComplaintEventKind.CONTACT, actor=by, at=at, channel=channel, note=note.strip()
        )
    ]
    fields: list[str] = []
    _respond(current, at=at, actor=by, events=events, fields=fields)
    _save(current, fields)
    ComplaintEvent.objects.bulk_create(events)
    return current


@transaction.atomic
def complaint_solution_record(
    *,
    actor: User | None,
    complaint: Complaint,
    solution: str,
    accepted: bool | None,
    version: int | None = None,
) -> Complaint:
    """The solution offered (SOLUTION step) and, when known, the customer's answer: accepted →
    solved (SOLVED step, the solution clock stops); declined → DECLINED step, still in
    progress (the clock keeps running)."""
    if not (solution or "").strip():
        raise ValidationError({"solution": [_("Write down the solution offered.")]})
    if accepted not in (True, False, None):
        raise ValidationError({"accepted": [_("Say whether the customer accepted it.")]})
    current = _load(complaint, version)
    _refuse_closed(current)
    if current.status == ComplaintStatus.SOLVED:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    _(
                        "The customer already accepted a solution; the follow-up comes next "
                        "(a dissatisfied customer reopens the complaint)."
                    )
                ]
            }
        )
    now = timezone.now()
    by = _actor(actor)
    solution = solution.strip()
    events: list[ComplaintEvent] = []
    fields = ["solution", "solution_accepted"]
    # Offering a solution is an answer to the customer, if nobody had answered yet.
    _respond(current, at=now, actor=by, events=events, fields=fields)
    if solution != current.solution or accepted is None or current.solution_accepted is None:
        events.append(_event(current, ComplaintEventKind.SOLUTION, actor=by, at=now, note=solution))
    current.solution = solution
    current.solution_accepted = accepted
    if accepted is True:
        current.status = ComplaintStatus.SOLVED
        current.solved_at = now
        fields += ["status", "solved_at"]
        events.append(_event(current, ComplaintEventKind.ACCEPTED, actor=by, at=now))
        events.append(_event(current, ComplaintEventKind.SOLVED, actor=by, at=now))
    elif accepted is False:
        events.append(_event(current, ComplaintEventKind.DECLINED, actor=by, at=now))
    _save(current, fields)
    ComplaintEvent.objects.bulk_create(events)
    return current


@transaction.atomic
def complaint_analysis_record(
    *,
    actor: User | None,
    complaint: Complaint,
    root_cause: str,
    root_cause_detail: str = "",
    corrective_action: str = "",
    preventive_action: str = "",
    version: int | None = None,
) -> Complaint:
    """The root cause, the corrective and the preventive action (ANALYSIS step)."""
    errors: dict[str, list[str]] = {}
    if root_cause not in RootCause.values:
        errors["root_cause"] = [_("Choose the root cause.")]
    if not (corrective_action or "").strip():
        errors["corrective_action"] = [_("Write down the corrective action.")]
    if errors:
        raise ValidationError(errors)
    current = _load(complaint, version)
    _refuse_closed(current)
    current.root_cause = root_cause
    current.root_cause_detail = (root_cause_detail or "").strip()
    current.corrective_action = corrective_action.strip()
    current.preventive_action = (preventive_action or "").strip()
    _save(
        current,
        ["root_cause", "root_cause_detail", "corrective_action", "preventive_action"],
    )
    ComplaintEvent.objects.create(
        dealer_id=current.dealer_id,
        complaint=current,
        kind=ComplaintEventKind.ANALYSIS,
        at=timezone.now(),
        actor=_actor(actor),
        note=current.root_cause_detail,
        data={"root_cause": root_cause},
    )
    return current


@transaction.atomic
def complaint_assign(
    *,
    actor: User | None,
    complaint: Complaint,
    handler_id: int | None,
    version: int | None = None,
) -> Complaint:
    """Hand the complaint to a colleague who handles complaints (ASSIGNED step); they get a
    notice."""
    try:
        handler_pk = int(handler_id) if handler_id not in (None, "") else None
    except (TypeError, ValueError):
        handler_pk = None
    if handler_pk is None or not is_complaint_handler(handler_pk, complaint.dealer_id):
        raise ValidationError(
            {"handler_id": [_("Choose an active colleague of this dealer who handles complaints.")]}
        )
    current = _load(complaint, version)
    _refuse_closed(current)
    previous = current.handler_id
    current.handler_id = handler_pk
    _save(current, ["handler_id"])
    ComplaintEvent.objects.create(
        dealer_id=current.dealer_id,
        complaint=current,
        kind=ComplaintEventKind.ASSIGNED,
        at=timezone.now(),
        actor=_actor(actor),
        data={"handler_id": handler_pk, "previous_handler_id": previous},
    )
    by = _actor(actor)
    if by is None or by.pk != handler_pk:
        _tell_the_handler(current)
    return current


def _tell_the_handler(current: Complaint) -> None:
    from django.urls import reverse

    from dealercrm.worklist.services import NoticeSpec, notices_create_bulk

    notices_create_bulk(
        [
            NoticeSpec(
                dealer_id=current.dealer_id,
                recipient_ids=[current.handler_id] if current.handler_id else [],
                title=_("A complaint was assigned to you"),
                body=current.description[:500],
                link=reverse("feedback:complaint", kwargs={"complaint_id": current.pk}),
                source_kind="feedback.complaint",
                source_id=str(current.pk),
                reason=f"assigned:{current.version}",
            )
        ]
    )


@transaction.atomic
def complaint_follow_up(
    *,
    actor: User | None,
    complaint: Complaint,
    satisfied: bool,
    note: str = "",
    version: int | None = None,
) -> Complaint:
    """ "Are you satisfied with how this was handled?" Only on a solved complaint with its root
    cause recorded. Yes → closed (FOLLOW_UP and CLOSED steps). No → reopened (REOPENED step):
    in progress again, the acceptance cleared and the solution clock restarted from now."""
    if satisfied not in (True, False):
        raise ValidationError({"satisfied": [_("Say whether the customer is satisfied.")]})
    current = _load(complaint, version)
    if current.status == ComplaintStatus.CLOSED:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    _("This complaint is already closed; the follow-up was recorded on %(date)s.")
                    % {
                        "date": timezone.localtime(current.followed_up_at).strftime(
                            "%Y-%m-%d %H:%M"
                        )
                        if current.followed_up_at
                        else "—"
                    }
                ]
            }
        )
    if current.status != ComplaintStatus.SOLVED:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    f"{CLOSE_ONLY_BY_FOLLOW_UP} {_('The follow-up comes after the customer accepted a solution.')}"
                ]
            }
        )
    if not current.root_cause:
        raise ValidationError(
            {"root_cause": [_("Record the root cause before following up with the customer.")]}
        )
    now = timezone.now()
    by = _actor(actor)
    note = (note or "").strip()
    current.follow_up_satisfied = satisfied
    current.followed_up_at = now
    fields = ["follow_up_satisfied", "followed_up_at", "status"]
    events = [
        _event(
            current,
            ComplaintEventKind.FOLLOW_UP,
            actor=by,
            at=now,
            note=note,
            data={"satisfied": satisfied},
        )
    ]
    if satisfied:
        current.status = ComplaintStatus.CLOSED
        current.closed_at = now
        fields.append("closed_at")
        events.append(_event(current, ComplaintEventKind.CLOSED, actor=by, at=now))
    else:
        current.status = ComplaintStatus.IN_PROGRESS
        current.reopen_count += 1
        current.solution_accepted = None
        current.solved_at = None
        fields += ["reopen_count", "solution_accepted", "solved_at"]
        fields += sla.sla_restart_solution_clock(current, at=now)
        events.append(
            _event(
                current,
                ComplaintEventKind.REOPENED,
                actor=by,
                at=now,
                note=note,
                data={"reopen_count": current.reopen_count},
            )
        )
    _save(current, fields)
    ComplaintEvent.objects.bulk_create(events)
    return current


@transaction.atomic
def complaint_details_update(
    *,
    actor: User | None,
    complaint: Complaint,
    category: str | None = None,
    description: str | None = None,
    status: str | None = None,
    version: int | None = None,
) -> Complaint:
    """Correct the category or the customer's words (a NOTE step). The status is not a field
    anyone sets: it follows the handling steps, and closing is the follow-up's alone."""
    errors: dict[str, list[str]] = {}
    if status is not None and status != complaint.status:
        errors["status"] = [
            str(CLOSE_ONLY_BY_FOLLOW_UP)
            if status == ComplaintStatus.CLOSED
            else _("The status follows the handling steps; it cannot be set directly.")
        ]
    if category is not None and category not in ComplaintCategory.values:
        errors["category"] = [_("Choose a category.")]
    if description is not None and not description.strip():
        errors["description"] = [_("Write down what the customer complained about.")]
    if errors:
        raise ValidationError(errors)
    current = _load(complaint, version)
    _refuse_closed(current)
    changes: dict[str, Any] = {}
    if category is not None and category != current.category:
        changes["category"] = {"from": current.category, "to": category}
        current.category = category
    if description is not None and description.strip() != current.description:
        changes["description"] = True
        current.description = description.strip()
    if not changes:
        return current
    _save(current, [k for k in ("category", "description") if k in changes])
    ComplaintEvent.objects.create(
        dealer_id=current.dealer_id,
        complaint=current,
        kind=ComplaintEventKind.NOTE,
        at=timezone.now(),
        actor=_actor(actor),
        data={"changed": changes},
    )
    return current
