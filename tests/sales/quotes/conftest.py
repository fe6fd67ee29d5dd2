"""Fixtures of the quote tests: a consultant's lead on a petrol model, and a BEV model."""

from __future__ import annotations

import datetime
import importlib
import zoneinfo

import pytest
import time_machine

from dealercrm.vehicles.models import Powertrain
from tests.customers.factories import CustomerPhoneFactory
from tests.sales.factories import LeadFactory
from tests.vehicles.factories import CarModelFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# Quotes are dated "today": 2026-03-10 falls under the 2026–2027 halving for new energy.
NOW = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def _national_tax_rules(request):
    """The rules the migration seeds. A transactional test elsewhere in the run (the browser
    tests) flushes every table, seeded rows included, so put them back when they are gone."""
    if "db" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        yield
        return
    request.getfixturevalue("db")
    from django.apps import apps

    seed = importlib.import_module("dealercrm.sales.migrations.0002_purchase_tax_rules").seed
    seed(apps, None)
    yield


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def petrol_model(brand):
    return CarModelFactory(
        brand=brand,
        series="星辰",
        name="2.0T 豪华版",
        powertrain=Powertrain.ICE,
        list_price="199800.00",
    )


@pytest.fixture
def bev_model(brand):
    return CarModelFactory(
        brand=brand,
        series="星辰EV",
        name="长续航版",
        powertrain=Powertrain.BEV,
        list_price="226000.00",
    )


@pytest.fixture
def lead(dealer, consultant, petrol_model):
    lead = LeadFactory(
        dealer=dealer,
        consultant=consultant,
        car_model=petrol_model,
        stage="contacted",
        customer__name="王小明",
        customer__gender="male",
    )
    CustomerPhoneFactory(
        dealer=dealer, customer=lead.customer, number="+8613812345678", is_primary=True
    )
    return lead
