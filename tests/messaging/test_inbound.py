"""Customers' replies: matched to the customer, on the timeline, T/TD withdraws SMS consent with
its source, anything else becomes a task for the customer's owner; strangers are kept and listed."""

from __future__ import annotations

import pytest
from django.utils import translation

from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.models import Consent
from dealercrm.messaging.inbound import (
    inbound_receive,
    is_unsubscribe_reply,
    unmatched_inbound_messages,
)
from dealercrm.messaging.models import Message, MessageStatus
from dealercrm.messaging.providers.base import InboundMessage
from dealercrm.messaging.providers.email import message_id_for
from dealercrm.worklist.models import Task, TaskKind
from tests.customers.factories import ConsentFactory, CustomerFactory, CustomerPhoneFactory
from tests.messaging.factories import MessageFactory, ProviderConfigFactory

PHONE = "+8613912345678"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def sms_provider_config(dealer):
    return ProviderConfigFactory(dealer=dealer, channel="sms", kind="sms_gateway")


@pytest.fixture
def customer(dealer, consultant):
    customer = CustomerFactory(dealer=dealer, name="王建国", assigned_consultant=consultant)
    CustomerPhoneFactory(customer=customer, number=PHONE)
    ConsentFactory(customer=customer, channel="sms", granted=True)
    ConsentFactory(customer=customer, channel="email", granted=True)
    return customer


def sms_reply(text: str, *, key: str = "up:1", sender: str = "13912345678") -> InboundMessage:
    # Gateways give the national number; the adapter or the matcher makes it E.164.
    return InboundMessage(event_key=key, channel="sms", from_address=sender, body=text)


def sms_consent(customer) -> Consent:
    return Consent.objects.get(customer=customer, channel="sms")


@pytest.mark.parametrize("text", ["T", "t", " TD ", "td", "退订", "回T退订", "回t退订", "ＴＤ"])
def test_unsubscribe_words_are_recognised(text):
    assert is_unsubscribe_reply(text)


@pytest.mark.parametrize("text", ["", "TT", "不要退订", "T 谢谢", "好的", "TDX"])
def test_other_texts_are_not_unsubscribe_replies(text):
    assert not is_unsubscribe_reply(text)


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["T", "TD", "回T退订"])
def test_sms_reply_of_t_withdraws_sms_consent_at_once_with_its_source(
    sms_provider_config, customer, text
):
    # Given a marketing SMS sent to the customer
    ours = MessageFactory(customer=customer, to_address=PHONE, status=MessageStatus.SENT)

    # When the customer replies T (or TD, 回T退订)
    [reply] = inbound_receive(config=sms_provider_config, messages=[sms_reply(text)])

    # Then SMS consent is withdrawn, recorded with the reply as its source …
    consent = sms_consent(customer)
    assert consent.granted is False
    assert consent.source == f"SMS reply {text}"
    # … other channels are untouched, no task is made, and the reply is on the timeline
    assert Consent.objects.get(customer=customer, channel="email").granted is True
    assert not Task.objects.exists()
    assert reply.customer_id == customer.pk
    assert reply.in_reply_to_id == ours.pk
    assert reply.direction == Message.Direction.INBOUND
    assert reply.from_address == PHONE


@pytest.mark.django_db
def test_t_withdraws_consent_of_every_customer_of_the_dealer_on_that_number(
    sms_provider_config, customer, dealer
):
    # Given a second customer of the dealer sharing the number (husband and wife)
    spouse = CustomerFactory(dealer=dealer)
    CustomerPhoneFactory(customer=spouse, number=PHONE)
    ConsentFactory(customer=spouse, channel="sms", granted=True)

    # When the number replies T
    inbound_receive(config=sms_provider_config, messages=[sms_reply("T")])

    # Then neither gets marketing SMS any more
    assert sms_consent(customer).granted is False
    assert sms_consent(spouse).granted is False


