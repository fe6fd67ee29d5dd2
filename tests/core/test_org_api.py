"""The organisation API: me, dealers, regions, staff — scoped and ruled like the pages."""

from __future__ import annotations

import pytest

from dealercrm.core.models import Dealer, User
from dealercrm.core.permissions import Perm, Role
from tests.core.factories import RegionFactory

pytestmark = pytest.mark.django_db

API = "/api/core"
PASSWORD = "a-Long-pass-4321"


def test_me_answers_user_role_permissions_and_dealer(client, make_user, dealer):
    client.force_login(make_user(Role.DEALER_MANAGER, display_name="周总"))
    body = client.get(f"{API}/me").json()
    assert body["display_name"] == "周总"
    assert body["role"] == "dealer_manager"
    assert Perm.VIEW_AUDIT_LOG in body["permissions"]
    assert body["dealer"]["id"] == dealer.pk


def test_a_dealer_user_sees_only_their_dealer(client, make_user, dealer, other_dealer):
    client.force_login(make_user(Role.SALES_CONSULTANT))
    assert [d["id"] for d in client.get(f"{API}/dealers").json()] == [dealer.pk]
    assert client.get(f"{API}/dealers/{other_dealer.pk}").status_code == 404
    assert client.get(f"{API}/dealers/{dealer.pk}").json()["name"] == dealer.name


def test_an_oem_user_sees_every_dealer_and_region_of_the_brand(
    client, make_user, dealer, other_dealer
):
    client.force_login(make_user(Role.OEM_ANALYST))
    ids = {d["id"] for d in client.get(f"{API}/dealers").json()}
    assert ids == {dealer.pk, other_dealer.pk}
    regions = {r["id"] for r in client.get(f"{API}/regions").json()}
    assert regions == {dealer.region_id, other_dealer.region_id}


def test_staff_list_needs_manage_staff_and_shows_only_own_dealer(client, make_user, other_dealer):
    client.force_login(make_user(Role.SALES_CONSULTANT))
    assert client.get(f"{API}/staff").status_code == 403
    admin = make_user(Role.DEALER_ADMIN)
    make_user(Role.SALES_CONSULTANT, dealer_=other_dealer, username="elsewhere")
    client.force_login(admin)
    names = {s["username"] for s in client.get(f"{API}/staff").json()}
    assert "elsewhere" not in names and admin.username in names


def test_dealer_admin_posting_a_network_role_gets_422_with_the_field(client, make_user, dealer):
    client.force_login(make_user(Role.DEALER_ADMIN))
    response = client.post(
        f"{API}/staff",
        {"username": "sneaky", "role": "oem_admin", "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "role" in response.json()["errors"]
    assert not User.objects.filter(username="sneaky").exists()


def test_dealer_admin_creates_and_updates_own_staff_by_api(client, make_user, dealer):
    client.force_login(make_user(Role.DEALER_ADMIN))
    created = client.post(
        f"{API}/staff",
        {
            "username": "api-consultant",
            "role": "sales_consultant",
            "password": PASSWORD,
            "dealer_id": dealer.pk,
        },
        content_type="application/json",
    )
    assert created.status_code == 201
    member_id = created.json()["id"]
    patched = client.patch(
        f"{API}/staff/{member_id}",
        {"display_name": "韩梅梅", "on_duty": False},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["display_name"] == "韩梅梅" and patched.json()["on_duty"] is False
    assert patched.json()["role"] == "sales_consultant"


def test_dealer_admin_cannot_patch_another_dealers_staff(client, make_user, other_dealer):
    client.force_login(make_user(Role.DEALER_ADMIN))
    stranger = make_user(Role.SALES_CONSULTANT, dealer_=other_dealer)
    response = client.patch(
        f"{API}/staff/{stranger.pk}", {"display_name": "x"}, content_type="application/json"
    )
    assert response.status_code == 404


def test_oem_admin_creates_a_dealer_by_api(client, make_user, brand):
    client.force_login(make_user(Role.OEM_ADMIN))
    region = RegionFactory(brand=brand)
    response = client.post(
        f"{API}/dealers",
        {
            "code": "cd-01",
            "name": "成都极光4S店",
            "region_id": region.pk,
            "province": "四川省",
            "city": "成都市",
        },
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["region_name"] == region.name
    assert Dealer.objects.filter(code="cd-01").exists()


def test_a_manager_cannot_create_a_dealer_by_api(client, make_user, dealer):
    client.force_login(make_user(Role.DEALER_MANAGER))
    response = client.post(
        f"{API}/dealers",
        {"code": "x", "name": "x", "region_id": dealer.region_id, "province": "p", "city": "c"},
        content_type="application/json",
    )
    assert response.status_code == 403
