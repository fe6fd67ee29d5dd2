"""Answered surveys for the score tests: a response with given answers, straight into the tables
(the answering service belongs to another topic), then the rollup's listener as it would run."""

from __future__ import annotations

import datetime
import itertools

from django.utils import timezone

from dealercrm.feedback.models import (
    Question,
    QuestionKind,
    ResponseChannel,
    SurveyAnswer,
    SurveyKind,
    SurveyResponse,
)
from dealercrm.feedback.services.scores import on_response_recorded
from tests.customers.factories import CustomerFactory
from tests.feedback.factories import make_invitation, make_questionnaire

_serial = itertools.count(1)

# (kind, dimension, aspect, text)
QUESTIONS = [
    (QuestionKind.NPS, "overall", "experience", "推荐吗？"),
    (QuestionKind.RATING_5, "service_quality", "expectation", "服务期望"),
    (QuestionKind.RATING_5, "service_quality", "experience", "服务评价"),
    (QuestionKind.RATING_10, "waiting_time", "experience", "等待时间"),
    (QuestionKind.TEXT, "", "experience", "意见"),
]


def questionnaire_for(dealer, kind: str = SurveyKind.AFTER_SERVICE):  # noqa: ANN001, ANN201
    return make_questionnaire(brand=dealer.brand, dealer=dealer, kind=kind, questions=QUESTIONS)


def answer(
    questionnaire,  # noqa: ANN001
    *,
    dealer,  # noqa: ANN001
    values: dict[str, int | str | None],
    at: datetime.datetime | None = None,
    consultant=None,  # noqa: ANN001
    advisor=None,  # noqa: ANN001
    car_model=None,  # noqa: ANN001
    record: bool = True,
) -> SurveyResponse:
    """One response. `values` maps a question's text (QUESTIONS) to its answer; missing ones
    are skipped. `record` runs the rollup listener."""
    at = at or timezone.now()
    customer = CustomerFactory(dealer=dealer)
    invitation, _token = make_invitation(
        questionnaire=questionnaire,
        customer=customer,
        source_id=f"score-{next(_serial)}",
        status="answered",
        consultant=consultant,
        advisor=advisor,
        car_model=car_model,
    )
    response = SurveyResponse.objects.create(
        dealer=dealer,
        invitation=invitation,
        version_id=invitation.version_id,
        kind=invitation.kind,
        customer=customer,
        consultant=consultant,
        advisor=advisor,
        car_model=car_model,
        channel=ResponseChannel.WEB,
        answered_at=at,
    )
    questions = {q.text: q for q in Question.objects.filter(version_id=invitation.version_id)}
    SurveyAnswer.objects.bulk_create(
        [
            SurveyAnswer(
                dealer=dealer,
                response=response,
                question=questions[text],
                kind=questions[text].kind,
                dimension=questions[text].dimension,
                aspect=questions[text].aspect,
                value=value if isinstance(value, int) else None,
                text=value if isinstance(value, str) else "",
            )
            for text, value in values.items()
        ]
    )
    if record:
        on_response_recorded(response.pk, dealer.pk)
    return response
