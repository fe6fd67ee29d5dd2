"""Reads of questionnaires: which version a survey uses, the builder's lists, one questionnaire
for a user (404 alike for missing and another dealer's)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from dealercrm.core.models import Dealer, User
from dealercrm.customers.selectors import with_customer_phone

from ..models import (
    Dimension,
    Question,
    Questionnaire,
    QuestionnaireVersion,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    VersionStatus,
)


def questionnaire_for(dealer_id: int, kind: str) -> QuestionnaireVersion | None:
    """The published version a survey of `kind` at this dealer uses: the dealer's own active
    questionnaire of that kind with a published version, else the brand's (dealer empty) one;
    None when neither. Two queries."""
    brand_id = Dealer.objects.filter(pk=dealer_id).values_list("brand_id", flat=True).first()
    if brand_id is None:
        return None
    candidates = (
        Questionnaire.objects.filter(
            Q(dealer_id=dealer_id) | Q(dealer__isnull=True),
            brand_id=brand_id,
            kind=kind,
            is_active=True,
            current_version__isnull=False,
            current_version__status=VersionStatus.PUBLISHED,
        )
        .select_related("current_version")
        .order_by("dealer_id", "-id")  # NULLs sort differently per engine: decide in Python
    )
    own = brand = None
    for questionnaire in candidates:
        if questionnaire.dealer_id == dealer_id and own is None:
            own = questionnaire
        elif questionnaire.dealer_id is None and brand is None:
            brand = questionnaire
    chosen = own or brand
    return chosen.current_version if chosen is not None else None


def _brand_id_of(user: User) -> int | None:
    if user.dealer_id:
        return Dealer.objects.filter(pk=user.dealer_id).values_list("brand_id", flat=True).first()
    return user.brand_id


def visible_questionnaires(user: User) -> QuerySet[Questionnaire]:
    """Dealer staff: their dealer's own and the brand's. OEM staff: the brand's and every
    dealer's of the brand. The system administrator (no brand, no dealer): all."""
    qs = Questionnaire.objects.all()
    if user.dealer_id:
        brand_id = _brand_id_of(user) or 0
        return qs.filter(brand_id=brand_id).filter(
            Q(dealer_id=user.dealer_id) | Q(dealer__isnull=True)
        )
    if user.brand_id:
        return qs.filter(brand_id=user.brand_id)
    return qs


def get_questionnaire_for_user(user: User, questionnaire_id: int) -> Questionnaire:
    questionnaire = (
        visible_questionnaires(user)
        .select_related("current_version", "dealer")
        .filter(pk=questionnaire_id)
        .first()
    )
    if questionnaire is None:
        raise Http404
    return questionnaire


def can_edit_questionnaire(user: User, questionnaire: Questionnaire) -> bool:
    """Dealers edit their own; the brand's questionnaires are the OEM's (or the system
    administrator's)."""
    if questionnaire.dealer_id is None:
        return not user.dealer_id
    if user.dealer_id:
        return user.dealer_id == questionnaire.dealer_id
    return True


def latest_version(questionnaire: Questionnaire) -> QuestionnaireVersion | None:
    return questionnaire.versions.order_by("-number").first()


def draft_version(questionnaire: Questionnaire) -> QuestionnaireVersion | None:
    return questionnaire.versions.filter(status=VersionStatus.DRAFT).order_by("-number").first()


def version_questions(version_id: int) -> list[Question]:
    return list(Question.objects.filter(version_id=version_id).order_by("position", "id"))


# --- answering: the invitation behind a link, an invitation or response for staff ----------


def invitation_for_token(token: str) -> SurveyInvitation | None:
    """The invitation of a personal link, across dealers (the link is the proof), with its
    dealer and version; None for anything else. Shapes no real token can have are refused
    without a query."""
    from dealercrm.core.tenancy import dealer_scope

    from ..services.survey_links import token_hash

    token = (token or "").strip()
    if not (32 <= len(token) <= 64):
        return None
    with dealer_scope(None):
        return (
            SurveyInvitation.objects.unscoped()
            .select_related("dealer", "version__questionnaire")
            .filter(token_hash=token_hash(token))
            .first()
        )


