"""The workspace, logging in and out, the language switch and the user's API tokens."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .access import staff_view
from .forms import ApiTokenForm, LanguageForm, apply_service_errors
from .permissions import Perm
from .selectors import api_tokens_of, get_api_token_for_user
from .services import api_token_create, api_token_revoke, staff_record_login, user_set_language
from .workspace_panels import workspace_panels
from .workspaces import workspace_for


@staff_view()
def workspace(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    kind, data = workspace_for(request.user, today=today)
    # Panels of the apps (leads, follow-ups, losses, notices …), registered in their ready().
    panels = workspace_panels(request.user, today=today)
    return render(
        request,
        "core/workspace.html",
        {"kind": kind, "today": today, "panels": panels, **data},
    )


class LoginView(auth_views.LoginView):
    """Django's login, plus: the audit log records it, and the user's language is remembered in
    the language cookie so that even the login page speaks it next time."""

    template_name = "core/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):  # noqa: ANN001, ANN201
        response = super().form_valid(form)
        user = form.get_user()
        staff_record_login(user=user, request=self.request)
        if user.language:
            translation.activate(user.language)
            _set_language_cookie(response, user.language)
        return response


def _set_language_cookie(response: HttpResponse, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("core:workspace")


@staff_view()
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Store the user's language and show the page they came from in it."""
    form = LanguageForm(request.POST)
    target = _safe_next(request, request.POST.get("next") or request.headers.get("referer"))
    if not form.is_valid():
        return redirect(target)
    user_set_language(user=request.user, language=form.cleaned_data["language"])
    translation.activate(request.user.language)
    response = HttpResponseRedirect(target)
    _set_language_cookie(response, request.user.language)
    return response


@staff_view(Perm.MANAGE_API_TOKENS)
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The user's API tokens. A new token's key is in this one response only: the database
    keeps its hash, so nobody (not even an admin) can show it again."""
    new_key = None
    new_token = None
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                new_token, new_key = api_token_create(
                    user=request.user, name=form.cleaned_data["name"], request=request
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                form = ApiTokenForm()
    else:
        form = ApiTokenForm()
    context = {
        "form": form,
        "tokens": list(api_tokens_of(request.user)),
        "new_key": new_key,
        "new_token": new_token,
    }
    template = "core/api_tokens.html"
    if request.htmx:
        template += "#token-panel"
    response = render(request, template, context)
    # The key must not linger in any cache.
    response["Cache-Control"] = "no-store"
    return response


@staff_view(Perm.MANAGE_API_TOKENS)
@require_POST
def api_token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_api_token_for_user(request.user, token_id)
    api_token_revoke(user=request.user, token=token, request=request)
    if request.htmx:
        context = {"form": ApiTokenForm(), "tokens": list(api_tokens_of(request.user))}
        return render(request, "core/api_tokens.html#token-panel", context)
    messages.success(request, _("The token “%(name)s” was revoked.") % {"name": token.name})
    return redirect("core:api_tokens")
