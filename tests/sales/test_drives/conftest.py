"""Fixtures of the test-drive tests: the clock frozen at Tuesday 2026-03-10 08:00 in Shanghai, a
demo car bookable 09:00–18:00, and a consultant's lead whose prospect has a mobile number."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from dealercrm.core.permissions import Role
from dealercrm.sales.models import LeadStage
from tests.customers.factories import CustomerPhoneFactory

# The browser fixtures (tests/e2e) for the calendar's browser test.
from tests.e2e.conftest import (  # noqa: F401
    allow_orm_beside_playwright,
    browser,
    chromium,
    page,
)
from tests.sales.factories import DemoCarFactory, LeadFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 3, 10, 8, 0, tzinfo=SHANGHAI)
TODAY = datetime.date(2026, 3, 10)
TOMORROW = datetime.date(2026, 3, 11)


def at(hour: int, minute: int = 0, day: datetime.date = TOMORROW) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def clock(_frozen_clock):
    return _frozen_clock


@pytest.fixture
def car(dealer):
    return DemoCarFactory(dealer=dealer, name="试驾车 1", plate="沪A12345")


@pytest.fixture
def lead(dealer, consultant):
    lead = LeadFactory(dealer=dealer, consultant=consultant, stage=LeadStage.CONTACTED)
    lead.customer.name = "张伟"
    lead.customer.gender = "male"
    lead.customer.save()
    CustomerPhoneFactory(customer=lead.customer, number="+8613812345678", is_primary=True)
    return lead


# These tests read messages and pages in English (the source language); the UI default is
# Chinese, and the middleware applies the signed-in user's language.
@pytest.fixture
def consultant(make_user):
    return make_user(Role.SALES_CONSULTANT, language="en")


@pytest.fixture
def manager(make_user):
    return make_user(Role.DEALER_MANAGER, language="en")
