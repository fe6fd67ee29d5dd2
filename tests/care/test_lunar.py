"""Lunar dates of the greetings (lunar-python): festivals and lunar birthdays."""

from __future__ import annotations

import datetime

import pytest

from dealercrm.care.rules.lunar import festival_date, festival_on, lunar_birthday_matches
from tests.care.engine_helpers import occurrences, run
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_spring_festival_2027_falls_on_6_february():
    assert festival_date("spring_festival", 2027) == datetime.date(2027, 2, 6)
    assert festival_on(datetime.date(2027, 2, 6)) == "spring_festival"


def test_mid_autumn_2027_falls_on_15_september():
    assert festival_date("mid_autumn", 2027) == datetime.date(2027, 9, 15)
    assert festival_on(datetime.date(2027, 9, 15)) == "mid_autumn"


def test_solar_festivals_and_ordinary_days():
    assert festival_on(datetime.date(2027, 10, 1)) == "national_day"
    assert festival_on(datetime.date(2027, 1, 1)) == "new_year"
    assert festival_on(datetime.date(2027, 2, 5)) is None


def _lunar_customer(dealer, month, day, leap=False):
    return CustomerFactory(
        dealer=dealer,
        lifecycle_stage="owner",
        birthday=datetime.date(1980, 1, 1),
        lunar_birthday_month=month,
        lunar_birthday_day=day,
        lunar_birthday_leap=leap,
    )


def test_lunar_birthday_is_greeted_on_its_solar_day_not_the_solar_birthday(dealer):
    # Given a customer born on 八月十五 (solar birthday 1 January is ignored)
    customer = _lunar_customer(dealer, 8, 15)

    # When the engine runs on 1 January 2027 and on Mid-Autumn 2027
    run(datetime.date(2027, 1, 1), dealer)
    run(datetime.date(2027, 9, 15), dealer)

    # Then the greeting is for 15 September, once
    occurrence = occurrences(dealer, "birthday").get()
    assert (occurrence.customer_id, occurrence.due_on) == (customer.id, datetime.date(2027, 9, 15))
    assert occurrence.occasion == "lunar/2027"


def test_leap_month_birthday_in_the_leap_month_when_the_year_has_one(dealer):
    # Given 2025 has a leap 6th month (闰六月 starts 25 July 2025); a customer born 闰六月初八
    leap = _lunar_customer(dealer, 6, 8, leap=True)
    ordinary = _lunar_customer(dealer, 6, 8)

    # When the engine runs on 六月初八 (2 July 2025) and on 闰六月初八 (1 August 2025)
    run(datetime.date(2025, 7, 2), dealer)
    run(datetime.date(2025, 8, 1), dealer)

    # Then the ordinary-month customer is greeted in July, the leap-month one in August
    days = dict(occurrences(dealer, "birthday").values_list("customer_id", "due_on"))
    assert days == {ordinary.id: datetime.date(2025, 7, 2), leap.id: datetime.date(2025, 8, 1)}


def test_leap_month_birthday_in_the_ordinary_month_in_other_years():
    # 2027 has no leap 6th month: 六月初八 (11 July 2027) greets both
    assert (6, (8,), True) in lunar_birthday_matches(datetime.date(2027, 7, 11))
    assert (6, (8,), False) in lunar_birthday_matches(datetime.date(2027, 7, 11))


def test_thirtieth_of_a_short_month_is_greeted_on_the_29th(dealer):
    # Given the 12th lunar month of 2026 has 29 days (its 29th is 5 February 2027, the eve of
    # the Spring Festival); a customer born on 腊月三十
    customer = _lunar_customer(dealer, 12, 30)
    assert lunar_birthday_matches(datetime.date(2027, 2, 5)) == [
        (12, (29, 30), False),
        (12, (29, 30), True),
    ]

    # When the engine runs on that day
    run(datetime.date(2027, 2, 5), dealer)

    # Then they are greeted
    assert occurrences(dealer, "birthday").get().customer_id == customer.id


def test_29_february_birthday_is_greeted_on_28_february_in_a_common_year(dealer):
    customer = CustomerFactory(
        dealer=dealer, lifecycle_stage="owner", birthday=datetime.date(1988, 2, 29)
    )
    run(datetime.date(2027, 2, 28), dealer)
    assert occurrences(dealer, "birthday").get().customer_id == customer.id
