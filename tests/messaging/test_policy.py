"""Restraint rules: quiet hours in the dealer's time zone, consent per channel, the marketing
cap's count, landlines for SMS."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from dealercrm.messaging.models import MessageStatus, MessagingPolicy, Purpose
from dealercrm.messaging.policy import (
    consenting_customers,
    is_quiet,
    marketing_counts,
    release_time,
    sms_undeliverable_reason,
)
from tests.customers.factories import ConsentFactory, CustomerFactory
from tests.messaging.factories import MessageFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def policy(**kwargs) -> MessagingPolicy:
    """An unsaved policy with the defaults (21:00–08:00 for SMS and calls) unless told."""
    return MessagingPolicy(**kwargs)


def at(hour: int, minute: int = 0, *, day: int = 10, tz: ZoneInfo = SHANGHAI) -> datetime.datetime:
    return datetime.datetime(2025, 3, day, hour, minute, tzinfo=tz)


# --- quiet hours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(12), at(12)),  # the afternoon: now
        (at(20, 59), at(20, 59)),  # just before the window
        (at(21), at(8, day=11)),  # the window's start is quiet: tomorrow 08:00
        (at(23, 30), at(8, day=11)),
        (at(0, 0), at(8)),  # after midnight: this morning 08:00
        (at(7, 59), at(8)),
        (at(8), at(8)),  # the window's end is open again
    ],
)
def test_sms_in_quiet_hours_waits_for_08_00_in_shanghai(now, expected):
    assert release_time(policy(), "sms", now, "Asia/Shanghai") == expected


def test_the_clock_is_read_in_the_dealers_time_zone_not_the_servers():
    # 14:30 UTC is 22:30 in Shanghai (quiet) but 15:30 in Berlin (not quiet).
    now = datetime.datetime(2025, 3, 10, 14, 30, tzinfo=datetime.UTC)

    assert release_time(policy(), "sms", now, "Asia/Shanghai") == at(8, day=11)
    assert release_time(policy(), "sms", now, "Europe/Berlin") == now
    # In Urumqi (UTC+6) 14:30 UTC is 20:30: allowed.
    assert release_time(policy(), "sms", now, ZoneInfo("Asia/Urumqi")) == now


def test_the_opening_is_the_local_08_00_across_a_daylight_saving_change():
    berlin = ZoneInfo("Europe/Berlin")
    # The night the clocks go forward (30 March 2025, 02:00 → 03:00).
    now = datetime.datetime(2025, 3, 29, 23, 0, tzinfo=berlin)

    opening = release_time(policy(), "sms", now, berlin)

    assert opening == datetime.datetime(2025, 3, 30, 8, 0, tzinfo=berlin)
    assert opening.utcoffset() == datetime.timedelta(hours=2)


def test_channels_outside_the_quiet_list_go_at_once():
    assert release_time(policy(), "email", at(23), "Asia/Shanghai") == at(23)
    assert release_time(policy(), "phone", at(23), "Asia/Shanghai") == at(8, day=11)
    assert release_time(policy(quiet_channels="sms,email"), "email", at(23), SHANGHAI) == at(
        8, day=11
    )


def test_a_window_within_one_day_and_an_empty_window():
    lunch = policy(quiet_start=datetime.time(12), quiet_end=datetime.time(14))

    assert release_time(lunch, "sms", at(13), SHANGHAI) == at(14)
    assert release_time(lunch, "sms", at(23), SHANGHAI) == at(23)
    never = policy(quiet_start=datetime.time(9), quiet_end=datetime.time(9))
    assert not is_quiet(never, "sms", datetime.time(9))


# --- consent and the cap -------------------------------------------------------------------


@pytest.mark.django_db
def test_consenting_customers_are_those_who_granted_that_channel(dealer, other_dealer):
    granted = ConsentFactory(customer=CustomerFactory(dealer=dealer), channel="sms").customer
    withdrawn = ConsentFactory(
        customer=CustomerFactory(dealer=dealer), channel="sms", granted=False
    ).customer
    email_only = ConsentFactory(customer=CustomerFactory(dealer=dealer), channel="email").customer
    never = CustomerFactory(dealer=dealer)
    elsewhere = ConsentFactory(
        customer=CustomerFactory(dealer=other_dealer), channel="sms"
    ).customer
    ids = [granted.pk, withdrawn.pk, email_only.pk, never.pk, elsewhere.pk]

    assert consenting_customers(dealer.id, ids, "sms") == {granted.pk}
    assert consenting_customers(dealer.id, ids, "email") == {email_only.pk}


@pytest.mark.django_db
def test_marketing_counts_count_outbound_marketing_on_its_way_or_gone_across_channels(dealer):
    customer = CustomerFactory(dealer=dealer)
    since = at(0, day=1)

    def message(**kwargs):
        kwargs.setdefault("is_marketing", True)
        kwargs.setdefault("purpose", Purpose.CAMPAIGN)
        kwargs.setdefault("created_at", at(12, day=5))
        return MessageFactory(customer=customer, **kwargs)

    message(channel="sms", status=MessageStatus.DELIVERED)
    message(channel="email", status=MessageStatus.SENT)
    message(channel="wechat", status=MessageStatus.QUEUED)
    message(channel="sms", status=MessageStatus.SENDING)
    # Not counted: failed, held back, service messages, replies, older than the window.
    message(status=MessageStatus.FAILED)
    message(status=MessageStatus.HELD)
    message(status=MessageStatus.BLOCKED)
    message(is_marketing=False, purpose=Purpose.RECALL, status=MessageStatus.DELIVERED)
    message(direction="in", status=MessageStatus.RECEIVED)
    message(status=MessageStatus.DELIVERED, created_at=at(12, day=1) - datetime.timedelta(days=1))
    other = CustomerFactory(dealer=dealer)

    assert marketing_counts(dealer.id, [customer.pk, other.pk], since) == {customer.pk: 4}


# --- numbers that cannot receive SMS ---------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+8613812345678", ""),
        ("+8619912345678", ""),
        ("+862168881234", "A landline cannot receive SMS."),  # Shanghai landline
        ("+861068881234", "A landline cannot receive SMS."),  # Beijing landline
        ("+85291234567", ""),  # Hong Kong mobile
        ("+8612345", "Not a valid phone number."),
        ("not a number", "Not a valid phone number."),
    ],
)
def test_sms_undeliverable_reason(number, reason):
    assert sms_undeliverable_reason(number) == reason
