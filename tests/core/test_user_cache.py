"""The signed-in user's row is cached between requests (dealercrm.core.user_cache), and every
change to the user, their dealer or their department is in force on the next request."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealercrm.core.models import User
from dealercrm.core.permissions import Role
from dealercrm.core.user_cache import cached_user

from .factories import DepartmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _user_cache_on(settings):
    """On as with Redis (off by default without it). The tests' locmem cache is one process's
    and is emptied between tests (tests/conftest.py), as Redis would be shared."""
    settings.USER_CACHE_SECONDS = 300


def _user_queries(client, url: str) -> tuple[int, list[str]]:
    """The response's status and the queries that read the user table."""
    with CaptureQueriesContext(connection) as ctx:
        status = client.get(url).status_code
    table = User._meta.db_table
    return status, [q["sql"] for q in ctx.captured_queries if f'FROM "{table}"' in q["sql"]]


def test_second_request_reads_the_user_from_the_cache(client):
    user = UserFactory(role=Role.DEALER_MANAGER)
    client.force_login(user)
    status, first = _user_queries(client, "/audit/")
    assert status == 200
    assert len(first) == 1
    status, second = _user_queries(client, "/audit/")
    assert status == 200
    assert second == []


def test_cache_off_reads_the_user_every_time(client, settings):
    settings.USER_CACHE_SECONDS = 0
    user = UserFactory(role=Role.DEALER_MANAGER)
    client.force_login(user)
    for _ in range(2):
        status, queries = _user_queries(client, "/audit/")
        assert status == 200
        assert len(queries) == 1


def test_a_changed_role_is_in_force_on_the_next_request(client):
    user = UserFactory(role=Role.SALES_CONSULTANT)
    client.force_login(user)
    assert client.get("/audit/").status_code == 403
    user.role = Role.DEALER_ADMIN
    user.save()
    assert client.get("/audit/").status_code == 200
    user.role = Role.SALES_CONSULTANT
    user.save(update_fields=["role"])
    assert client.get("/audit/").status_code == 403


def test_a_deactivated_user_is_signed_out_on_the_next_request(client):
    user = UserFactory(role=Role.DEALER_MANAGER)
    client.force_login(user)
    assert client.get("/audit/").status_code == 200
    user.is_active = False
    user.save()
    response = client.get("/audit/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_new_password_ends_other_sessions(client):
    user = UserFactory(role=Role.DEALER_MANAGER)
    client.force_login(user)
    assert client.get("/audit/").status_code == 200
    user.set_password("another-Pass-456")
    user.save()
    assert client.get("/audit/").status_code == 302


def test_a_deleted_user_is_forgotten(client):
    user = UserFactory(role=Role.DEALER_MANAGER)
    assert cached_user(user.pk) is not None
    pk = user.pk
    user.delete()
    assert cached_user(pk) is None


def test_a_renamed_dealer_is_shown_on_the_next_page(client):
    user = UserFactory(role=Role.DEALER_MANAGER)
    client.force_login(user)
    client.get("/")
    dealer = user.dealer
    dealer.name = "新名字汽车销售服务有限公司"
    dealer.save()
    assert cached_user(user.pk).dealer.name == "新名字汽车销售服务有限公司"
    assert "新名字汽车销售服务有限公司" in client.get("/").content.decode()


def test_a_deleted_department_is_forgotten_by_its_staff():
    user = UserFactory(role=Role.SALES_CONSULTANT)
    department = DepartmentFactory(dealer=user.dealer)
    user.department = department
    user.save()
    assert cached_user(user.pk).department_id == department.pk
    department.delete()
    assert cached_user(user.pk).department_id is None


def test_cached_row_is_dropped_again_at_commit(django_capture_on_commit_callbacks):
    """A request that read the old row before the change committed may have cached it again."""
    user = UserFactory(role=Role.SALES_CONSULTANT)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        user.role = Role.DEALER_ADMIN
        user.save()
        # Another request, still seeing the old row, caches it meanwhile.
        stale = User.objects.get(pk=user.pk)
        stale.role = Role.SALES_CONSULTANT
        from django.core.cache import cache

        cache.set(f"auth:user:{user.pk}", stale, 300)
        assert cached_user(user.pk).role == Role.SALES_CONSULTANT
    for callback in callbacks:
        callback()
    assert cached_user(user.pk).role == Role.DEALER_ADMIN


def test_a_network_users_row_carries_the_brands_dealers_and_a_new_dealer_is_seen_at_once(
    brand, dealer
):
    from dealercrm.core.scoping import scope_for_user
    from dealercrm.core.services import dealer_create
    from tests.core.factories import BrandFactory, DealerFactory

    oem = UserFactory(role=Role.OEM_ANALYST, dealer=None, brand=brand)
    DealerFactory(brand=BrandFactory(code="other", name="别的品牌"))  # never in its scope
    cached_user(oem.pk)  # cached with the brand's dealers
    again = cached_user(oem.pk)
    assert again.__dict__["_brand_dealer_ids"] == {dealer.pk}
    assert scope_for_user(again).dealer_ids == {dealer.pk}

    admin = UserFactory(role=Role.OEM_ADMIN, dealer=None, brand=brand)
    new = dealer_create(
        actor=admin,
        region=dealer.region,
        code="NEW01",
        name="新开极光4S店",
        province="上海市",
        city="上海市",
    )
    assert scope_for_user(cached_user(oem.pk)).dealer_ids == {dealer.pk, new.pk}
