"""A low survey answer opens a complaint and/or a recovery task for the manager, at once.

Exactly once: the alert first claims the response with one `UPDATE … SET alerted_at WHERE
alerted_at IS NULL` inside the same transaction that writes the complaint, task and notice. Two
runs (the listener and the hourly sweep, or two workers) cannot both claim it, and a failure
rolls the claim back, so the sweep tries again later.
"""

from __future__ import annotations

import datetime
import logging

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import dealer_scope

from ..models import (
    SCALES,
    Aspect,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintSeverity,
    LowScoreAction,
    QuestionKind,
    SurveyAnswer,
    SurveyKind,
    SurveyResponse,
)
from .survey_settings import settings_for_dealer

logger = logging.getLogger(__name__)

SOURCE_KIND = "feedback.survey_response"
RECOVERY_DUE = datetime.timedelta(hours=2)
# The sweep leaves the listener a moment to do its work first.
SWEEP_GRACE = datetime.timedelta(minutes=5)

CATEGORY_OF_DIMENSION = {
    "service_quality": ComplaintCategory.SERVICE_QUALITY,
    "waiting_time": ComplaintCategory.WAITING_TIME,
    "staff": ComplaintCategory.STAFF_ATTITUDE,
    "price": ComplaintCategory.PRICE,
    "product": ComplaintCategory.PRODUCT_QUALITY,
}


def _points(kind: str, value: int) -> float:
    low, high = SCALES[kind]
    return (value - low) / (high - low) * 100


def _manager_ids(dealer_id: int) -> list[int]:
    return list(
        User.objects.filter(dealer_id=dealer_id, role=Role.DEALER_MANAGER, is_active=True)
        .order_by("id")
        .values_list("id", flat=True)
    )


def _assess(response: SurveyResponse, answers: list[SurveyAnswer]) -> tuple[str, str, str]:
    """(category, severity, description) of the low answers of one response."""
    survey_settings = settings_for_dealer(response.dealer_id)
    thresholds = {
        QuestionKind.RATING_5: survey_settings.low_rating5,
        QuestionKind.RATING_10: survey_settings.low_rating10,
        QuestionKind.NPS: survey_settings.low_nps,
    }
    low: list[SurveyAnswer] = []
    texts: list[str] = []
    severe = False
    for answer in answers:
        if answer.kind == QuestionKind.TEXT and answer.text.strip():
            texts.append(answer.text.strip())
            continue
        if answer.value is None or answer.kind not in thresholds:
            continue
        if answer.kind != QuestionKind.NPS and answer.aspect == Aspect.EXPECTATION:
            continue
        if answer.value <= thresholds[answer.kind]:
            low.append(answer)
            if answer.kind == QuestionKind.NPS and answer.value <= 3:
                severe = True
            if answer.kind != QuestionKind.NPS and answer.value == 1:
                severe = True
    # The category: the lowest-scored dimension a complaint category names.
    category = ComplaintCategory.OTHER
    named = [a for a in low if a.dimension in CATEGORY_OF_DIMENSION]
    if named:
        lowest = min(named, key=lambda a: (_points(a.kind, a.value or 0), a.question_id))
        category = CATEGORY_OF_DIMENSION[lowest.dimension]
    lines = [
        _("Low survey answer (%(kind)s, %(date)s):")
        % {
            "kind": SurveyKind(response.kind).label,
            "date": timezone.localtime(response.answered_at).strftime("%Y-%m-%d %H:%M"),
        }
    ]
    for answer in low:
        high = SCALES[answer.kind][1]
        lines.append(f"- {answer.question.text}: {answer.value}/{high}")
    for text in texts:
        lines.append(_("The customer wrote: “%(text)s”") % {"text": text})
    severity = ComplaintSeverity.HIGH if severe else ComplaintSeverity.MEDIUM
    return category, severity, "\n".join(lines)


def _raise_alert(response_id: int, dealer_id: int, now: datetime.datetime) -> bool:
    """Claim and alert one response; False when it is not low or was alerted already."""
    from dealercrm.worklist.models import TaskKind
    from dealercrm.worklist.services import notice_create, task_create

    from .intake import complaint_open

    with dealer_scope(dealer_id), transaction.atomic():
        claimed = SurveyResponse.objects.filter(
            pk=response_id, dealer_id=dealer_id, is_low=True, alerted_at__isnull=True
        ).update(alerted_at=now)
        if not claimed:
            return False
        response = SurveyResponse.objects.select_related("invitation", "customer").get(
            pk=response_id
        )
        answers = list(
            SurveyAnswer.objects.filter(dealer_id=dealer_id, response_id=response_id)
            .select_related("question")
            .order_by("question__position", "id")
        )
        category, severity, description = _assess(response, answers)
        action = settings_for_dealer(dealer_id).low_action
        invitation = response.invitation
        managers = _manager_ids(dealer_id)
        link = reverse("surveys:response", kwargs={"response_id": response_id})
        complaint = None
        if action in (LowScoreAction.COMPLAINT, LowScoreAction.BOTH):
            repair_order_id = (
                int(invitation.source_id)
                if invitation.source_kind == "service.repair_order"
                and invitation.source_id.isdigit()
                else None
            )
            complaint = complaint_open(
                actor=None,
                dealer_id=dealer_id,
                customer_id=response.customer_id,
                channel=ComplaintChannel.SURVEY,
                description=description,
                category=category,
                severity=severity,
                vehicle_id=invitation.vehicle_id,
                repair_order_id=repair_order_id,
                source_kind=SOURCE_KIND,
                source_id=str(response_id),
            )
        title = _("Unhappy customer: call %(name)s back") % {"name": response.customer.name}
        if action in (LowScoreAction.RECOVERY_TASK, LowScoreAction.BOTH):
            task_create(
                dealer_id=dealer_id,
                customer_id=response.customer_id,
                kind=TaskKind.RECOVERY,
                title=title,
                body=description,
                assignee_id=managers[0] if managers else None,
                due_at=now + RECOVERY_DUE,
                source_kind=SOURCE_KIND,
                source_id=str(response_id),
            )
        if managers:
            notice_create(
                dealer_id=dealer_id,
                recipient_ids=managers,
                title=_("Low survey score: %(name)s") % {"name": response.customer.name},
                body=description,
                link=(
                    reverse("feedback:complaint", kwargs={"complaint_id": complaint.pk})
                    if complaint is not None
                    else link
                ),
                source_kind=SOURCE_KIND,
                source_id=str(response_id),
                reason="low_score",
            )
    return True


def on_response_recorded(response_id: int, dealer_id: int) -> None:
    """survey_events listener: raise the low-score alert for a low response."""
    _raise_alert(response_id, dealer_id, timezone.now())


def survey_alerts_sweep(now: datetime.datetime | None = None) -> int:
    """Low responses still without an alert (the listener failed or was not running): alert them
    now. Returns how many were alerted."""
    now = now or timezone.now()
    with dealer_scope(None):
        pending = list(
            SurveyResponse.objects.unscoped()
            .filter(is_low=True, alerted_at__isnull=True, answered_at__lte=now - SWEEP_GRACE)
            .order_by("id")
            .values_list("pk", "dealer_id")[:1000]
        )
    alerted = 0
    for response_id, dealer_id in pending:
        try:
            alerted += _raise_alert(response_id, dealer_id, now)
        except Exception:  # one bad response must not hold up the others; it stays pending
            logger.exception("survey alert for response %s failed", response_id)
    return alerted
