"""Every rule of the catalogue at its boundary days: nothing the day before, one occurrence on
the day, nothing new the day after (the engine runs daily; each run looks at its own day)."""

from __future__ import annotations

import datetime

import pytest

from dealercrm.care.models import SeasonalCheck
from dealercrm.care.rules.base import add_months, add_years
from dealercrm.service.models import RepairOrderStatus
from tests.care.engine_helpers import at, created, occurrences, run
from tests.customers.factories import CustomerFactory
from tests.service.factories import RepairOrderFactory, VehicleServiceStateFactory
from tests.vehicles.factories import VehicleFactory

pytestmark = pytest.mark.django_db

D = datetime.date(2027, 3, 10)


def _owner(dealer, **kwargs):
    return CustomerFactory(dealer=dealer, lifecycle_stage="owner", **kwargs)


def _vehicle(dealer, **kwargs):
    # Quiet defaults: no other rule's date near D.
    values = {
        "purchase_date": D - datetime.timedelta(days=200),
        "delivery_date": D - datetime.timedelta(days=200),
        "warranty_end": D + datetime.timedelta(days=900),
        "insurance_expiry": D + datetime.timedelta(days=150),
    }
    values.update(kwargs)
    values.setdefault("owner", _owner(dealer))
    return VehicleFactory(dealer=dealer, **values)


def delivery_follow_up(dealer):
    _vehicle(dealer, delivery_date=D - datetime.timedelta(days=3))
    return D


def service_follow_up(dealer):
    vehicle = _vehicle(dealer)
    RepairOrderFactory(
        vehicle=vehicle,
        opened_at=at(D - datetime.timedelta(days=1), 9),
        closed_at=at(D - datetime.timedelta(days=1), 23, 50),
        status=RepairOrderStatus.CLOSED,
    )
    return D


def first_maintenance(dealer):
    VehicleServiceStateFactory(
        vehicle=_vehicle(dealer),
        next_service_kind="first",
        next_service_on=D + datetime.timedelta(days=7),
    )
    return D


def maintenance_due(dealer):
    VehicleServiceStateFactory(
        vehicle=_vehicle(dealer),
        next_service_kind="regular",
        next_service_on=D + datetime.timedelta(days=7),
        last_visit_on=D - datetime.timedelta(days=100),
    )
    return D


def maintenance_overdue(dealer):
    VehicleServiceStateFactory(
        vehicle=_vehicle(dealer),
        next_service_kind="regular",
        next_service_on=D - datetime.timedelta(days=30),
        last_visit_on=D - datetime.timedelta(days=300),
    )
    return D


def insurance_renewal(dealer):
    _vehicle(dealer, insurance_expiry=D + datetime.timedelta(days=30))
    return D


def annual_inspection(dealer):
    _vehicle(
        dealer,
        purchase_date=None,
        delivery_date=add_years(D + datetime.timedelta(days=30), -6),
    )
    return D


def warranty_ending(dealer):
    _vehicle(dealer, warranty_end=D + datetime.timedelta(days=30))
    return D


def birthday(dealer):
    _owner(dealer, birthday=datetime.date(1985, D.month, D.day))
    return D


def festival(dealer):
    _vehicle(dealer)
    return datetime.date(2027, 9, 15)  # Mid-Autumn


def dormant_at_risk(dealer):
    VehicleServiceStateFactory(
        vehicle=_vehicle(dealer, delivery_date=D - datetime.timedelta(days=900)),
        last_visit_on=add_months(D, -12),
    )
    return D


def dormant_lost(dealer):
    VehicleServiceStateFactory(
        vehicle=_vehicle(dealer, delivery_date=D - datetime.timedelta(days=900)),
        last_visit_on=add_months(D, -18),
    )
    return D


def replacement_candidate(dealer):
    _vehicle(dealer, purchase_date=add_years(D, -3), delivery_date=add_years(D, -3))
    return D


def service_to_sales(dealer):
    vehicle = _vehicle(dealer, purchase_date=add_years(D, -5), delivery_date=add_years(D, -5))
    RepairOrderFactory(vehicle=vehicle, opened_at=at(D, 0, 30), status=RepairOrderStatus.OPEN)
    return D


def seasonal_check(dealer):
    _vehicle(dealer)
    start = D + datetime.timedelta(days=14)
    SeasonalCheck.objects.create(
        brand=dealer.brand,
        code="rainy_season",
        title="雨季检查",
        season_starts_month=start.month,
        season_starts_day=start.day,
        remind_days_before=14,
    )
    return D


CASES = [
    delivery_follow_up,
    service_follow_up,
    first_maintenance,
    maintenance_due,
    maintenance_overdue,
    insurance_renewal,
    annual_inspection,
    warranty_ending,
    birthday,
    festival,
    dormant_at_risk,
    dormant_lost,
    replacement_candidate,
    service_to_sales,
    seasonal_check,
]


@pytest.mark.parametrize("arrange", CASES, ids=[case.__name__ for case in CASES])
def test_rule_fires_on_its_day_only(arrange, dealer):
    # Given data that makes the rule fire on day `day`
    rule = arrange.__name__
    day = arrange(dealer)

    # When the engine runs the day before, on the day and the day after
    before = run(day - datetime.timedelta(days=1), dealer)
    on = run(day, dealer)
    after = run(day + datetime.timedelta(days=1), dealer)

    # Then only the run on the day creates the occurrence, once
    assert (created(before, rule), created(on, rule), created(after, rule)) == (0, 1, 0)
    assert occurrences(dealer, rule).count() == 1
