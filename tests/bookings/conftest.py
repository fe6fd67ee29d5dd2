"""Fixtures of the bookings tests: a frozen clock (Tuesday 2026-03-10, 08:00 in Shanghai) and a
demo car of the dealer, bookable 09:00–18:00."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tests.sales.factories import DemoCarFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 3, 10, 8, 0, tzinfo=SHANGHAI)
TOMORROW = datetime.date(2026, 3, 11)


def at(hour: int, minute: int = 0, day: datetime.date = TOMORROW) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _frozen_clock(request):
    if request.node.get_closest_marker("real_clock"):
        yield
        return
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def car(dealer):
    return DemoCarFactory(dealer=dealer, name="试驾车 1", plate="沪A12345")
