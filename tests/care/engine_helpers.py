"""Shared helpers of the care engine and rule tests."""

from __future__ import annotations

import datetime
import zoneinfo

import time_machine

from dealercrm.care.models import CareOccurrence
from dealercrm.care.services.engine import RunReport, care_run

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(day: datetime.date, hour: int = 3, minute: int = 30) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), SHANGHAI)


def run(day: datetime.date, dealer, **kwargs) -> RunReport:  # noqa: ANN001
    """The engine for `day` at 03:30 local, with the clock frozen there."""
    with time_machine.travel(at(day), tick=False):
        return care_run(run_on=day, dealer_ids=[dealer.id], **kwargs)


def occurrences(dealer, rule: str):  # noqa: ANN001, ANN201
    return CareOccurrence.objects.filter(dealer_id=dealer.id, rule=rule)


def created(report: RunReport, rule: str) -> int:
    return sum(d.rules[rule].occurrences for d in report.dealers if rule in d.rules)
