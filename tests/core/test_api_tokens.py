"""API tokens: shown once when created, stored as a hash, revocable, and scoped like the user."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from dealercrm.core.models import ApiToken
from dealercrm.core.permissions import Role

pytestmark = pytest.mark.django_db


def create_token(client, name="DMS nightly import"):
    response = client.post(reverse("core:api_tokens"), {"name": name})
    assert response.status_code == 200
    match = re.search(r"dcrm_[A-Za-z0-9_\-]{20,}", response.content.decode())
    assert match, "the new key is on the page"
    return match.group(0), response


def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(client, make_user):
    # given a consultant on the token page
    user = make_user(Role.SALES_CONSULTANT)
    client.force_login(user)
    # when they create a token
    key, response = create_token(client)
    # then it is shown, stored as a hash, and not shown again
    token = ApiToken.objects.get(user=user)
    assert token.key_hash == ApiToken.hash_key(key) and key not in token.key_hash
    assert response["Cache-Control"] == "no-store"
    assert key not in client.get(reverse("core:api_tokens")).content.decode()


def test_the_token_authenticates_the_api_until_revoked(client, make_user, dealer):
    user = make_user(Role.SALES_CONSULTANT)
    client.force_login(user)
    key, _ = create_token(client)
    token = ApiToken.objects.get(user=user)
    client.logout()
    api = reverse("api:api-root") + "core/me"
    answer = client.get(api, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert answer.status_code == 200
    assert answer.json()["dealer"]["id"] == dealer.pk
    client.force_login(user)
    client.post(reverse("core:api_token_revoke", kwargs={"token_id": token.pk}))
    client.logout()
    assert client.get(api, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_revoke_through_htmx_returns_the_panel(client, make_user):
    user = make_user(Role.SALES_CONSULTANT)
    client.force_login(user)
    create_token(client, "集成A")
    token = ApiToken.objects.get(user=user)
    response = client.post(
        reverse("core:api_token_revoke", kwargs={"token_id": token.pk}), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert 'id="token-panel"' in html and "<html" not in html
    assert "已吊销" in html


def test_nobody_revokes_someone_elses_token(client, make_user):
    owner = make_user(Role.SALES_CONSULTANT)
    client.force_login(owner)
    create_token(client)
    token = ApiToken.objects.get(user=owner)
    client.force_login(make_user(Role.DEALER_ADMIN))
    response = client.post(reverse("core:api_token_revoke", kwargs={"token_id": token.pk}))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_token_needs_a_name(client, make_user):
    client.force_login(make_user(Role.SALES_CONSULTANT))
    response = client.post(reverse("core:api_tokens"), {"name": "  "})
    assert "name" in response.context["form"].errors
    assert not ApiToken.objects.exists()
