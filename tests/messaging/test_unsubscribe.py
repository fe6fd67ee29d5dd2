"""The e-mail unsubscribe link: in every e-mail (sent here through a real local SMTP server), a
page that names the dealer and asks to confirm, a POST (or a mail client's RFC 8058 one-click
POST) that withdraws e-mail consent at once with its source; anything forged gets a clear 400."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.utils import translation

from dealercrm.customers.models import Consent
from dealercrm.messaging.models import Message, MessageStatus
from dealercrm.messaging.outbox import dispatch_due
from dealercrm.messaging.unsubscribe import (
    UNSUBSCRIBE_SOURCE,
    read_unsubscribe_token,
    unsubscribe_token,
    unsubscribe_url,
)
from tests.customers.factories import ConsentFactory, CustomerFactory
from tests.messaging.factories import MessageFactory

# Reasons and pages are read in English here; the UI's default language is Chinese.
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def customer(dealer):
    customer = CustomerFactory(dealer=dealer, email="li.na@example.cn")
    ConsentFactory(customer=customer, channel="email", granted=True)
    ConsentFactory(customer=customer, channel="sms", granted=True)
    return customer


def email_consent(customer) -> Consent:
    return Consent.objects.get(customer=customer, channel="email")


def path_of(url: str) -> str:
    return urlsplit(url).path


@pytest.mark.django_db
def test_the_link_in_a_sent_email_unsubscribes_after_confirming(
    client, dealer, customer, smtp_config, smtp_server, settings
):
    # Given a marketing e-mail sent through the dealer's SMTP server
    settings.SITE_URL = "https://crm.example.cn"
    MessageFactory(
        customer=customer,
        channel="email",
        to_address=customer.email,
        subject="五一试驾邀请",
        body="李女士您好，五一期间欢迎到店试驾。",
        is_marketing=True,
        purpose="campaign",
    )
    dispatch_due()
    [arrived] = smtp_server.messages
    header = str(arrived.message["List-Unsubscribe"]).strip().strip("<>")
    assert header.startswith("https://crm.example.cn/m/u/")
    assert header in arrived.message.get_body(("plain",)).get_content()

    # When the customer opens the link
    page = client.get(path_of(header))

    # Then the page names the dealer and asks to confirm, and nothing changed yet
    assert page.status_code == 200
    assert dealer.name in page.content.decode()
    assert email_consent(customer).granted is True

    # When they confirm
    done = client.post(path_of(header))

    # Then e-mail consent is withdrawn at once, recorded with its source; SMS is untouched
    assert done.status_code == 200
    assert "unsubscribed" in done.content.decode()
    consent = email_consent(customer)
    assert consent.granted is False
    assert consent.source == UNSUBSCRIBE_SOURCE == "e-mail unsubscribe link"
    assert Consent.objects.get(customer=customer, channel="sms").granted is True


@pytest.mark.django_db
def test_one_click_unsubscribe_from_the_mail_client(client, dealer, customer):
    # Given the List-Unsubscribe address of an e-mail to the customer
    url = unsubscribe_url(dealer_id=dealer.pk, customer_id=customer.pk)

    # When the mail client posts RFC 8058's one-click body (no CSRF token, no cookies)
    response = client.post(
        path_of(url),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    # Then consent is withdrawn
    assert response.status_code == 200
    assert email_consent(customer).granted is False


@pytest.mark.django_db
def test_clicking_twice_changes_nothing_more(client, dealer, customer):
    url = path_of(unsubscribe_url(dealer_id=dealer.pk, customer_id=customer.pk))
    client.post(url)
    first = email_consent(customer).changed_at

    again = client.post(url)

    assert again.status_code == 200
    assert email_consent(customer).changed_at == first


@pytest.mark.django_db
def test_queued_marketing_email_is_not_sent_after_unsubscribing(
    client, dealer, customer, settings, tmp_path
):
    # Given a marketing e-mail still in the queue
    settings.MESSAGING_FILE_DIR = tmp_path
    message = MessageFactory(
        customer=customer,
        channel="email",
        to_address=customer.email,
        is_marketing=True,
        purpose="campaign",
    )

    # When the customer unsubscribes before the worker comes to it
    client.post(path_of(unsubscribe_url(dealer_id=dealer.pk, customer_id=customer.pk)))
    dispatch_due()

    # Then it is not sent
    assert Message.objects.get(pk=message.pk).status == MessageStatus.BLOCKED


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_or_damaged_link_gets_a_clear_page(client, dealer, customer, method):
    # Given a genuine token with one character changed, and one made up
    token = unsubscribe_token(dealer_id=dealer.pk, customer_id=customer.pk)
    damaged = token[:-1] + ("A" if token[-1] != "A" else "B")

    for bad in (damaged, "made-up-token"):
        # When it is opened or posted
        response = getattr(client, method)(f"/m/u/{bad}")

        # Then the answer is 400 with a page that says so, and nothing changes
        assert response.status_code == 400
        assert "This link does not work" in response.content.decode()
    assert email_consent(customer).granted is True


@pytest.mark.django_db
def test_a_token_names_exactly_one_dealer_customer_and_channel(dealer, other_dealer, customer):
    # Given tokens of the same customer id at two dealers
    ours = read_unsubscribe_token(unsubscribe_token(dealer_id=dealer.pk, customer_id=customer.pk))
    theirs = read_unsubscribe_token(
        unsubscribe_token(dealer_id=other_dealer.pk, customer_id=customer.pk)
    )

    # Then each names its own dealer, and the channel is e-mail
    assert (ours.dealer_id, ours.customer_id, ours.channel) == (dealer.pk, customer.pk, "email")
    assert theirs.dealer_id == other_dealer.pk


@pytest.mark.django_db
def test_a_token_for_a_customer_of_another_dealer_finds_nobody(client, other_dealer, customer):
    # Given a genuine token that pairs the customer with a dealer they do not belong to
    url = unsubscribe_url(dealer_id=other_dealer.pk, customer_id=customer.pk)

    # Then the page does not work and the customer's consent is untouched
    assert client.post(path_of(url)).status_code == 400
    assert email_consent(customer).granted is True
