"""Lunar birthdays: how they are written in Chinese and the solar date they fall on next.

Many customers celebrate their birthday by the lunar calendar (农历生日), whose solar date moves
every year; greetings must go out on the right day.
"""

from __future__ import annotations

import datetime
from functools import lru_cache

from lunar_python import LunarYear, Solar

_MONTHS = ("正", "二", "三", "四", "五", "六", "七", "八", "九", "十", "冬", "腊")
_DAY_TENS = ("初", "十", "廿", "三")
_DIGITS = ("", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十")


def lunar_day_in_chinese(day: int) -> str:
    """1 → 初一, 10 → 初十, 15 → 十五, 20 → 二十, 21 → 廿一, 30 → 三十."""
    if day == 10:
        return "初十"
    if day == 20:
        return "二十"
    if day == 30:
        return "三十"
    return _DAY_TENS[day // 10] + _DIGITS[day % 10]


def lunar_birthday_in_chinese(month: int, day: int, *, leap: bool = False) -> str:
    """(8, 15) → 农历八月十五; a leap month → 农历闰四月初八."""
    return f"农历{'闰' if leap else ''}{_MONTHS[month - 1]}月{lunar_day_in_chinese(day)}"


@lru_cache(maxsize=256)
def _months_of_lunar_year(year: int) -> dict[int, tuple[datetime.date, int]]:
    """Lunar month (negative: the leap month) → (its first solar date, its number of days).

    lunar_python computes a whole lunar year (~10–40 ms) for every conversion; one year's
    months answer every birthday of that year, so they are computed once per process.
    """
    months = {}
    for month in LunarYear.fromYear(year).getMonthsInYear():
        first = Solar.fromJulianDay(month.getFirstJulianDay())
        months[month.getMonth()] = (
            datetime.date(first.getYear(), first.getMonth(), first.getDay()),
            month.getDayCount(),
        )
    return months


def _solar_in_lunar_year(year: int, month: int, day: int, leap: bool) -> datetime.date:
    months = _months_of_lunar_year(year)
    # A leap month exists only in some years: other years celebrate in the ordinary month.
    first_day, day_count = months.get(-month) if leap and -month in months else months[month]
    # Day 30 of a 29-day month is celebrated on the month's last day.
    return first_day + datetime.timedelta(days=min(day, day_count) - 1)


def next_lunar_birthday(
    month: int, day: int, *, leap: bool = False, today: datetime.date
) -> datetime.date:
    """The first solar date on or after `today` on which this lunar birthday falls."""
    # Lunar year Y starts in January or February of solar year Y, so Y-1 can still be running.
    for year in (today.year - 1, today.year, today.year + 1):
        date = _solar_in_lunar_year(year, month, day, leap)
        if date >= today:
            return date
    return _solar_in_lunar_year(today.year + 2, month, day, leap)
