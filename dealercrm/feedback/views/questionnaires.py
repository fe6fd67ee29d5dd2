"""The questionnaire builder: list, create, edit the draft's questions, preview, publish."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm


@staff_view(Perm.MANAGE_SURVEYS)
def questionnaire_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.MANAGE_SURVEYS)
def questionnaire_create(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.MANAGE_SURVEYS)
def questionnaire_detail(request: HttpRequest, questionnaire_id: int) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.MANAGE_SURVEYS)
def question_create(request: HttpRequest, questionnaire_id: int) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.MANAGE_SURVEYS)
def question_edit(request: HttpRequest, questionnaire_id: int, question_id: int) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.MANAGE_SURVEYS)
def questionnaire_preview(request: HttpRequest, questionnaire_id: int) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.MANAGE_SURVEYS)
def questionnaire_publish(request: HttpRequest, questionnaire_id: int) -> HttpResponse:
    raise NotImplementedError
