"""Care tasks: what a rule's settings say about calling again, and when the next try falls.

A care task is a worklist.Task (source_kind "care.occurrence", source_id the occurrence's id);
this module holds what the outcome service and the pages share: the rule's retry settings and
the time of the next attempt within the dealer's hours.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import Any

from dealercrm.core.models import Dealer

CARE_SOURCE_KIND = "care.occurrence"

# What a rule does with an unanswered call unless the dealer set otherwise (the rule catalogue
# may carry its own defaults; these fill what it does not say).
RETRY_DEFAULTS: dict[str, Any] = {
    "max_attempts": 3,
    # The first retry this many hours later, every further one the next day at this time.
    "retry_after_hours": 4,
    "retry_next_day_at": "10:00",
}

# The dealer's calling hours when the workshop has no policy row (the service policy's defaults).
DEFAULT_OPENS = datetime.time(8, 30)
DEFAULT_CLOSES = datetime.time(17, 30)


def rule_config(dealer_id: int, rule: str) -> dict[str, Any]:
    """The rule's settings for this dealer: RETRY_DEFAULTS, the catalogue's defaults, then what
    the dealer stored (the retry settings included, which the catalogue's rules do not list).
    One query."""
    from dealercrm.care.models import CareRuleSetting

    config: dict[str, Any] = dict(RETRY_DEFAULTS)
    try:
        from .settings_defaults import defaults_for

        config.update(defaults_for(rule))
    except (ImportError, KeyError):
        pass
    stored = (
        CareRuleSetting.objects.filter(dealer_id=dealer_id, rule=rule)
        .values_list("config", flat=True)
        .first()
    )
    for key, value in (stored or {}).items():
        if value not in (None, ""):
            config[key] = value
    return config


@dataclass(frozen=True)
class CallingHours:
    """When the dealer calls customers: the workshop's hours, in the dealer's time zone."""

    tz: datetime.tzinfo
    opens: datetime.time
    closes: datetime.time
    weekdays: frozenset[int]  # Python weekdays, Monday = 0

    def is_open(self, at: datetime.datetime) -> bool:
        local = at.astimezone(self.tz)
        return local.weekday() in self.weekdays and self.opens <= local.time() < self.closes

    def next_open(self, at: datetime.datetime) -> datetime.datetime:
        """`at` when the dealer is open then, else the next opening time."""
        if self.is_open(at):
            return at
        local = at.astimezone(self.tz)
        day = local.date()
        if local.time() >= self.opens:
            day += datetime.timedelta(days=1)
        for _ in range(8):
            if day.weekday() in self.weekdays:
                return datetime.datetime.combine(day, self.opens, tzinfo=self.tz)
            day += datetime.timedelta(days=1)
        return at  # open on no day at all: keep the time asked for


def calling_hours(dealer_id: int) -> CallingHours:
    from dealercrm.service.models import ServicePolicy

    tz_name = Dealer.objects.filter(pk=dealer_id).values_list("time_zone", flat=True).first()
    try:
        tz: datetime.tzinfo = zoneinfo.ZoneInfo(tz_name or "Asia/Shanghai")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    policy = (
        ServicePolicy.objects.filter(dealer_id=dealer_id)
        .values("opens_at", "closes_at", "open_weekdays")
        .first()
    )
    if policy is None:
        return CallingHours(tz, DEFAULT_OPENS, DEFAULT_CLOSES, frozenset(range(7)))
    weekdays = frozenset(int(d) for d in policy["open_weekdays"] or range(7))
    return CallingHours(tz, policy["opens_at"], policy["closes_at"], weekdays)


def _parse_time(value: Any, default: datetime.time) -> datetime.time:
    if isinstance(value, datetime.time):
        return value
    try:
        hours, minutes = str(value).split(":", 1)
        return datetime.time(int(hours), int(minutes))
    except (TypeError, ValueError):
        return default


def next_attempt_at(
    *, attempts: int, now: datetime.datetime, config: dict[str, Any], hours: CallingHours
) -> datetime.datetime:
    """When to call again after `attempts` unanswered calls: after the first, `retry_after_hours`
    later; after later ones, the next day at `retry_next_day_at`; moved to the dealer's next
    opening when that falls outside its hours."""
    if attempts <= 1:
        try:
            wait = max(float(config.get("retry_after_hours", 4)), 0)
        except (TypeError, ValueError):
            wait = 4
        candidate = now + datetime.timedelta(hours=wait)
    else:
        at = _parse_time(config.get("retry_next_day_at"), datetime.time(10, 0))
        day = now.astimezone(hours.tz).date() + datetime.timedelta(days=1)
        candidate = datetime.datetime.combine(day, at, tzinfo=hours.tz)
    return hours.next_open(candidate)


def max_attempts(config: dict[str, Any]) -> int:
    try:
        return max(int(config.get("max_attempts", 3)), 1)
    except (TypeError, ValueError):
        return 3
