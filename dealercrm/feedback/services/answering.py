"""Recording a survey response, online (the public link) or by phone (a care specialist), and
validated as a whole: every answer is checked, and either the response with all its answers is
saved or nothing is.

After a response is saved, `survey_events.survey_response_recorded` tells the listeners (score
rollup, low-score alert) once the transaction commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User

from ..models import (
    SCALES,
    Aspect,
    InvitationStatus,
    Question,
    QuestionKind,
    ResponseChannel,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
)
from ..survey_events import survey_response_recorded
from .survey_settings import settings_for_dealer

TEXT_MAX_CHARS = 2000

# ValidationError codes for a refused invitation (the public page answers 410 for the first two).
ALREADY_ANSWERED = "already_answered"
EXPIRED = "expired"
CLOSED = "closed"

# What an invitation may be in to take an answer. A phone call may follow an SMS that could not
# be sent; the public link of such an invitation never reached the customer.
_OPEN_FOR: dict[str, set[str]] = {
    ResponseChannel.WEB: {InvitationStatus.SCHEDULED, InvitationStatus.SENT},
    ResponseChannel.PHONE: {
        InvitationStatus.SCHEDULED,
        InvitationStatus.SENT,
        InvitationStatus.NOT_SENT,
    },
}


_EXPIRABLE = (InvitationStatus.SCHEDULED, InvitationStatus.SENT, InvitationStatus.NOT_SENT)


def already_answered_error() -> ValidationError:
    return ValidationError(
        _("This survey has already been answered. Thank you!"), code=ALREADY_ANSWERED
    )


def expired_error() -> ValidationError:
    return ValidationError(_("This survey link has expired."), code=EXPIRED)


def closed_error() -> ValidationError:
    return ValidationError(_("This survey is no longer open for answers."), code=CLOSED)


def rating_points(kind: str, value: int) -> float | None:
    """A rating on 0–100 (1–5: (v−1)/4·100; 1–10: (v−1)/9·100); None for other kinds."""
    if kind not in (QuestionKind.RATING_5, QuestionKind.RATING_10):
        return None
    low, high = SCALES[kind]
    return (value - low) / (high - low) * 100


@dataclass
class CleanAnswer:
    question: Question
    value: int | None = None
    choices: list[str] = field(default_factory=list)
    text: str = ""


def _blank(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, (list, tuple)):
        return not [item for item in raw if str(item).strip()]
    return False


def _clean_one(question: Question, raw: Any) -> CleanAnswer:
    """One answer, or ValidationError with a message naming the question."""
    name = question.text
    kind = question.kind
    if kind in SCALES:
        low, high = SCALES[kind]
        if isinstance(raw, (list, tuple)):
            raw = raw[0] if len(raw) == 1 else raw
        try:
            if isinstance(raw, bool):
                raise TypeError
            value = int(str(raw).strip()) if not isinstance(raw, int) else raw
        except (TypeError, ValueError):
            value = None
        if value is None or not low <= value <= high:
            raise ValidationError(
                _("“%(question)s”: choose a whole number from %(low)s to %(high)s.")
                % {"question": name, "low": low, "high": high}
            )
        return CleanAnswer(question, value=value)
    if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        picked = [str(item) for item in (raw if isinstance(raw, (list, tuple)) else [raw])]
        picked = [item for item in picked if item.strip()]
        options = [str(option) for option in question.choices or []]
        unknown = [item for item in picked if item not in options]
        if unknown:
            raise ValidationError(
                _("“%(question)s”: choose among the options given.") % {"question": name}
            )
        if kind == QuestionKind.SINGLE and len(picked) > 1:
            raise ValidationError(_("“%(question)s”: choose one option.") % {"question": name})
        # Keep the options' order, once each.
        return CleanAnswer(question, choices=[option for option in options if option in picked])
    # Free text.
    text = raw if isinstance(raw, str) else " ".join(str(item) for item in raw or [])
    text = text.strip()
    if len(text) > TEXT_MAX_CHARS:
        raise ValidationError(
            _("“%(question)s”: write at most %(limit)s characters (this is %(length)s).")
            % {"question": name, "limit": TEXT_MAX_CHARS, "length": len(text)}
        )
    return CleanAnswer(question, text=text)


def answers_clean(questions: list[Question], answers: Mapping[str, Any]) -> list[CleanAnswer]:
    """Every question's answer checked; ValidationError keyed "q<id>" listing every problem at
    once. Unanswered optional questions are left out of the result."""
    errors: dict[str, list[str]] = {}
    cleaned: list[CleanAnswer] = []
    for question in questions:
        key = f"q{question.pk}"
        raw = answers.get(key)
        if hasattr(answers, "getlist") and question.kind == QuestionKind.MULTIPLE:
            raw = answers.getlist(key)
        if _blank(raw):
            if question.required:
                errors[key] = [
                    _("“%(question)s”: please answer this question.") % {"question": question.text}
                ]
            continue
        try:
            cleaned.append(_clean_one(question, raw))
        except ValidationError as error:
            errors[key] = error.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def _scores(cleaned: list[CleanAnswer], dealer_id: int) -> tuple[int | None, float | None, bool]:
    """(NPS answer, CSI as the mean of the experience ratings on 0–100, is it low)."""
    settings = settings_for_dealer(dealer_id)
    thresholds: dict[str, int] = {
        QuestionKind.RATING_5: settings.low_rating5,
        QuestionKind.RATING_10: settings.low_rating10,
    }
    nps: int | None = None
    points: list[float] = []
    is_low = False
    for answer in cleaned:
        kind = answer.question.kind
        if answer.value is None:
            continue
        if kind == QuestionKind.NPS:
            if nps is None:
                nps = answer.value
            if answer.value <= settings.low_nps:
                is_low = True
        elif kind in thresholds and answer.question.aspect != Aspect.EXPECTATION:
            # An expectation is what the customer hoped for, not a complaint about us.
            points.append(rating_points(kind, answer.value) or 0.0)
            if answer.value <= thresholds[kind]:
                is_low = True
    csi = round(sum(points) / len(points), 2) if points else None
    return nps, csi, is_low


def _refuse_unless_open(invitation: SurveyInvitation, channel: str) -> None:
    if invitation.status == InvitationStatus.ANSWERED:
        raise already_answered_error()
    if invitation.status == InvitationStatus.EXPIRED:
        raise expired_error()
    if invitation.status not in _OPEN_FOR[channel]:
        raise closed_error()


def invitation_expire_if_due(invitation: SurveyInvitation, *, now: Any = None) -> bool:
    """Mark an open invitation whose link has run out "expired" (its own small write, so it
    stays even though the answer that found it is refused). True when it has run out."""
    now = now or timezone.now()
    if invitation.status == InvitationStatus.EXPIRED:
        return True
    if invitation.expires_at > now or invitation.status not in _EXPIRABLE:
        return False
    SurveyInvitation.objects.filter(pk=invitation.pk, status__in=list(_EXPIRABLE)).update(
        status=InvitationStatus.EXPIRED
    )
    invitation.status = InvitationStatus.EXPIRED
    return True


def survey_response_submit(
    *,
    invitation: SurveyInvitation,
    answers: Mapping[str, Any],
    channel: str,
    entered_by: User | None = None,
) -> SurveyResponse:
    """Record the answers to an invitation: all of them or none.

    `answers` is keyed "q<question id>" with the values a form posts (str, list[str] for a
    multiple choice; ints are accepted too). Refused with a ValidationError whose code is
    ALREADY_ANSWERED, EXPIRED or CLOSED for an invitation that cannot take an answer, and with
    errors keyed "q<id>" for answers that do not fit their questions.
    """
    if channel not in ResponseChannel.values:
        raise ValidationError({"channel": [_("Choose how the survey was answered.")]})
    now = timezone.now()
    if invitation_expire_if_due(invitation, now=now):
        raise expired_error()
    try:
        with transaction.atomic():
            return _submit(
                invitation=invitation,
                answers=answers,
                channel=channel,
                entered_by=entered_by,
                now=now,
            )
    except IntegrityError as error:
        # A concurrent second answer lost the race on the one-response-per-invitation key.
        if SurveyResponse.objects.filter(invitation_id=invitation.pk).exists():
            raise already_answered_error() from error
        raise


def _submit(
    *,
    invitation: SurveyInvitation,
    answers: Mapping[str, Any],
    channel: str,
    entered_by: User | None,
    now: Any,
) -> SurveyResponse:
    # Lock the invitation (PostgreSQL; SQLite's IMMEDIATE transactions serialise writers) and
    # read its status again: another answer may have arrived since the caller read it.
    current = SurveyInvitation.objects.select_for_update().get(pk=invitation.pk)
    _refuse_unless_open(current, channel)
    if current.expires_at <= now:
        raise expired_error()
    questions = list(
        Question.objects.filter(version_id=current.version_id).order_by("position", "id")
    )
    cleaned = answers_clean(questions, answers)
    nps, csi, is_low = _scores(cleaned, current.dealer_id)
    response = SurveyResponse.objects.create(
        dealer_id=current.dealer_id,
        invitation=current,
        version_id=current.version_id,
        kind=current.kind,
        customer_id=current.customer_id,
        car_model_id=current.car_model_id,
        consultant_id=current.consultant_id,
        advisor_id=current.advisor_id,
        channel=channel,
        entered_by=entered_by,
        answered_at=now,
        nps=nps,
        csi=csi,
        is_low=is_low,
    )
    SurveyAnswer.objects.bulk_create(
        [
            SurveyAnswer(
                dealer_id=current.dealer_id,
                response=response,
                question=answer.question,
                kind=answer.question.kind,
                dimension=answer.question.dimension,
                aspect=answer.question.aspect,
                value=answer.value,
                choices=answer.choices,
                text=answer.text,
            )
            for answer in cleaned
        ]
    )
    SurveyInvitation.objects.filter(pk=current.pk).update(
        status=InvitationStatus.ANSWERED, answered_at=now
    )
    invitation.status = InvitationStatus.ANSWERED
    invitation.answered_at = now
    survey_response_recorded(response.pk, current.dealer_id)
    return response
