"""Answering a survey: the public page behind the personal link (no login), the phone survey a
care specialist enters on the same questionnaire, and one response as staff see it."""

from __future__ import annotations

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.views.decorators.http import require_http_methods

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm
from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.contact_masking import mask_phone

from ..forms.answering import AnswerForm
from ..models import InvitationStatus, ResponseChannel, SurveyInvitation
from ..selectors import questionnaires as selectors
from ..services.answering import (
    ALREADY_ANSWERED,
    EXPIRED,
    invitation_expire_if_due,
    survey_response_submit,
)

# --- the public page -------------------------------------------------------------------------

PUBLIC_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "same-origin",
}
# Guessing: more than GUESS_LIMIT unknown links from one address within GUESS_WINDOW seconds
# and that address gets 429 for every link until the window ends (valid ones too, so the answer
# tells a guesser nothing).
GUESS_LIMIT = 20
GUESS_WINDOW = 10 * 60
# The customer's language: the page is for them, not for staff.
PUBLIC_LANGUAGE = "zh-hans"


def _client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def _guess_key(request: HttpRequest) -> str:
    return f"feedback:survey-guess:{_client_address(request)}"


def _guesses(request: HttpRequest) -> int:
    return int(cache.get(_guess_key(request)) or 0)


def _count_guess(request: HttpRequest) -> None:
    key = _guess_key(request)
    # add() starts the window; incr() keeps its expiry.
    if not cache.add(key, 1, GUESS_WINDOW):
        try:
            cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.add(key, 1, GUESS_WINDOW)


def _public(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    for header, value in PUBLIC_HEADERS.items():
        response[header] = value
    return response


def _public_context(invitation: SurveyInvitation) -> dict:
    questionnaire = invitation.version.questionnaire
    # The dealer's name and the questionnaire's words; nothing of the customer's.
    return {
        "dealer_name": invitation.dealer.name,
        "title": questionnaire.title,
        "introduction": questionnaire.introduction,
    }


@require_http_methods(["GET", "HEAD", "POST"])
def public_answer(request: HttpRequest, survey_token: str) -> HttpResponse:
    """The customer's survey. Unknown links get one plain 404 page whatever was wrong; an
    answered link 410 "already answered", an expired one 410 "expired"."""
    with translation.override(PUBLIC_LANGUAGE):
        if _guesses(request) >= GUESS_LIMIT:
            response = _public(request, "feedback/public/too_many.html", {}, status=429)
            response["Retry-After"] = str(GUESS_WINDOW)
            return response
        invitation = selectors.invitation_for_token(survey_token)
        if invitation is None:
            _count_guess(request)
            return _public(request, "feedback/public/unknown.html", {}, status=404)
        if invitation.status in (InvitationStatus.CANCELLED, InvitationStatus.NOT_SENT):
            return _public(request, "feedback/public/unknown.html", {}, status=404)
        context = _public_context(invitation)
        if invitation.status == InvitationStatus.ANSWERED:
            return _public(request, "feedback/public/answered.html", context, status=410)
        with dealer_scope(invitation.dealer_id):
            expired = invitation_expire_if_due(invitation)
        if expired:
            return _public(request, "feedback/public/expired.html", context, status=410)
        questions = selectors.version_questions(invitation.version_id)
        if request.method != "POST":
            form = AnswerForm(questions)
            return _public(request, "feedback/public/answer.html", {**context, "form": form})
        form = AnswerForm(questions, request.POST)
        with dealer_scope(invitation.dealer_id):
            try:
                survey_response_submit(
                    invitation=invitation, answers=form.answers(), channel=ResponseChannel.WEB
                )
            except ValidationError as error:
                if getattr(error, "code", None) == ALREADY_ANSWERED:
                    return _public(request, "feedback/public/answered.html", context, status=410)
                if getattr(error, "code", None) == EXPIRED:
                    return _public(request, "feedback/public/expired.html", context, status=410)
                if not hasattr(error, "error_dict"):
                    return _public(request, "feedback/public/unknown.html", {}, status=404)
                other = form.set_errors(error.message_dict)
                return _public(
                    request,
                    "feedback/public/answer.html",
                    {**context, "form": form, "other_errors": other},
                    status=200,
                )
        return _public(request, "feedback/public/thanks.html", context)


# --- staff: the phone survey and one response -------------------------------------------------


@staff_view(Perm.SEND_SURVEYS)
def phone_survey(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """A care specialist calls the customer and enters their answers on the questionnaire the
    invitation names (channel "phone", entered by the specialist)."""
    invitation = selectors.get_invitation_for_user(request.user, invitation_id)
    questions = selectors.version_questions(invitation.version_id)
    state = "open"
    if invitation.status == InvitationStatus.ANSWERED:
        state = "answered"
    elif invitation.status == InvitationStatus.EXPIRED or invitation.expires_at <= timezone.now():
        state = "expired"
    elif invitation.status == InvitationStatus.CANCELLED:
        state = "closed"
    form = AnswerForm(questions)
    other_errors: list[str] = []
    status = 200
    if request.method == "POST" and state == "open":
        form = AnswerForm(questions, request.POST)
        try:
            response = survey_response_submit(
                invitation=invitation,
                answers=form.answers(),
                channel=ResponseChannel.PHONE,
                entered_by=request.user,
            )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                other_errors = form.set_errors(error.message_dict)
            else:
                other_errors = error.messages
            status = 400
        else:
            if request.user.has_perm(Perm.VIEW_FEEDBACK_STATS):
                return redirect("surveys:response", response_id=response.pk)
            return redirect("surveys:phone_survey", invitation_id=invitation.pk)
    answered_response_id = None
    if state == "answered":
        answered_response = getattr(invitation, "response", None)
        answered_response_id = answered_response.pk if answered_response else None
    phone = getattr(invitation, "customer_phone", "") or ""
    return render(
        request,
        "feedback/phone_survey.html",
        {
            "invitation": invitation,
            "questionnaire": invitation.version.questionnaire,
            "customer": invitation.customer,
            "phone": mask_phone(phone) if phone else "",
            "form": form,
            "state": state,
            "other_errors": other_errors,
            "response_id": answered_response_id,
        },
        status=status,
    )


@staff_view(Perm.VIEW_FEEDBACK_STATS)
def response_detail(request: HttpRequest, response_id: int) -> HttpResponse:
    """The answers against their questions (of the version the customer answered), the scores,
    and the complaint or recovery task a low answer raised."""
    response = selectors.get_response_for_user(request.user, response_id)
    rows = selectors.response_rows(response)
    follow_ups = selectors.response_follow_ups(response)
    return render(
        request,
        "feedback/response_detail.html",
        {
            "response": response,
            "questionnaire": response.version.questionnaire,
            "version": response.version,
            "rows": rows,
            "gaps": selectors.response_gaps(rows),
            "complaint": follow_ups["complaint"],
            "task": follow_ups["task"],
            "show_customer_link": request.user.has_perm(Perm.VIEW_CUSTOMER)
            and bool(request.user.dealer_id),
        },
    )
