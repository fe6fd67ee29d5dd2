"""The API's authentication (config/api.py): bearer tokens and the browser session with CSRF,
each putting the user's dealer scope in force; and dealercrm.core.access.api_permission.

A small API of its own, built from the same auth classes and error handlers as config.api,
reports what the handler sees; it is routed by this module's urlpatterns.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path
from django.utils import timezone
from ninja import NinjaAPI, Schema

from config.api import SessionAuth, TokenAuth, forbidden
from dealercrm.core.access import api_permission
from dealercrm.core.models import ApiToken
from dealercrm.core.permissions import Perm, Role
from dealercrm.core.tenancy import get_current_scope

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

probe_api = NinjaAPI(
    auth=[TokenAuth(), SessionAuth(csrf=True)],
    urls_namespace="auth-probe",
    docs_url=None,
    openapi_url=None,
)
probe_api.add_exception_handler(PermissionDenied, forbidden)


def _scope_seen(request) -> dict:
    scope = get_current_scope()
    return {
        "auth": request.auth.username,
        "user": request.user.username,
        "dealer_ids": None if scope.dealer_ids is None else sorted(scope.dealer_ids),
        "is_network": scope.is_network,
        "scope_user": scope.user_id,
    }


@probe_api.get("/whoami")
def whoami(request):
    return _scope_seen(request)


@probe_api.post("/write")
def write(request):
    return _scope_seen(request)


@probe_api.get("/customers/{customer_id}")
@api_permission(Perm.VIEW_CUSTOMER)
def customer_probe(request, customer_id: int) -> dict:
    return {"customer_id": customer_id}


class NoteIn(Schema):
    body: str


@probe_api.post("/customers/{customer_id}/notes")
@api_permission(Perm.ADD_INTERACTION)
def note_probe(request, customer_id: int, payload: NoteIn) -> dict:
    return {"customer_id": customer_id, "body": payload.body}


urlpatterns = [path("api/", probe_api.urls)]

CSRF_SECRET = "a" * 32


def make_token(user, *, revoked: bool = False) -> str:
    key = ApiToken.generate_key()
    ApiToken.objects.create(
        user=user,
        name="integration",
        prefix=key[:8],
        key_hash=ApiToken.hash_key(key),
        revoked_at=timezone.now() if revoked else None,
    )
    return key


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


# --- tokens -----------------------------------------------------------------------------------


def test_a_bearer_token_signs_in_its_user_with_the_users_dealer_scope(consultant, dealer):
    # Given a consultant's token, when an integration calls with it …
    response = Client().get("/api/whoami", **bearer(make_token(consultant)))
    # … then the handler runs as the consultant, in the consultant's dealer scope.
    assert response.status_code == 200
    assert response.json() == {
        "auth": consultant.username,
        "user": consultant.username,
        "dealer_ids": [dealer.pk],
        "is_network": False,
        "scope_user": consultant.pk,
    }


def test_a_token_of_an_oem_user_brings_the_brands_dealers(oem_analyst, dealer, other_dealer):
    body = Client().get("/api/whoami", **bearer(make_token(oem_analyst))).json()
    assert body["dealer_ids"] == sorted([dealer.pk, other_dealer.pk])
    assert body["is_network"] is True


def test_a_used_token_records_when_it_was_last_used(consultant):
    key = make_token(consultant)
    Client().get("/api/whoami", **bearer(key))
    assert ApiToken.objects.get(key_hash=ApiToken.hash_key(key)).last_used_at is not None


def test_a_revoked_token_is_refused_with_401(consultant):
    response = Client().get("/api/whoami", **bearer(make_token(consultant, revoked=True)))
    assert response.status_code == 401


def test_an_unknown_token_is_refused_with_401(consultant):
    make_token(consultant)
    response = Client().get("/api/whoami", **bearer("dcrm_not-a-real-token"))
    assert response.status_code == 401


def test_a_token_of_a_deactivated_user_is_refused_with_401(make_user):
    user = make_user(Role.SALES_CONSULTANT)
    key = make_token(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert Client().get("/api/whoami", **bearer(key)).status_code == 401


def test_a_token_sent_with_another_scheme_is_refused(consultant):
    key = make_token(consultant)
    response = Client().get("/api/whoami", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401


def test_no_credentials_at_all_is_refused_with_401():
    assert Client().get("/api/whoami").status_code == 401


def test_a_token_write_needs_no_csrf_token(consultant, csrf_client):
    # Integrations have no cookie to forge, so CSRF does not apply to bearer tokens.
    response = csrf_client.post("/api/write", **bearer(make_token(consultant)))
    assert response.status_code == 200


# --- the browser session ----------------------------------------------------------------------


def test_the_session_signs_in_the_browsers_user_with_their_scope(client, manager, dealer):
    client.force_login(manager)
    body = client.get("/api/whoami").json()
    assert body["user"] == manager.username
    assert body["dealer_ids"] == [dealer.pk]
    assert body["scope_user"] == manager.pk


def test_a_session_write_without_the_csrf_token_is_refused(csrf_client, consultant):
    # Given a signed-in browser, when a write arrives without the CSRF token (a forged request) …
    csrf_client.force_login(consultant)
    csrf_client.cookies["csrftoken"] = CSRF_SECRET
    response = csrf_client.post("/api/write")
    # … then it is refused.
    assert response.status_code == 403


def test_a_session_write_with_the_csrf_token_is_accepted(csrf_client, consultant, dealer):
    csrf_client.force_login(consultant)
    csrf_client.cookies["csrftoken"] = CSRF_SECRET
    response = csrf_client.post("/api/write", HTTP_X_CSRFTOKEN=CSRF_SECRET)
    assert response.status_code == 200
    assert response.json()["dealer_ids"] == [dealer.pk]


def test_a_session_of_a_deactivated_user_is_refused(client, make_user):
    user = make_user(Role.DEALER_MANAGER)
    client.force_login(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get("/api/whoami").status_code == 401


def test_the_users_scope_ends_with_the_request(client, consultant):
    before = get_current_scope()
    client.get("/api/whoami", **bearer(make_token(consultant)))
    client.force_login(consultant)
    client.get("/api/whoami")
    assert get_current_scope() == before


# --- api_permission ---------------------------------------------------------------------------


def test_api_permission_lets_a_holder_through_with_typed_path_parameters(client, consultant):
    client.force_login(consultant)
    response = client.get("/api/customers/42")
    assert response.status_code == 200
    assert response.json() == {"customer_id": 42}


def test_api_permission_refuses_a_signed_in_user_without_it_with_403(client, make_user):
    client.force_login(make_user(Role.DEALER_ADMIN))
    assert client.get("/api/customers/42").status_code == 403


def test_api_permission_leaves_anonymous_callers_to_authentication_401():
    assert Client().get("/api/customers/42").status_code == 401


def test_api_permission_is_recorded_for_the_tenancy_matrix():
    assert customer_probe.required_permission == Perm.VIEW_CUSTOMER
    operation = customer_probe._ninja_operation
    assert operation.view_func.required_permission == Perm.VIEW_CUSTOMER


def test_api_permission_refuses_before_reading_the_input(client, make_user):
    # Given a user without the permission, when they send a body that is not even valid …
    client.force_login(make_user(Role.DEALER_ADMIN))
    response = client.post("/api/customers/42/notes", "", content_type="application/json")
    # … then the answer is 403, not a 422 that describes what the operation expects.
    assert response.status_code == 403


def test_api_permission_lets_a_holder_reach_input_validation_and_the_handler(client, consultant):
    client.force_login(consultant)
    bad = client.post("/api/customers/42/notes", "", content_type="application/json")
    good = client.post(
        "/api/customers/42/notes", {"body": "来电咨询保养"}, content_type="application/json"
    )
    assert bad.status_code == 422
    assert good.status_code == 200
    assert good.json() == {"customer_id": 42, "body": "来电咨询保养"}


def test_api_permission_on_a_write_leaves_anonymous_callers_to_authentication():
    response = Client().post("/api/customers/42/notes", "", content_type="application/json")
    assert response.status_code == 401
