"""Factories for complaints and surveys (the ORM directly, no services)."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from dealercrm.feedback.models import (
    Complaint,
    ComplaintChannel,
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireVersion,
    SurveyChannel,
    SurveyInvitation,
    SurveyKind,
    VersionStatus,
)
from dealercrm.feedback.services.survey_links import new_token
from tests.customers.factories import CustomerFactory


class ComplaintFactory(factory.django.DjangoModelFactory):
    """A complaint as intake leaves it: received now, the default clocks (30 min / 24 h)."""

    class Meta:
        model = Complaint

    customer = factory.SubFactory(CustomerFactory)
    dealer = factory.SelfAttribute("customer.dealer")
    channel = ComplaintChannel.PHONE
    description = "等待时间太长，没人解释原因"
    created_at = factory.LazyFunction(timezone.now)
    response_due_at = factory.LazyAttribute(lambda o: o.created_at + datetime.timedelta(minutes=30))
    solution_due_at = factory.LazyAttribute(lambda o: o.created_at + datetime.timedelta(hours=24))


# (kind, dimension, aspect, text) — a service questionnaire with an expectation/experience pair.
SERVICE_QUESTIONS = [
    (QuestionKind.NPS, "overall", "experience", "您有多大可能向亲友推荐我们？"),
    (QuestionKind.RATING_5, "service_quality", "expectation", "来店前您对服务质量的期望？"),
    (QuestionKind.RATING_5, "service_quality", "experience", "您对本次服务质量的评价？"),
    (QuestionKind.RATING_5, "waiting_time", "experience", "您对等待时间的评价？"),
    (QuestionKind.SINGLE, "", "experience", "您是如何预约的？"),
    (QuestionKind.TEXT, "", "experience", "还有什么想对我们说的？"),
]


def make_questionnaire(
    *,
    brand,  # noqa: ANN001
    dealer=None,  # noqa: ANN001
    kind: str = SurveyKind.AFTER_SERVICE,
    questions: list[tuple[str, str, str, str]] | None = None,
    published: bool = True,
    title: str = "售后满意度回访",
) -> Questionnaire:
    """A questionnaire with version 1 holding `questions` (default SERVICE_QUESTIONS);
    published and current unless `published=False`."""
    questionnaire = Questionnaire.objects.create(brand=brand, dealer=dealer, kind=kind, title=title)
    version = QuestionnaireVersion.objects.create(
        questionnaire=questionnaire,
        number=1,
        status=VersionStatus.PUBLISHED if published else VersionStatus.DRAFT,
        published_at=timezone.now() if published else None,
    )
    for position, (qkind, dimension, aspect, text) in enumerate(
        questions or SERVICE_QUESTIONS, start=1
    ):
        Question.objects.create(
            version=version,
            position=position,
            kind=qkind,
            dimension=dimension,
            aspect=aspect,
            text=text,
            choices=["电话", "微信", "到店"] if qkind in ("single", "multiple") else [],
            required=qkind != QuestionKind.TEXT,
        )
    if published:
        questionnaire.current_version = version
        questionnaire.save(update_fields=["current_version"])
    return questionnaire


def make_invitation(
    *,
    questionnaire: Questionnaire,
    customer,  # noqa: ANN001
    source_id: str | None = None,
    expires_in: datetime.timedelta = datetime.timedelta(days=7),
    **fields,  # noqa: ANN003
) -> tuple[SurveyInvitation, str]:
    """A sent invitation to the questionnaire's current version; returns (invitation, token)."""
    token, token_hash = new_token()
    now = timezone.now()
    invitation = SurveyInvitation.objects.create(
        dealer_id=customer.dealer_id,
        version_id=questionnaire.current_version_id,
        kind=questionnaire.kind,
        customer=customer,
        source_kind=fields.pop("source_kind", "test"),
        source_id=source_id or token_hash[:12],
        channel=fields.pop("channel", SurveyChannel.SMS),
        token_hash=token_hash,
        status=fields.pop("status", "sent"),
        sent_at=fields.pop("sent_at", now),
        expires_at=now + expires_in,
        **fields,
    )
    return invitation, token
