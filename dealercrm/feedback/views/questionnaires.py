"""The questionnaire builder: list, create, edit the draft's questions, preview, publish.

Dealers see their own questionnaires and the brand's (read-only); the OEM's administrators edit
the brand's. Editing a published questionnaire works on a draft (services.questionnaires), so
answers already given keep their questions.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.permissions import Perm

from ..forms.answering import AnswerForm
from ..forms.questionnaires import QuestionForm, QuestionnaireCreateForm, QuestionnaireEditForm
from ..models import Questionnaire, VersionStatus
from ..selectors import questionnaires as selectors
from ..services import questionnaires as services
from ..services.answering import answers_clean


@staff_view(Perm.MANAGE_SURVEYS)
def questionnaire_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "feedback/questionnaire_list.html",
        {"questionnaires": selectors.questionnaire_rows(request.user)},
    )


@staff_view(Perm.MANAGE_SURVEYS)
def questionnaire_create(request: HttpRequest) -> HttpResponse:
    form = QuestionnaireCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            questionnaire = services.questionnaire_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, _("Questionnaire created: now add its questions."))
            return redirect("surveys:questionnaire", questionnaire_id=questionnaire.pk)
    return render(request, "feedback/questionnaire_form.html", {"form": form})


def _detail_context(request: HttpRequest, questionnaire: Questionnaire) -> dict[str, Any]:
    version = selectors.working_version(questionnaire)
    questions = selectors.version_questions(version.pk) if version else []
    editable = selectors.can_edit_questionnaire(request.user, questionnaire)
    is_draft = version is not None and version.status == VersionStatus.DRAFT
    return {
        "questionnaire": questionnaire,
        "version": version,
        "questions": questions,
        "is_draft": is_draft,
        "editable": editable,
        "problems": services.version_problems(questions) if is_draft else [],
        "versions": list(questionnaire.versions.order_by("-number")),
        "question_form": QuestionForm(),
    }


def _questions_partial(request: HttpRequest, questionnaire: Questionnaire) -> HttpResponse:
    return render(
        request,
        "feedback/questionnaire_detail.html#questions",
        _detail_context(request, questionnaire),
    )


@staff_view(Perm.MANAGE_SURVEYS)
def questionnaire_detail(request: HttpRequest, questionnaire_id: int) -> HttpResponse:
    """GET: the questionnaire and the questions of its draft (else of its published version).
    POST: its title, introduction and whether it is in use."""
    questionnaire = selectors.get_questionnaire_for_user(request.user, questionnaire_id)
    editable = selectors.can_edit_questionnaire(request.user, questionnaire)
    form = QuestionnaireEditForm(
        request.POST if request.method == "POST" else None,
        initial={
            "title": questionnaire.title,
            "introduction": questionnaire.introduction,
            "is_active": questionnaire.is_active,
        },
    )
    status = 200
    if request.method == "POST":
        if not editable:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.questionnaire_update(
                    actor=request.user, questionnaire=questionnaire, **form.cleaned_data
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, _("Saved."))
                return redirect("surveys:questionnaire", questionnaire_id=questionnaire.pk)
        status = 400
    context = _detail_context(request, questionnaire)
    context["form"] = form
    return render(request, "feedback/questionnaire_detail.html", context, status=status)


@staff_view(Perm.MANAGE_SURVEYS)
def question_create(request: HttpRequest, questionnaire_id: int) -> HttpResponse:
    """GET: the form for a new question. POST: add it to the draft (HTMX: the questions list
    comes back; errors come back on the form)."""
    questionnaire = selectors.get_questionnaire_for_user(request.user, questionnaire_id)
    form = QuestionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not selectors.can_edit_questionnaire(request.user, questionnaire):
            raise PermissionDenied
        if form.is_valid():
            try:
                services.question_add(
                    actor=request.user, questionnaire=questionnaire, data=form.service_data()
                )
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                if request.htmx:
                    return _questions_partial(request, questionnaire)
                return redirect("surveys:questionnaire", questionnaire_id=questionnaire.pk)
    if request.htmx:
        # The add form on the questionnaire's page comes back with its messages, in its place.
        response = render(
            request,
            "feedback/questionnaire_detail.html#new_question",
            {"questionnaire": questionnaire, "question_form": form},
        )
        response["HX-Retarget"] = "#new-question"
        response["HX-Reswap"] = "outerHTML"
        return response
    return render(
        request,
        "feedback/question_form.html",
        {"questionnaire": questionnaire, "form": form, "question": None},
    )


@staff_view(Perm.MANAGE_SURVEYS)
def question_edit(request: HttpRequest, questionnaire_id: int, question_id: int) -> HttpResponse:
    """GET: the question's form. POST: save it, or with `action` delete / up / down. Every
    change goes to the draft (a published version's questions never change)."""
    questionnaire = selectors.get_questionnaire_for_user(request.user, questionnaire_id)
    question = selectors.get_builder_question(questionnaire, question_id)
    form = QuestionForm.for_question(question, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not selectors.can_edit_questionnaire(request.user, questionnaire):
            raise PermissionDenied
        action = request.POST.get("action", "save")
        done = False
        try:
            if action == "delete":
                services.question_delete(
                    actor=request.user, questionnaire=questionnaire, question_id=question.pk
                )
                done = True
            elif action in ("up", "down"):
                services.question_move(
                    actor=request.user,
                    questionnaire=questionnaire,
                    question_id=question.pk,
                    direction=action,
                )
                done = True
            elif form.is_valid():
                services.question_update(
                    actor=request.user,
                    questionnaire=questionnaire,
                    question_id=question.pk,
                    data=form.service_data(),
                )
                done = True
        except ValidationError as error:
            apply_service_errors(form, error)
        if done:
            if request.htmx:
                return _questions_partial(request, questionnaire)
            return redirect("surveys:questionnaire", questionnaire_id=questionnaire.pk)
    if request.htmx and request.method == "POST" and form.errors:
        # A move or delete from the list that was refused: the list again, with the reason.
        for message in form.non_field_errors():
            messages.error(request, message)
        return _questions_partial(request, questionnaire)
    return render(
        request,
        "feedback/question_form.html",
        {"questionnaire": questionnaire, "form": form, "question": question},
    )


@staff_view(Perm.MANAGE_SURVEYS)
def questionnaire_preview(request: HttpRequest, questionnaire_id: int) -> HttpResponse:
    """The customer's page for the draft (else the published version), without saving: a POST
    checks the answers as the real page would and shows the messages."""
    questionnaire = selectors.get_questionnaire_for_user(request.user, questionnaire_id)
    version = selectors.working_version(questionnaire)
    questions = selectors.version_questions(version.pk) if version else []
    form = AnswerForm(questions, request.POST if request.method == "POST" else None)
    checked = False
    if request.method == "POST":
        try:
            answers_clean(questions, form.answers())
            checked = True
        except ValidationError as error:
            form.set_errors(error.message_dict)
    dealer_name = questionnaire.dealer.name if questionnaire.dealer_id else ""
    return render(
        request,
        "feedback/public/answer.html",
        {
            "dealer_name": dealer_name or _("(the dealer's name)"),
            "title": questionnaire.title,
            "introduction": questionnaire.introduction,
            "form": form,
            "preview": True,
            "preview_checked": checked,
        },
    )


@require_POST
@staff_view(Perm.MANAGE_SURVEYS)
def questionnaire_publish(request: HttpRequest, questionnaire_id: int) -> HttpResponse:
    questionnaire = selectors.get_questionnaire_for_user(request.user, questionnaire_id)
    if not selectors.can_edit_questionnaire(request.user, questionnaire):
        raise PermissionDenied
    try:
        version = services.questionnaire_publish(actor=request.user, questionnaire=questionnaire)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("Version %(number)s published: new surveys use it from now on.")
            % {"number": version.number},
        )
    return redirect("surveys:questionnaire", questionnaire_id=questionnaire.pk)