def get_invitation_for_user(user: User, invitation_id: int) -> SurveyInvitation:
    """One invitation of the dealers the user may see (the request's scope); 404 alike for a
    missing one and another dealer's."""
    invitation = (
        with_customer_phone(
            SurveyInvitation.objects.select_related(
                "customer", "dealer", "version__questionnaire", "consultant", "advisor"
            )
        )
        .filter(pk=invitation_id)
        .first()
    )
    if invitation is None:
        raise Http404
    return invitation


def get_response_for_user(user: User, response_id: int) -> SurveyResponse:
    response = (
        SurveyResponse.objects.select_related(
            "customer",
            "dealer",
            "invitation",
            "version__questionnaire",
            "entered_by",
            "consultant",
            "advisor",
            "car_model",
        )
        .filter(pk=response_id)
        .first()
    )
    if response is None:
        raise Http404
    return response


def response_rows(response: SurveyResponse) -> list[dict[str, Any]]:
    """Every question of the version the customer answered, in order, with the answer (None when
    an optional question was left out). Two queries."""
    answers = {
        answer.question_id: answer
        for answer in SurveyAnswer.objects.filter(
            dealer_id=response.dealer_id, response_id=response.pk
        )
    }
    return [
        {"question": question, "answer": answers.get(question.pk)}
        for question in version_questions(response.version_id)
    ]


def response_gaps(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per dimension of this response: expectation and experience on 0–100 and the gap the
    documents define (satisfaction = experience − expectation)."""
    from ..services.answering import rating_points

    sums: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        answer = row["answer"]
        if answer is None or answer.value is None or not answer.dimension:
            continue
        points = rating_points(answer.kind, answer.value)
        if points is None:
            continue
        sums.setdefault(answer.dimension, {}).setdefault(answer.aspect, []).append(points)
    result = []
    for dimension, aspects in sums.items():
        expectation = _mean(aspects.get("expectation"))
        experience = _mean(aspects.get("experience"))
        result.append(
            {
                "dimension": Dimension(dimension).label
                if dimension in Dimension.values
                else dimension,
                "expectation": expectation,
                "experience": experience,
                "gap": (
                    round(experience - expectation, 1)
                    if expectation is not None and experience is not None
                    else None
                ),
            }
        )
    return result


def _mean(values: list[float] | None) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def response_follow_ups(response: SurveyResponse) -> dict[str, Any]:
    """The complaint and the recovery task a low answer raised, if any (one query each)."""
    from dealercrm.worklist.models import Task

    from ..models import Complaint

    source = {"source_kind": "feedback.survey_response", "source_id": str(response.pk)}
    complaint = Complaint.objects.filter(dealer_id=response.dealer_id, **source).first()
    task = Task.objects.filter(dealer_id=response.dealer_id, **source).order_by("id").first()
    return {"complaint": complaint, "task": task}


def questionnaire_rows(user: User) -> list[Questionnaire]:
    """The builder's list with each row's draft number (None when no draft), one query."""
    from django.db.models import OuterRef, Subquery

    drafts = QuestionnaireVersion.objects.filter(
        questionnaire_id=OuterRef("pk"), status=VersionStatus.DRAFT
    ).order_by("-number")
    rows: list[Questionnaire] = list(
        visible_questionnaires(user)
        .select_related("current_version", "dealer")
        .annotate(draft_number=Subquery(drafts.values("number")[:1]))
        .order_by("kind", "title", "id")
    )
    rows.sort(key=lambda q: (q.dealer_id is None, q.kind, q.title))
    for row in rows:
        row.editable = can_edit_questionnaire(user, row)  # type: ignore[attr-defined]
    return rows


def working_version(questionnaire: Questionnaire) -> QuestionnaireVersion | None:
    """What the builder shows: the draft being edited, else the published version."""
    return draft_version(questionnaire) or questionnaire.current_version


def get_builder_question(questionnaire: Questionnaire, question_id: int) -> Question:
    """A question of any version of this questionnaire; 404 otherwise."""
    question = (
        Question.objects.select_related("version")
        .filter(pk=question_id, version__questionnaire_id=questionnaire.pk)
        .first()
    )
    if question is None:
        raise Http404
    return question
