"""Answering a survey: the public page behind the personal link (no login), the phone survey a
care specialist enters on the same questionnaire, and one response as staff see it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm


def public_answer(request: HttpRequest, survey_token: str) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.SEND_SURVEYS)
def phone_survey(request: HttpRequest, invitation_id: int) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.VIEW_FEEDBACK_STATS)
def response_detail(request: HttpRequest, response_id: int) -> HttpResponse:
    raise NotImplementedError
