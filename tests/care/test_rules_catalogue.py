"""The catalogue's shape (what the settings page builds on) and rule details."""

from __future__ import annotations

import datetime

import pytest

from dealercrm.care.engine_jobs import care_daily_run, care_hourly_sweep
from dealercrm.care.models import CareRuleCode, CareRun, SeasonalCheck
from dealercrm.care.rules import CATALOGUE
from dealercrm.care.rules.replacement import suggest
from dealercrm.care.services.settings_defaults import config_for, rule_settings
from dealercrm.core.models import Region
from dealercrm.core.tenancy import dealer_scope
from dealercrm.worklist.models import Task
from tests.care.engine_helpers import at, occurrences, run
from tests.care.factories import CareRuleSettingFactory
from tests.customers.factories import CustomerFactory
from tests.service.factories import VehicleServiceStateFactory
from tests.vehicles.factories import VehicleFactory

D = datetime.date(2027, 3, 10)


def test_catalogue_has_every_rule_code_with_words_defaults_and_fields():
    assert set(CATALOGUE) == set(CareRuleCode.values)
    for rule in CATALOGUE.values():
        assert str(rule.label) and str(rule.description)
        assert {"enabled", "action", "assignee", "script", "purpose"} <= set(rule.defaults)
        assert {f.name for f in rule.config_fields} <= set(rule.defaults) - {"enabled"}


@pytest.mark.django_db
def test_dealer_settings_merge_over_defaults(dealer):
    CareRuleSettingFactory(
        dealer=dealer,
        rule="maintenance_due",
        enabled=False,
        config={"days_before": 14, "nonsense": 1},
    )
    with dealer_scope(dealer.id):
        assert config_for(dealer.id, "maintenance_due")["days_before"] == 14
        assert "nonsense" not in config_for(dealer.id, "maintenance_due")
        settings = rule_settings(dealer.id)
    assert settings["maintenance_due"][0] is False
    assert settings["birthday"] == (True, settings["birthday"][1])


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"children": [2025], "seats": 5}, "seven_seat"),
        ({"children": [2019], "seats": 5}, "newer"),  # born before the purchase
        ({"children": [2025], "seats": 7}, "newer"),
        ({"lifestyle": ["商务出行频繁"], "powertrain": "ice"}, "electrified"),
        ({"lifestyle": ["商务出行频繁"], "powertrain": "bev"}, "newer"),
        ({"interests": ["露营"], "body_type": "sedan"}, "suv"),
        ({"interests": ["露营"], "body_type": "suv"}, "newer"),
    ],
)
def test_replacement_suggestion_follows_the_scenario_rules(facts, expected):
    values = {
        "bought_on": datetime.date(2022, 1, 1),
        "children": [],
        "lifestyle": [],
        "interests": [],
        "seats": 5,
        "body_type": "sedan",
        "powertrain": "ice",
    }
    values.update(facts)
    assert suggest(**values) == expected


@pytest.mark.django_db
def test_high_mileage_is_noticed_when_a_new_reading_arrives(dealer):
    # Given the engine ran yesterday, and a young car read at 151,000 km today
    run(D - datetime.timedelta(days=1), dealer)
    car = VehicleFactory(
        dealer=dealer, purchase_date=D - datetime.timedelta(days=400), current_mileage_km=151_000
    )
    VehicleServiceStateFactory(vehicle=car, last_reading_on=D, last_reading_km=151_000)

    # When the engine runs today
    run(D, dealer)

    # Then the car is a replacement candidate
    assert occurrences(dealer, "replacement_candidate").get().vehicle_id == car.id


@pytest.mark.django_db
def test_sales_follow_up_task_means_no_second_delivery_call(dealer):
    # Given two cars delivered 3 days ago, one through the sales pipeline (its task exists)
    sold = VehicleFactory(dealer=dealer, delivery_date=D - datetime.timedelta(days=3))
    imported = VehicleFactory(dealer=dealer, delivery_date=D - datetime.timedelta(days=3))
    Task.objects.create(
        dealer=dealer,
        customer=sold.owner,
        kind="follow_up",
        title="回访",
        source_kind="sales.order",
        source_id="17:followup",
    )

    # When the engine runs
    run(D, dealer)

    # Then only the imported car's owner gets the rule's call
    assert list(occurrences(dealer, "delivery_follow_up").values_list("vehicle_id", flat=True)) == [
        imported.id
    ]


@pytest.mark.django_db
def test_region_seasonal_check_wins_over_the_brand_default(dealer):
    # Given the brand's default winter check on 1 December and the dealer's region's on 1 November
    VehicleFactory(
        dealer=dealer,
        owner=CustomerFactory(dealer=dealer, lifecycle_stage="owner"),
        delivery_date=datetime.date(2027, 6, 1),  # a recent owner (an old one would be "lost")
    )
    SeasonalCheck.objects.create(
        brand=dealer.brand,
        code="winter",
        title="冬季检查",
        season_starts_month=12,
        season_starts_day=1,
        remind_days_before=10,
    )
    SeasonalCheck.objects.create(
        brand=dealer.brand,
        region=Region.objects.get(pk=dealer.region_id),
        code="winter",
        title="入冬检查",
        season_starts_month=11,
        season_starts_day=1,
        remind_days_before=10,
    )

    # When the engine runs 10 days before each
    run(datetime.date(2027, 10, 22), dealer)
    run(datetime.date(2027, 11, 21), dealer)

    # Then only the region's date counts
    assert list(occurrences(dealer, "seasonal_check").values_list("occasion", "due_on")) == [
        ("winter/2027", datetime.date(2027, 10, 22))
    ]


@pytest.mark.django_db
def test_daily_and_hourly_jobs_run_every_active_dealer(dealer, other_dealer):
    import time_machine

    with time_machine.travel(at(D), tick=False):
        assert care_daily_run.call_local() == 2
        assert care_hourly_sweep.call_local() == 0
    with dealer_scope(None):
        assert set(CareRun.objects.values_list("dealer_id", "run_on")) == {
            (dealer.id, D),
            (other_dealer.id, D),
        }
