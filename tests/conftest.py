"""Shared fixtures: a small organisation of two dealers of one brand, and a user per role."""

from __future__ import annotations

import pytest

from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import DealerScope, dealer_scope
from tests.core.factories import BrandFactory, DealerFactory, RegionFactory, UserFactory

PASSWORD = "pass-Word-123"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test's database starts afresh (ids are reused), so must the cache that mirrors it."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _network_scope_for_test_setup(request):
    """Tests arrange data across dealers; requests and dealer_scope() blocks set their own scope."""
    if "django_db_setup" in request.fixturenames or request.node.get_closest_marker("django_db"):
        with dealer_scope(DealerScope.everything()):
            yield
    else:
        yield


@pytest.fixture
def brand(db):
    return BrandFactory()


@pytest.fixture
def dealer(brand):
    return DealerFactory(brand=brand, name="上海浦东极光4S店")


@pytest.fixture
def other_dealer(brand):
    return DealerFactory(
        brand=brand,
        region=RegionFactory(brand=brand),
        name="北京朝阳极光4S店",
        province="北京市",
        city="北京市",
        plate_prefix="京A",
    )


@pytest.fixture
def make_user(dealer, brand):
    def _make(role: str = Role.SALES_CONSULTANT, *, dealer_=None, **kwargs):
        if role in (Role.OEM_ANALYST, Role.OEM_ADMIN, Role.SYSTEM_ADMIN):
            return UserFactory(role=role, dealer=None, brand=brand, **kwargs)
        return UserFactory(role=role, dealer=dealer_ or dealer, **kwargs)

    return _make


@pytest.fixture
def consultant(make_user):
    return make_user(Role.SALES_CONSULTANT)


@pytest.fixture
def manager(make_user):
    return make_user(Role.DEALER_MANAGER)


@pytest.fixture
def oem_analyst(make_user):
    return make_user(Role.OEM_ANALYST)


@pytest.fixture
def client_for(client):
    """A test client signed in as the given user."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def english(client):
    """Tests that read reasons and pages in English: the UI's default language is Chinese."""
    from django.utils import translation

    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with translation.override("en"):
        yield
