"""Lunar birthdays: written in Chinese, and the solar date they fall on next."""

from __future__ import annotations

import datetime

import pytest

from dealercrm.customers.lunar_birthdays import (
    lunar_birthday_in_chinese,
    lunar_day_in_chinese,
    next_lunar_birthday,
)


@pytest.mark.parametrize(
    ("day", "text"),
    [(1, "初一"), (10, "初十"), (15, "十五"), (20, "二十"), (21, "廿一"), (30, "三十")],
)
def test_lunar_days_are_written_the_traditional_way(day, text):
    assert lunar_day_in_chinese(day) == text


def test_lunar_birthday_names_first_eleventh_twelfth_and_leap_months():
    assert lunar_birthday_in_chinese(8, 15) == "农历八月十五"
    assert lunar_birthday_in_chinese(1, 1) == "农历正月初一"
    assert lunar_birthday_in_chinese(12, 8) == "农历腊月初八"
    assert lunar_birthday_in_chinese(4, 8, leap=True) == "农历闰四月初八"


def test_next_mid_autumn_birthday_is_this_years_festival_until_it_has_passed():
    # Mid-Autumn (八月十五) fell on 2024-09-17 and falls on 2025-10-06.
    assert next_lunar_birthday(8, 15, today=datetime.date(2024, 9, 1)) == datetime.date(2024, 9, 17)
    assert next_lunar_birthday(8, 15, today=datetime.date(2024, 9, 17)) == datetime.date(
        2024, 9, 17
    )
    assert next_lunar_birthday(8, 15, today=datetime.date(2024, 9, 18)) == datetime.date(
        2025, 10, 6
    )


def test_a_birthday_late_in_the_lunar_year_can_fall_in_the_next_solar_january():
    # 腊月初八 of lunar year 2024 is 2025-01-07.
    assert next_lunar_birthday(12, 8, today=datetime.date(2025, 1, 2)) == datetime.date(2025, 1, 7)


def test_day_thirty_of_a_short_month_is_kept_on_its_last_day():
    # 正月 of 2024 has 29 days: the birthday is on 正月廿九 (2024-03-09).
    assert next_lunar_birthday(1, 30, today=datetime.date(2024, 3, 1)) == datetime.date(2024, 3, 9)


def test_a_leap_month_birthday_uses_the_leap_month_when_the_year_has_one():
    # 2023 has a leap 2nd month: 闰二月初十 is 2023-03-31; 二月初十 was 2023-03-01.
    assert next_lunar_birthday(2, 10, leap=True, today=datetime.date(2023, 3, 2)) == datetime.date(
        2023, 3, 31
    )
    assert next_lunar_birthday(2, 10, today=datetime.date(2023, 2, 1)) == datetime.date(2023, 3, 1)
