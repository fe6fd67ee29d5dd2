"""The questionnaire builder and its versions.

A published version is frozen: its questions never change, so answers already given keep the
questions they answered. Editing a questionnaire whose current version is published starts a
new draft (a copy of the current questions, number + 1); publishing the draft makes it the
current version and retires the one before.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import Brand, User

from ..models import (
    SCALES,
    Aspect,
    Dimension,
    Question,
    QuestionKind,
    Questionnaire,
    QuestionnaireVersion,
    SurveyKind,
    VersionStatus,
)

CHOICE_KINDS = (QuestionKind.SINGLE, QuestionKind.MULTIPLE)

# --- the brand's standard questionnaires (content in Chinese: the customers read it) ---------

_NPS = (QuestionKind.NPS, Dimension.OVERALL, Aspect.EXPERIENCE)

# (kind, dimension, aspect, text, options, required)
_Q = tuple[str, str, str, str, list[str], bool]


def _pair(dimension: str, expectation: str, experience: str) -> list[_Q]:
    return [
        (QuestionKind.RATING_5, dimension, Aspect.EXPECTATION, expectation, [], True),
        (QuestionKind.RATING_5, dimension, Aspect.EXPERIENCE, experience, [], True),
    ]


DEFAULT_QUESTIONNAIRES: dict[str, dict[str, Any]] = {
    SurveyKind.AFTER_DELIVERY: {
        "title": "新车交付满意度调查",
        "introduction": (
            "感谢您选择我们！为了不断改进购车和交车服务，请花两分钟回答以下问题。"
            "每道题的评分为 1–5 分（1 分最低，5 分最高）。"
        ),
        "questions": [
            (*_NPS, "您有多大可能向亲友推荐我们的经销店？（0–10 分）", [], True),
            *_pair(
                Dimension.STAFF,
                "到店之前，您对销售顾问的专业程度有多高的期望？",
                "您对销售顾问的专业程度和服务态度的评价？",
            ),
            *_pair(
                Dimension.PRODUCT,
                "购车之前，您对所购车型的品质有多高的期望？",
                "交车时，您对车辆的品质和交付状态的评价？",
            ),
            *_pair(
                Dimension.PRICE,
                "购车之前，您对价格透明和优惠有多高的期望？",
                "您对价格透明度和报价说明的评价？",
            ),
            *_pair(
                Dimension.FACILITIES,
                "到店之前，您对展厅环境和设施有多高的期望？",
                "您对展厅环境、交车区和设施的评价？",
            ),
            (
                QuestionKind.SINGLE,
                "",
                Aspect.EXPERIENCE,
                "您最初是通过什么渠道了解到我们的？",
                ["朋友推荐", "网络平台", "路过到店", "厂家活动", "其他"],
                False,
            ),
            (
                QuestionKind.TEXT,
                "",
                Aspect.EXPERIENCE,
                "您还有什么意见或建议想告诉我们？",
                [],
                False,
            ),
        ],
    },
    SurveyKind.AFTER_SERVICE: {
        "title": "售后服务满意度回访",
        "introduction": (
            "感谢您本次到店保养维修！您的意见能帮助我们把服务做得更好，"
            "请花两分钟回答以下问题。每道题的评分为 1–5 分（1 分最低，5 分最高）。"
        ),
        "questions": [
            (*_NPS, "您有多大可能向亲友推荐我们的售后服务？（0–10 分）", [], True),
            *_pair(
                Dimension.SERVICE_QUALITY,
                "来店之前，您对维修保养质量有多高的期望？",
                "您对本次维修保养质量的评价？",
            ),
            *_pair(
                Dimension.WAITING_TIME,
                "来店之前，您对等待时长有什么期望？（时间越短分越高）",
                "您对本次等待时长的评价？",
            ),
            *_pair(
                Dimension.PRICE,
                "来店之前，您对收费透明度有多高的期望？",
                "您对本次收费透明度和费用说明的评价？",
            ),
            *_pair(
                Dimension.STAFF,
                "来店之前，您对服务顾问的服务有多高的期望？",
                "您对服务顾问的专业程度和服务态度的评价？",
            ),
            *_pair(
                Dimension.FACILITIES,
                "来店之前，您对休息区和设施有多高的期望？",
                "您对客户休息区和设施的评价？",
            ),
            (
                QuestionKind.SINGLE,
                "",
                Aspect.EXPERIENCE,
                "本次车辆问题是否一次修好？",
                ["一次修好", "需要再次返修", "还不确定"],
                False,
            ),
            (
                QuestionKind.TEXT,
                "",
                Aspect.EXPERIENCE,
                "您还有什么意见或建议想告诉我们？",
                [],
                False,
            ),
        ],
    },
    SurveyKind.AFTER_COMPLAINT: {
        "title": "投诉处理满意度回访",
        "introduction": (
            "感谢您给我们改进的机会。关于您最近反映的问题，请告诉我们处理得怎么样。"
            "每道题的评分为 1–5 分（1 分最低，5 分最高）。"
        ),
        "questions": [
            (*_NPS, "经过这次处理，您有多大可能向亲友推荐我们？（0–10 分）", [], True),
            *_pair(
                Dimension.STAFF,
                "反映问题时，您对处理人员的态度有多高的期望？",
                "您对处理人员的态度和沟通的评价？",
            ),
            *_pair(
                Dimension.WAITING_TIME,
                "反映问题时，您希望多快得到回复和解决？",
                "您对回复和解决问题的速度的评价？",
            ),
            *_pair(
                Dimension.SERVICE_QUALITY,
                "反映问题时，您对解决方案有多高的期望？",
                "您对最终解决方案的评价？",
            ),
            (
                QuestionKind.SINGLE,
                "",
                Aspect.EXPERIENCE,
                "您反映的问题现在是否已经解决？",
                ["已经解决", "部分解决", "没有解决"],
                True,
            ),
            (
                QuestionKind.TEXT,
                "",
                Aspect.EXPERIENCE,
                "您还有什么意见或建议想告诉我们？",
                [],
                False,
            ),
        ],
    },
}


@transaction.atomic
def questionnaires_install_defaults(*, brand: Brand) -> list[Questionnaire]:
    """The brand's standard questionnaires (after delivery, after service, after a complaint),
    published. Idempotent: a kind the brand already has a questionnaire of is left as it is."""
    existing = {
        q.kind: q
        for q in Questionnaire.objects.select_for_update()
        .filter(brand=brand, dealer__isnull=True, kind__in=list(DEFAULT_QUESTIONNAIRES))
        .order_by("-id")
    }
    result: list[Questionnaire] = []
    now = timezone.now()
    for kind, spec in DEFAULT_QUESTIONNAIRES.items():
        if kind in existing:
            result.append(existing[kind])
            continue
        questionnaire = Questionnaire.objects.create(
            brand=brand,
            dealer=None,
            kind=kind,
            title=spec["title"],
            introduction=spec["introduction"],
            created_at=now,
        )
        version = QuestionnaireVersion.objects.create(
            questionnaire=questionnaire,
            number=1,
            status=VersionStatus.PUBLISHED,
            published_at=now,
            created_at=now,
        )
        Question.objects.bulk_create(
            [
                Question(
                    version=version,
                    position=position,
                    kind=qkind,
                    dimension=dimension,
                    aspect=aspect,
                    text=text,
                    choices=list(options),
                    required=required,
                )
                for position, (qkind, dimension, aspect, text, options, required) in enumerate(
                    spec["questions"], start=1
                )
            ]
        )
        questionnaire.current_version = version
        questionnaire.save(update_fields=["current_version"])
        result.append(questionnaire)
    return result


# --- the builder ---------------------------------------------------------------------------


def _check_can_edit(actor: User, questionnaire: Questionnaire) -> None:
    from ..selectors.questionnaires import can_edit_questionnaire

    if not can_edit_questionnaire(actor, questionnaire):
        raise PermissionDenied(_("Only the brand edits the brand's questionnaires."))


def _owner_of(actor: User) -> tuple[int, int | None]:
    """(brand id, dealer id or None) of what this user creates."""
    if actor.dealer_id:
        from dealercrm.core.models import Dealer

        brand_id = Dealer.objects.filter(pk=actor.dealer_id).values_list("brand_id", flat=True)[0]
        return brand_id, actor.dealer_id
    if not actor.brand_id:
        raise ValidationError(_("Only a dealer's or the brand's staff create questionnaires."))
    return actor.brand_id, None


@transaction.atomic
def questionnaire_create(
    *, actor: User, title: str, kind: str, introduction: str = ""
) -> Questionnaire:
    """A new questionnaire with an empty draft (version 1): the dealer's own for dealer staff,
    the brand's for OEM staff."""
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = [_("Give the questionnaire a title.")]
    elif len(title) > 120:
        errors["title"] = [_("The title can be at most 120 characters.")]
    if kind not in SurveyKind.values:
        errors["kind"] = [_("Choose when the questionnaire is sent.")]
    if errors:
        raise ValidationError(errors)
    brand_id, dealer_id = _owner_of(actor)
    questionnaire = Questionnaire.objects.create(
        brand_id=brand_id,
        dealer_id=dealer_id,
        kind=kind,
        title=title,
        introduction=(introduction or "").strip(),
        created_by=actor,
    )
    QuestionnaireVersion.objects.create(questionnaire=questionnaire, number=1)
    return questionnaire


