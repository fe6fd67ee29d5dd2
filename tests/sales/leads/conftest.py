"""Fixtures of the lead tests: a sales policy open 9–18 every day, consultants on duty."""

from __future__ import annotations

import pytest

from dealercrm.core.permissions import Role
from dealercrm.sales.selectors.policy import sales_policy_for
from tests.e2e.conftest import (  # noqa: F401 — the browser fixtures, for test_browser.py
    allow_orm_beside_playwright,
    browser,
    chromium,
    page,
)


@pytest.fixture
def policy(dealer):
    return sales_policy_for(dealer.pk)


@pytest.fixture
def consultants(make_user):
    """Three consultants on duty, in id order."""
    return [make_user(Role.SALES_CONSULTANT) for _ in range(3)]


@pytest.fixture
def car_model(brand):
    from tests.vehicles.factories import CarModelFactory

    return CarModelFactory(brand=brand)


# These tests read messages and pages in English (the source language); the UI default is
# Chinese, and the middleware applies the signed-in user's language.
@pytest.fixture
def consultant(make_user):
    return make_user(Role.SALES_CONSULTANT, language="en")


@pytest.fixture
def manager(make_user):
    return make_user(Role.DEALER_MANAGER, language="en")
