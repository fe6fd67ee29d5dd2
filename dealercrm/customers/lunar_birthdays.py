"""Lunar birthdays: how they are written in Chinese and the solar date they fall on next.

Many customers celebrate their birthday by the lunar calendar (农历生日), whose solar date moves
every year; greetings must go out on the right day.
"""

from __future__ import annotations

import datetime
from functools import lru_cache

from lunar_python import Lunar, LunarMonth, LunarYear

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


# lunar_python builds a whole lunar year (~40 ms) for each conversion; the answer never changes,
# and a process meets only a few years × 12 months × 30 days.
@lru_cache(maxsize=8192)
def _solar_in_lunar_year(year: int, month: int, day: int, leap: bool) -> datetime.date:
    # A leap month exists only in some years: other years celebrate in the ordinary month.
    if leap and LunarYear.fromYear(year).getLeapMonth() == month:
        month = -month
    # Day 30 of a 29-day month is celebrated on the month's last day.
    day = min(day, LunarMonth.fromYm(year, month).getDayCount())
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return datetime.date(solar.getYear(), solar.getMonth(), solar.getDay())


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
