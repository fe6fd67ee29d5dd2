"""Fixtures of the order tests: a consultant's lead in negotiation, stock cars, a frozen clock."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from dealercrm.customers.models import LifecycleStage
from tests.customers.factories import CustomerPhoneFactory
from tests.e2e.conftest import (  # noqa: F401 — the browser fixtures, for test_browser.py
    allow_orm_beside_playwright,
    browser,
    chromium,
    page,
)
from tests.sales.factories import LeadFactory
from tests.vehicles.factories import CarModelFactory, VehicleFactory

# 10:00 in Shanghai on a Monday: the dealer's day, the tests' "today" = 2026-03-02.
NOW = datetime.datetime(2026, 3, 2, 2, 0, tzinfo=datetime.UTC)
TODAY = datetime.date(2026, 3, 2)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def car_model(brand):
    return CarModelFactory(brand=brand, series="极光 X5", name="2.0T 豪华版")


@pytest.fixture
def lead(dealer, consultant, car_model, frozen):
    lead = LeadFactory(
        dealer=dealer, consultant=consultant, car_model=car_model, stage="negotiation"
    )
    lead.customer.lifecycle_stage = LifecycleStage.PROSPECT
    lead.customer.save(update_fields=["lifecycle_stage"])
    CustomerPhoneFactory(customer=lead.customer, number="+8613912345678")
    return lead


@pytest.fixture
def stock_car(dealer, car_model):
    """A car in the dealer's stock: no owner, never delivered."""
    return VehicleFactory(
        dealer=dealer,
        owner=None,
        car_model=car_model,
        plate="",
        purchase_date=None,
        delivery_date=None,
        warranty_end=None,
        insurance_expiry=None,
    )