@pytest.mark.django_db
def test_other_reply_becomes_a_task_for_the_customers_consultant(
    sms_provider_config, customer, consultant
):
    # When the customer replies with a question
    [reply] = inbound_receive(
        config=sms_provider_config, messages=[sms_reply("下周二可以保养吗？")]
    )

    # Then the consultant has a reply task with the text, and consent is untouched
    task = Task.objects.get(customer=customer)
    assert task.kind == TaskKind.REPLY
    assert task.assignee == consultant
    assert "下周二可以保养吗？" in task.body
    assert task.source_id == str(reply.pk)
    assert sms_consent(customer).granted is True
    # … and the reply is a timeline row of the customer
    assert list(Message.objects.filter(customer=customer).inbound()) == [reply]


@pytest.mark.django_db
def test_reply_of_an_unassigned_customer_makes_an_unassigned_task(sms_provider_config, dealer):
    customer = CustomerFactory(dealer=dealer, assigned_consultant=None)
    CustomerPhoneFactory(customer=customer, number=PHONE)

    inbound_receive(config=sms_provider_config, messages=[sms_reply("你好")])

    task = Task.objects.get(customer=customer)
    assert task.assignee is None


@pytest.mark.django_db
def test_unknown_sender_is_stored_without_customer_and_listed(sms_provider_config, dealer):
    # When a number no customer has replies (even T)
    [reply] = inbound_receive(
        config=sms_provider_config, messages=[sms_reply("T", sender="13700001111")]
    )

    # Then the reply is kept with no customer, listed for staff, and no task is made
    assert reply.customer_id is None
    assert reply.from_address == "+8613700001111"
    assert not Task.objects.exists()
    with dealer_scope(dealer.pk):
        assert list(unmatched_inbound_messages()) == [reply]


@pytest.mark.django_db
def test_a_customer_of_another_dealer_is_never_matched(sms_provider_config, other_dealer):
    # Given the number belongs to a customer of another dealer only
    stranger = CustomerFactory(dealer=other_dealer)
    CustomerPhoneFactory(customer=stranger, number=PHONE)
    ConsentFactory(customer=stranger, channel="sms", granted=True)

    # When it replies T to our dealer's number
    [reply] = inbound_receive(config=sms_provider_config, messages=[sms_reply("T")])

    # Then nothing of the other dealer changes
    assert reply.customer_id is None
    assert sms_consent(stranger).granted is True


@pytest.mark.django_db
def test_the_same_event_twice_is_stored_once(sms_provider_config, customer):
    inbound_receive(config=sms_provider_config, messages=[sms_reply("你好", key="up:9")])
    again = inbound_receive(
        config=sms_provider_config,
        messages=[sms_reply("你好", key="up:9"), sms_reply("你好", key="up:9")],
    )

    assert again == []
    assert Message.objects.inbound().count() == 1
    assert Task.objects.count() == 1


@pytest.mark.django_db
def test_email_reply_is_matched_by_in_reply_to_and_t_in_an_email_is_just_a_reply(
    dealer, customer, consultant
):
    # Given an e-mail we sent, whose Message-ID the customer's mail client quotes
    email_config = ProviderConfigFactory(dealer=dealer, channel="email", kind="smtp")
    customer.email = "wang@example.cn"
    customer.save()
    ours = MessageFactory(
        customer=customer,
        channel="email",
        to_address="wang@example.cn",
        status=MessageStatus.SENT,
        provider_message_id=message_id_for("manual:x:1:email", "aurora.example.cn"),
    )

    # When the reply arrives (its text only "T")
    [reply] = inbound_receive(
        config=email_config,
        messages=[
            InboundMessage(
                event_key="mail:<abc@mail.example.cn>",
                channel="email",
                from_address="Wang@Example.cn",
                subject="Re: 保养提醒",
                body="T",
                in_reply_to=ours.provider_message_id,
            )
        ],
    )

    # Then it answers our e-mail, and (T being an SMS convention) it is a task, not an unsubscribe
    assert reply.in_reply_to_id == ours.pk
    assert reply.customer_id == customer.pk
    assert Task.objects.get(customer=customer).kind == TaskKind.REPLY
    assert Consent.objects.get(customer=customer, channel="email").granted is True
