"""Funnel fixtures: leads at known stages, with a frozen clock."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest

from dealercrm.core.permissions import Role
from dealercrm.sales.models import LeadChannel, LossReason
from tests.sales.factories import LeadFactory
from tests.vehicles.factories import CarModelFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(y: int, m: int, d: int, h: int = 10, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(y, m, d, h, minute, tzinfo=SHANGHAI)


@pytest.fixture
def car_model(brand):
    return CarModelFactory(brand=brand, series="星辰")


@pytest.fixture
def make_lead(car_model):
    """A lead of `dealer` created at `created`, which reached the stages given as times."""

    def _make(dealer, created, *, channel=LeadChannel.WALK_IN, consultant=None, **stages):
        stages.setdefault("updated_at", created)
        if stages.get("lost_at") and "loss_reason" not in stages:
            stages["loss_reason"] = LossReason.PRICE
        return LeadFactory(
            dealer=dealer,
            created_at=created,
            channel=channel,
            consultant=consultant,
            car_model=stages.pop("car_model", car_model),
            **stages,
        )

    return _make


@pytest.fixture
def sales_consultant(make_user):
    return make_user(Role.SALES_CONSULTANT)
