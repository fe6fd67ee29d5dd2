"""Feedback API: questionnaires (the builder): list, one questionnaire with the questions of
its draft and of its published version, create, add a question to the draft, publish."""

from __future__ import annotations

import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm

from ..models import Question, Questionnaire, QuestionnaireVersion, VersionStatus
from ..selectors import questionnaires as selectors
from ..services import questionnaires as services

router = Router()


class QuestionOut(Schema):
    id: int
    position: int
    kind: str
    dimension: str
    aspect: str
    text: str
    help_text: str
    choices: list[str]
    required: bool


class VersionOut(Schema):
    id: int
    number: int
    status: str
    published_at: datetime.datetime | None
    questions: list[QuestionOut]


class QuestionnaireOut(Schema):
    id: int
    kind: str
    title: str
    introduction: str
    is_active: bool
    dealer_id: int | None
    editable: bool
    current_version: int | None
    draft_version: int | None


class QuestionnaireDetailOut(QuestionnaireOut):
    published: VersionOut | None
    draft: VersionOut | None


class QuestionnaireIn(Schema):
    title: str
    kind: str
    introduction: str = ""


class QuestionIn(Schema):
    kind: str
    text: str
    dimension: str = ""
    aspect: str = "experience"
    choices: list[str] = []
    help_text: str = ""
    required: bool = True


def _question(q: Question) -> dict:
    return {
        "id": q.pk,
        "position": q.position,
        "kind": q.kind,
        "dimension": q.dimension,
        "aspect": q.aspect,
        "text": q.text,
        "help_text": q.help_text,
        "choices": [str(option) for option in q.choices or []],
        "required": q.required,
    }


def _version(version: QuestionnaireVersion | None) -> dict | None:
    if version is None:
        return None
    return {
        "id": version.pk,
        "number": version.number,
        "status": version.status,
        "published_at": version.published_at,
        "questions": [_question(q) for q in selectors.version_questions(version.pk)],
    }


def _summary(request: HttpRequest, q: Questionnaire, draft_number: int | None) -> dict:
    return {
        "id": q.pk,
        "kind": q.kind,
        "title": q.title,
        "introduction": q.introduction,
        "is_active": q.is_active,
        "dealer_id": q.dealer_id,
        "editable": selectors.can_edit_questionnaire(request.user, q),
        "current_version": q.current_version.number if q.current_version_id else None,
        "draft_version": draft_number,
    }


def _detail(request: HttpRequest, questionnaire: Questionnaire) -> dict:
    draft = selectors.draft_version(questionnaire)
    current = questionnaire.current_version
    return {
        **_summary(request, questionnaire, draft.number if draft else None),
        "published": _version(
            current if current and current.status == VersionStatus.PUBLISHED else None
        ),
        "draft": _version(draft),
    }


@router.get("/questionnaires", response=list[QuestionnaireOut])
@api_permission(Perm.MANAGE_SURVEYS)
def questionnaire_list(request: HttpRequest):  # noqa: ANN201
    return [
        _summary(request, q, q.draft_number)  # type: ignore[attr-defined]
        for q in selectors.questionnaire_rows(request.user)
    ]


@router.get("/questionnaires/{questionnaire_id}", response=QuestionnaireDetailOut)
@api_permission(Perm.MANAGE_SURVEYS)
def questionnaire_get(request: HttpRequest, questionnaire_id: int):  # noqa: ANN201
    return _detail(request, selectors.get_questionnaire_for_user(request.user, questionnaire_id))


@router.post("/questionnaires", response={201: QuestionnaireDetailOut})
@api_permission(Perm.MANAGE_SURVEYS)
def questionnaire_create(request: HttpRequest, payload: QuestionnaireIn):  # noqa: ANN201
    questionnaire = services.questionnaire_create(
        actor=request.user,
        title=payload.title,
        kind=payload.kind,
        introduction=payload.introduction,
    )
    questionnaire = selectors.get_questionnaire_for_user(request.user, questionnaire.pk)
    return Status(201, _detail(request, questionnaire))


@router.post("/questionnaires/{questionnaire_id}/questions", response={201: QuestionnaireDetailOut})
@api_permission(Perm.MANAGE_SURVEYS)
def questionnaire_question_add(  # noqa: ANN201
    request: HttpRequest, questionnaire_id: int, payload: QuestionIn
):
    """Add a question at the end of the draft (a new draft from the published version when
    there is none)."""
    questionnaire = selectors.get_questionnaire_for_user(request.user, questionnaire_id)
    services.question_add(actor=request.user, questionnaire=questionnaire, data=payload.dict())
    return Status(201, _detail(request, questionnaire))


@router.post("/questionnaires/{questionnaire_id}/publish", response=QuestionnaireDetailOut)
@api_permission(Perm.MANAGE_SURVEYS)
def questionnaire_publish(request: HttpRequest, questionnaire_id: int):  # noqa: ANN201
    questionnaire = selectors.get_questionnaire_for_user(request.user, questionnaire_id)
    services.questionnaire_publish(actor=request.user, questionnaire=questionnaire)
    questionnaire = selectors.get_questionnaire_for_user(request.user, questionnaire_id)
    return _detail(request, questionnaire)