@transaction.atomic
def questionnaire_update(
    *, actor: User, questionnaire: Questionnaire, title: str, introduction: str, is_active: bool
) -> Questionnaire:
    """Title, introduction and whether it is in use: not part of a version (no answer depends
    on them)."""
    _check_can_edit(actor, questionnaire)
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": [_("Give the questionnaire a title.")]})
    questionnaire.title = title[:120]
    questionnaire.introduction = (introduction or "").strip()
    questionnaire.is_active = bool(is_active)
    questionnaire.save(update_fields=["title", "introduction", "is_active"])
    return questionnaire


def questionnaire_draft(*, actor: User, questionnaire: Questionnaire) -> QuestionnaireVersion:
    """The draft to edit: the existing draft, else a new one copying the current version's
    questions (number + 1). Locks the questionnaire row so two editors get one draft."""
    _check_can_edit(actor, questionnaire)
    with transaction.atomic():
        Questionnaire.objects.select_for_update().filter(pk=questionnaire.pk).first()
        draft = (
            QuestionnaireVersion.objects.filter(
                questionnaire=questionnaire, status=VersionStatus.DRAFT
            )
            .order_by("-number")
            .first()
        )
        if draft is not None:
            return draft
        number = (
            QuestionnaireVersion.objects.filter(questionnaire=questionnaire).aggregate(
                top=Max("number")
            )["top"]
            or 0
        ) + 1
        draft = QuestionnaireVersion.objects.create(questionnaire=questionnaire, number=number)
        source_id = questionnaire.current_version_id
        if source_id is not None:
            Question.objects.bulk_create(
                [
                    Question(
                        version=draft,
                        position=q.position,
                        kind=q.kind,
                        dimension=q.dimension,
                        aspect=q.aspect,
                        text=q.text,
                        help_text=q.help_text,
                        choices=list(q.choices or []),
                        required=q.required,
                    )
                    for q in Question.objects.filter(version_id=source_id).order_by(
                        "position", "id"
                    )
                ]
            )
        return draft


