"""Per-request context: the dealer scope and the signed-in user's language."""

from __future__ import annotations

import time
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


class ServerTimingMiddleware:
    """Outermost: says in a `Server-Timing: app;dur=…` header how long the server took, from the
    first middleware to the last, so a browser's developer tools (and benchmarks/search.py) see
    the server's own time apart from the network and the client."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        return response
