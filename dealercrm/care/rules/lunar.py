"""Lunar dates for greetings (lunar-python): which lunar birthdays and festivals fall on a day."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import lru_cache

from django.utils.translation import gettext_lazy as _
from lunar_python import Lunar, LunarYear, Solar

# (code, label, calendar, month, day)
FESTIVALS = (
    ("new_year", _("New Year's Day"), "solar", 1, 1),
    ("spring_festival", _("Spring Festival"), "lunar", 1, 1),
    ("lantern", _("Lantern Festival"), "lunar", 1, 15),
    ("dragon_boat", _("Dragon Boat Festival"), "lunar", 5, 5),
    ("mid_autumn", _("Mid-Autumn Festival"), "lunar", 8, 15),
    ("national_day", _("National Day"), "solar", 10, 1),
    ("double_ninth", _("Double Ninth Festival"), "lunar", 9, 9),
)
FESTIVAL_LABELS = {code: label for code, label, *_rest in FESTIVALS}


@dataclass(frozen=True)
class LunarDay:
    year: int  # the lunar year
    month: int  # 1–12
    day: int  # 1–30
    is_leap_month: bool
    days_in_month: int  # 29 or 30
    year_leap_month: int  # the lunar year's leap month, 0 when none


@lru_cache(maxsize=4096)
def lunar_day(day: datetime.date) -> LunarDay:
    lunar = Solar.fromYmd(day.year, day.month, day.day).getLunar()
    month = lunar.getMonth()
    year = LunarYear.fromYear(lunar.getYear())
    month_obj = year.getMonth(month)
    return LunarDay(
        year=lunar.getYear(),
        month=abs(month),
        day=lunar.getDay(),
        is_leap_month=month < 0,
        days_in_month=month_obj.getDayCount(),
        year_leap_month=year.getLeapMonth(),
    )


def lunar_birthday_matches(day: datetime.date) -> list[tuple[int, tuple[int, ...], bool]]:
    """Which stored lunar birthdays (month, day, leap) are celebrated on the solar `day`:
    [(month, (days …), leap flag)], each an OR-branch of the query.

    A birthday in a leap month is celebrated in that leap month in years that have it, else in
    the ordinary month of the same number; the 30th of a month that has 29 days this year is
    celebrated on the 29th.
    """
    info = lunar_day(day)
    days = (info.day,)
    if info.day == info.days_in_month == 29:
        days = (29, 30)
    if info.is_leap_month:
        return [(info.month, days, True)]
    branches = [(info.month, days, False)]
    if info.year_leap_month != info.month:
        # This year has no leap month of this number: leap-month birthdays fall here.
        branches.append((info.month, days, True))
    return branches


def festival_on(day: datetime.date) -> str | None:
    """The festival (code) falling on the solar `day`, if any."""
    for code, _label, kind, month, mday in FESTIVALS:
        if kind == "solar":
            if day.month == month and day.day == mday:
                return code
        else:
            info = lunar_day(day)
            if not info.is_leap_month and info.month == month and info.day == mday:
                return code
    return None


def festival_date(code: str, year: int) -> datetime.date:
    """The solar date of festival `code` in solar year `year` (lunar festivals: of lunar year
    `year`, which for these festivals always falls in the same solar year)."""
    for festival, _label, kind, month, mday in FESTIVALS:
        if festival == code:
            if kind == "solar":
                return datetime.date(year, month, mday)
            solar = Lunar.fromYmd(year, month, mday).getSolar()
            return datetime.date(solar.getYear(), solar.getMonth(), solar.getDay())
    raise KeyError(code)
