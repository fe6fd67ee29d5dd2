"""Restraint: quiet hours, marketing consent, the frequency cap, and numbers that cannot get SMS.

Pure functions of a policy and a clock, and set-based reads (one query for any number of
customers), so queueing a campaign asks each question once per batch rather than per customer.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Iterable

import phonenumbers
from django.db.models import Count
from django.utils.translation import gettext as _

from dealercrm.customers.models import Consent

from .models import CAP_COUNTED_STATUSES, Message, MessagingPolicy
from .selectors import column_in

DEFAULT_TIME_ZONE = "Asia/Shanghai"
# Mainland mobile numbers (13x–19x) in E.164: most numbers, answered without parsing.
_CN_MOBILE_RE = re.compile(r"\+861[3-9]\d{9}")


# --- quiet hours ---------------------------------------------------------------------------


def quiet_channels(policy: MessagingPolicy) -> frozenset[str]:
    return frozenset(c.strip() for c in (policy.quiet_channels or "").split(",") if c.strip())


def time_zone(name: str | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_TIME_ZONE)


def is_quiet(policy: MessagingPolicy, channel: str, local: datetime.time) -> bool:
    """Whether `local` (wall-clock time at the dealer) falls in the quiet window of `channel`.

    The window includes its start and excludes its end; a start after the end spans midnight
    (21:00–08:00); equal start and end mean no quiet hours.
    """
    if channel not in quiet_channels(policy):
        return False
    start, end = policy.quiet_start, policy.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def release_time(
    policy: MessagingPolicy,
    channel: str,
    now: datetime.datetime,
    tz: datetime.tzinfo | str | None,
) -> datetime.datetime:
    """`now` when `channel` may be used now; else the moment the quiet window ends (the next
    `quiet_end` in the dealer's time zone), as an aware datetime."""
    zone = tz if isinstance(tz, datetime.tzinfo) else time_zone(tz)
    local = now.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if not is_quiet(policy, channel, wall):
        return now
    opening_day = local.date()
    if wall >= policy.quiet_end:
        # Evening part of a window across midnight: it opens tomorrow morning.
        opening_day += datetime.timedelta(days=1)
    opening = datetime.datetime.combine(opening_day, policy.quiet_end, tzinfo=zone)
    # Through UTC and back, so an opening in a daylight-saving gap lands on a real instant.
    return opening.astimezone(datetime.UTC).astimezone(zone)


# --- consent and the cap -------------------------------------------------------------------


def consenting_customers(dealer_id: int, customer_ids: Iterable[int], channel: str) -> set[int]:
    """Those of the customers who have granted marketing consent for `channel` (one query)."""
    ids = list(customer_ids)
    if not ids:
        return set()
    return set(
        Consent.objects.filter(
            column_in(Consent, "customer", ids), dealer_id=dealer_id, channel=channel, granted=True
        ).values_list("customer_id", flat=True)
    )


def cap_window_start(policy: MessagingPolicy, now: datetime.datetime) -> datetime.datetime:
    return now - datetime.timedelta(days=policy.cap_days)


def marketing_counts(
    dealer_id: int, customer_ids: Iterable[int], since: datetime.datetime
) -> dict[int, int]:
    """{customer id: outbound marketing messages since `since`, across channels} counting those
    sent or on their way (CAP_COUNTED_STATUSES); customers with none are absent (one query)."""
    ids = list(customer_ids)
    if not ids:
        return {}
    rows = (
        Message.objects.filter(
            column_in(Message, "customer", ids),
            dealer_id=dealer_id,
            direction=Message.Direction.OUTBOUND,
            is_marketing=True,
            status__in=CAP_COUNTED_STATUSES,
            created_at__gte=since,
        )
        .order_by()
        .values("customer_id")
        .annotate(n=Count("id"))
        .values_list("customer_id", "n")
    )
    return dict(rows)


def cap_reason(policy: MessagingPolicy) -> str:
    return _(
        "Held by the frequency cap: already %(count)d marketing messages in %(days)d days."
    ) % {"count": policy.cap_count, "days": policy.cap_days}


# --- numbers that cannot receive SMS -------------------------------------------------------


def sms_undeliverable_reason(number: str) -> str:
    """Why `number` (E.164) cannot receive SMS, or "" when it can (or might)."""
    if _CN_MOBILE_RE.fullmatch(number):
        return ""
    try:
        parsed = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:
        return _("Not a valid phone number.")
    if not phonenumbers.is_valid_number(parsed):
        return _("Not a valid phone number.")
    if phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.FIXED_LINE:
        return _("A landline cannot receive SMS.")
    return ""
