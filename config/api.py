"""The JSON API: django-ninja, OpenAPI at /api/docs.

Browsers use their session (with CSRF); integrations send `Authorization: Bearer <token>`.
Either way the user's dealer scope is put in force before the handler runs, so the API is
scoped exactly like the pages. Each app contributes a `router` in its api.py.
"""

from __future__ import annotations

from importlib import import_module

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import NinjaAPI
from ninja.security import APIKeyCookie, HttpBearer

from dealercrm.core.models import ApiToken
from dealercrm.core.scoping import scope_for_user
from dealercrm.core.tenancy import activate_scope, get_current_scope


def _enter_scope(request: HttpRequest, user) -> None:  # noqa: ANN001
    current = get_current_scope()
    request.user = user
    if current is not None and current.user_id == user.pk:
        return  # the middleware already put this user's scope in force (session requests)
    # The middleware resets the scope at the end of the request.
    activate_scope(scope_for_user(user))


class SessionAuth(APIKeyCookie):
    """The browser's session cookie, with Django's CSRF check."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None):  # noqa: ANN201
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            _enter_scope(request, user)
            return user
        return None


class TokenAuth(HttpBearer):
    """`Authorization: Bearer dcrm_…` for integrations."""

    def authenticate(self, request: HttpRequest, token: str):  # noqa: ANN201
        try:
            api_token = ApiToken.objects.select_related("user").get(
                key_hash=ApiToken.hash_key(token), revoked_at__isnull=True
            )
        except ApiToken.DoesNotExist:
            return None
        if not api_token.user.is_active:
            return None
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=timezone.now())
        _enter_scope(request, api_token.user)
        return api_token.user


api = NinjaAPI(
    title="DealerCRM API",
    version="1",
    description=(
        "Customers, vehicles, search, messaging and the worklist of a dealer network, scoped like "
        "the web pages.\n\n"
        "**Webhooks** (not operations of this API, so no session or token): SMS and WeChat "
        "gateways and inbound e-mail services post delivery receipts to "
        "`/m/hooks/<webhook_key>/receipts`, customer replies to `/m/hooks/<webhook_key>/inbound`, "
        "and providers with one address for both to `/m/hooks/<webhook_key>/events`. "
        "`<webhook_key>` is the unguessable key of the dealer's provider configuration (shown on "
        "the messaging settings page); each request is also checked with the provider's "
        "signature (a bad key answers 404, a bad signature 403), and a receipt or reply sent "
        "twice changes nothing the second time. A reply of T or TD to an SMS withdraws the "
        "customer's SMS consent at once. E-mails carry a signed unsubscribe link, "
        "`/m/u/<token>`."
    ),
    auth=[TokenAuth(), SessionAuth(csrf=True)],
    docs_url="/docs",
    urls_namespace="api",
)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404):  # noqa: ANN201
    return api.create_response(request, {"detail": "Not found."}, status=404)


@api.exception_handler(PermissionDenied)
def forbidden(request: HttpRequest, exc: PermissionDenied):  # noqa: ANN201
    return api.create_response(
        request, {"detail": str(exc) or "You do not have permission to do this."}, status=403
    )


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError):  # noqa: ANN201
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return api.create_response(request, {"detail": "Invalid input.", "errors": errors}, status=422)


for _app in (
    "core",
    "customers",
    "vehicles",
    "search",
    "messaging",
    "worklist",
    "bookings",
    "sales",
    "service",
    "care",
    "feedback",
    "dataquality",
):
    try:
        _module = import_module(f"dealercrm.{_app}.api")
    except ModuleNotFoundError as exc:
        if exc.name != f"dealercrm.{_app}.api":
            raise
        continue
    api.add_router(f"/{_app}/", _module.router)
