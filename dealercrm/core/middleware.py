"""Per-request context: the dealer scope and the signed-in user's language."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from .scoping import scope_for_user
from .tenancy import DealerScope, activate_scope, deactivate_scope


class DealerScopeMiddleware:
    """Puts the signed-in user's dealer scope in force for the whole request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            scope = scope_for_user(user)
            # Keep the user's language choice in force for this request.
            if user.language:
                translation.activate(user.language)
                request.LANGUAGE_CODE = translation.get_language()
        else:
            scope = DealerScope.nothing()
        token = activate_scope(scope)
        try:
            return self.get_response(request)
        finally:
            deactivate_scope(token)