def _clean_question(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    kind = data.get("kind") or ""
    if kind not in QuestionKind.values:
        errors["kind"] = [_("Choose the answer type.")]
    text = (data.get("text") or "").strip()
    if not text:
        errors["text"] = [_("Write the question.")]
    elif len(text) > 300:
        errors["text"] = [_("The question can be at most 300 characters.")]
    dimension = data.get("dimension") or ""
    if dimension and dimension not in Dimension.values:
        errors["dimension"] = [_("Choose a dimension from the list.")]
    aspect = data.get("aspect") or Aspect.EXPERIENCE
    if aspect not in Aspect.values:
        errors["aspect"] = [_("Choose whether the question asks about expectation or experience.")]
    raw_choices = data.get("choices") or []
    if isinstance(raw_choices, str):
        raw_choices = raw_choices.splitlines()
    choices: list[str] = []
    for option in raw_choices:
        option = str(option).strip()
        if option and option not in choices:
            choices.append(option[:100])
    if kind in CHOICE_KINDS and len(choices) < 2:
        errors["choices"] = [_("A choice question needs at least two options, one per line.")]
    if errors:
        raise ValidationError(errors)
    if kind not in CHOICE_KINDS:
        choices = []
    if kind not in SCALES:
        aspect = Aspect.EXPERIENCE  # only ratings ask about an expectation
    return {
        "kind": kind,
        "text": text,
        "help_text": (data.get("help_text") or "").strip()[:300],
        "dimension": dimension,
        "aspect": aspect,
        "choices": choices,
        "required": bool(data.get("required", True)),
    }


@transaction.atomic
def question_add(*, actor: User, questionnaire: Questionnaire, data: dict[str, Any]) -> Question:
    """Add a question at the end of the draft (started from the current version if needed)."""
    cleaned = _clean_question(data)
    draft = questionnaire_draft(actor=actor, questionnaire=questionnaire)
    top = Question.objects.filter(version=draft).aggregate(top=Max("position"))["top"] or 0
    return Question.objects.create(version=draft, position=top + 1, **cleaned)


def draft_question_for(*, actor: User, questionnaire: Questionnaire, question_id: int) -> Question:
    """The draft's question for `question_id`: itself when it is in the draft; its copy when it
    is a question of the published version the draft was started from (same position)."""
    draft = questionnaire_draft(actor=actor, questionnaire=questionnaire)
    question = Question.objects.filter(pk=question_id, version__questionnaire=questionnaire).first()
    if question is None:
        raise ValidationError(_("That question is not in this questionnaire."))
    if question.version_id == draft.pk:
        return question
    copy = Question.objects.filter(
        version=draft, position=question.position, text=question.text
    ).first()
    if copy is None:
        raise ValidationError(_("That question is not in the draft being edited."))
    return copy


@transaction.atomic
def question_update(
    *, actor: User, questionnaire: Questionnaire, question_id: int, data: dict[str, Any]
) -> Question:
    cleaned = _clean_question(data)
    question = draft_question_for(actor=actor, questionnaire=questionnaire, question_id=question_id)
    for name, value in cleaned.items():
        setattr(question, name, value)
    question.save(update_fields=list(cleaned))
    return question


@transaction.atomic
def question_delete(*, actor: User, questionnaire: Questionnaire, question_id: int) -> None:
    question = draft_question_for(actor=actor, questionnaire=questionnaire, question_id=question_id)
    version_id, position = question.version_id, question.position
    question.delete()
    Question.objects.filter(version_id=version_id, position__gt=position).update(
        position=F("position") - 1
    )


@transaction.atomic
def question_move(
    *, actor: User, questionnaire: Questionnaire, question_id: int, direction: str
) -> Question:
    """Swap the question with its neighbour above ("up") or below ("down")."""
    if direction not in ("up", "down"):
        raise ValidationError({"direction": [_("Move a question up or down.")]})
    question = draft_question_for(actor=actor, questionnaire=questionnaire, question_id=question_id)
    questions = list(
        Question.objects.filter(version_id=question.version_id).order_by("position", "id")
    )
    index = next(i for i, q in enumerate(questions) if q.pk == question.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(questions):
        questions[index], questions[other] = questions[other], questions[index]
    for position, item in enumerate(questions, start=1):
        item.position = position
    Question.objects.bulk_update(questions, ["position"])
    return question


def version_problems(questions: Iterable[Question]) -> list[str]:
    """What stops a version from being published, in words (empty: it may be published)."""
    questions = list(questions)
    problems: list[str] = []
    if not questions:
        problems.append(_("Add at least one question."))
    for question in questions:
        if question.kind in CHOICE_KINDS and len(question.choices or []) < 2:
            problems.append(
                _("“%(question)s” needs at least two options.") % {"question": question.text}
            )
    # An expectation without an experience on the same scale gives no gap.
    experiences = {
        (q.dimension, q.kind)
        for q in questions
        if q.kind in SCALES and q.aspect == Aspect.EXPERIENCE
    }
    for question in questions:
        if question.kind in SCALES and question.aspect == Aspect.EXPECTATION:
            if (question.dimension, question.kind) not in experiences:
                problems.append(
                    _(
                        "“%(question)s” asks about an expectation: add an experience question "
                        "of the same dimension on the same scale, so the gap can be computed."
                    )
                    % {"question": question.text}
                )
            if not question.dimension:
                problems.append(
                    _("“%(question)s” asks about an expectation: choose its dimension.")
                    % {"question": question.text}
                )
    return problems


@transaction.atomic
def questionnaire_publish(*, actor: User, questionnaire: Questionnaire) -> QuestionnaireVersion:
    """Make the draft the current version; the previous one is retired. Refused, naming the
    problems, when the draft is not fit to be answered."""
    _check_can_edit(actor, questionnaire)
    Questionnaire.objects.select_for_update().filter(pk=questionnaire.pk).first()
    draft = (
        QuestionnaireVersion.objects.filter(questionnaire=questionnaire, status=VersionStatus.DRAFT)
        .order_by("-number")
        .first()
    )
    if draft is None:
        raise ValidationError(_("There is no draft to publish: edit a question first."))
    problems = version_problems(Question.objects.filter(version=draft).order_by("position", "id"))
    if problems:
        raise ValidationError(problems)
    now = timezone.now()
    QuestionnaireVersion.objects.filter(
        questionnaire=questionnaire, status=VersionStatus.PUBLISHED
    ).update(status=VersionStatus.RETIRED)
    draft.status = VersionStatus.PUBLISHED
    draft.published_at = now
    draft.published_by = actor
    draft.save(update_fields=["status", "published_at", "published_by"])
    questionnaire.current_version = draft
    questionnaire.save(update_fields=["current_version"])
    return draft
