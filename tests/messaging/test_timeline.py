"""Messages on the customer timeline: both directions, one query, what happened in the title."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from dealercrm.core.permissions import Role
from dealercrm.customers.timeline import customer_timeline
from dealercrm.messaging.models import Message, MessageStatus, Purpose
from dealercrm.messaging.timeline import message_timeline
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory, InteractionFactory
from tests.messaging.factories import MessageFactory

pytestmark = pytest.mark.django_db

MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def customer(dealer, consultant):
    customer = CustomerFactory(dealer=dealer, assigned_consultant=consultant, name="张伟")
    CustomerPhoneFactory(customer=customer, number="+8613812345678")
    return customer


def _at(minutes_ago: int) -> datetime.datetime:
    return timezone.now() - minutes_ago * MINUTE


def test_both_directions_come_newest_first_in_one_query(customer, dealer, other_dealer):
    sent = MessageFactory(customer=customer, created_at=_at(30), status=MessageStatus.SENT)
    reply = MessageFactory(
        customer=customer,
        direction=Message.Direction.INBOUND,
        status=MessageStatus.RECEIVED,
        body="好的，周六上午到",
        created_at=_at(10),
        idempotency_key="",
    )
    MessageFactory(customer=CustomerFactory(dealer=dealer))  # another customer's
    MessageFactory(customer=CustomerFactory(dealer=other_dealer))  # another dealer's

    with CaptureQueriesContext(connection) as queries:
        entries = message_timeline(customer, limit=10, before=None)

    assert len(queries) == 1
    assert [entry.kind for entry in entries] == ["message_reply", "message"]
    assert [entry.occurred_at for entry in entries] == [reply.created_at, sent.created_at]
    assert {entry.source for entry in entries} == {"messaging"}
    assert entries[1].url == reverse("messaging:message", args=[sent.pk])


def test_limit_and_before_page_through_the_history(customer):
    messages = [MessageFactory(customer=customer, created_at=_at(n)) for n in range(5)]

    first = message_timeline(customer, limit=2, before=None)
    older = message_timeline(customer, limit=10, before=first[-1].occurred_at)

    assert [e.occurred_at for e in first] == [m.created_at for m in messages[:2]]
    assert [e.occurred_at for e in older] == [m.created_at for m in messages[2:]]


def test_the_title_says_channel_status_and_service_or_marketing(customer, manager, english):
    MessageFactory(
        customer=customer,
        channel="sms",
        status=MessageStatus.DELIVERED,
        purpose=Purpose.APPOINTMENT_CONFIRMATION,
        is_marketing=False,
        body="【极光4S】张先生您好，您预约的保养时间为6月14日09:00。",
        created_by=manager,
        created_at=_at(3),
    )
    MessageFactory(
        customer=customer,
        channel="email",
        status=MessageStatus.SENT,
        purpose=Purpose.CAMPAIGN,
        is_marketing=True,
        subject="夏季空调检测",
        body="免费检测，欢迎到店。",
        created_at=_at(2),
    )
    MessageFactory(
        customer=customer,
        channel="sms",
        status=MessageStatus.UNDELIVERABLE,
        status_reason="a landline cannot receive SMS",
        created_at=_at(1),
    )

    undeliverable, email, sms = message_timeline(customer, limit=10, before=None)

    assert sms.title == "SMS · Delivered · Service"
    assert sms.icon == "message"
    assert sms.body.startswith("【极光4S】张先生您好")
    assert sms.actor == str(manager)
    assert email.title == "E-mail · Sent · Marketing"
    assert email.icon == "mail"
    assert email.body == "夏季空调检测\n免费检测，欢迎到店。"
    assert email.actor == ""
    assert undeliverable.title == "SMS · Undeliverable: a landline cannot receive SMS · Service"


@pytest.mark.parametrize(
    ("channel", "icon", "reply"),
    [
        ("sms", "message", "Reply by SMS"),
        ("email", "mail", "Reply by e-mail"),
        ("wechat", "brand-wechat", "Reply on WeChat"),
        ("phone", "phone", "Reply by phone"),
        ("mail", "mailbox", "Reply by letter"),
    ],
)
def test_every_channel_has_its_icon_and_reply_title(customer, english, channel, icon, reply):
    MessageFactory(customer=customer, channel=channel, created_at=_at(2))
    MessageFactory(
        customer=customer,
        channel=channel,
        direction=Message.Direction.INBOUND,
        status=MessageStatus.RECEIVED,
        created_at=_at(1),
        idempotency_key="",
    )

    inbound, outbound = message_timeline(customer, limit=10, before=None)

    assert (outbound.icon, inbound.icon) == (icon, icon)
    assert inbound.title == reply


def test_held_and_blocked_messages_say_why_they_did_not_go(customer, english):
    MessageFactory(
        customer=customer,
        status=MessageStatus.HELD,
        is_marketing=True,
        status_reason="at most 4 marketing messages in 30 days",
    )

    (entry,) = message_timeline(customer, limit=10, before=None)

    assert entry.title == "SMS · Held: at most 4 marketing messages in 30 days · Marketing"


def test_a_sent_message_shows_no_reason_even_if_one_was_left(customer, english):
    MessageFactory(customer=customer, status=MessageStatus.SENT, status_reason="retried once")

    (entry,) = message_timeline(customer, limit=10, before=None)

    assert entry.title == "SMS · Sent · Service"


def test_messages_merge_with_the_other_entries_of_the_customer(customer):
    InteractionFactory(customer=customer, occurred_at=_at(5), body="来店看车")
    MessageFactory(customer=customer, created_at=_at(3), body="感谢您今天到店")

    entries = customer_timeline(customer, limit=10)

    assert [e.body for e in entries[:2]] == ["感谢您今天到店", "来店看车"]


def test_the_360_page_shows_messages_and_its_query_count_does_not_grow_with_them(
    client_for, make_user, dealer, django_assert_max_num_queries
):
    manager = make_user(Role.DEALER_MANAGER, language="en")
    short, long = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    for customer, count in ((short, 2), (long, 60)):
        CustomerPhoneFactory(customer=customer)
        for n in range(count):
            MessageFactory(
                customer=customer,
                created_by=manager,
                created_at=_at(n + 1),
                status=MessageStatus.SENT if n % 2 else MessageStatus.RECEIVED,
                direction="out" if n % 2 else "in",
                body=f"短信{n}",
            )
    client = client_for(manager)
    client.get(reverse("customers:detail", args=[short.pk]))  # warm the session

    with CaptureQueriesContext(connection) as few:
        page = client.get(reverse("customers:detail", args=[short.pk]))
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("customers:detail", args=[long.pk]))

    assert "SMS · Sent · Service" in page.content.decode()
    assert "Reply by SMS" in page.content.decode()
    assert len(few) == len(many)
    # Fixed whatever the history; one query per timeline provider (the sales app adds four:
    # lead events, follow-ups, test drives, orders; the service app four; feedback two:
    # complaints, surveys).
    with django_assert_max_num_queries(22):
        client.get(reverse("customers:detail", args=[long.pk]))
