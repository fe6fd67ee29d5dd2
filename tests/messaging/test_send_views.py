"""Sending one message from the customer 360 page: the panel, its preview, and Send."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.messaging.models import Message, MessageStatus, MessagingPolicy, Purpose
from tests.customers.factories import ConsentFactory, CustomerFactory, CustomerPhoneFactory
from tests.messaging.factories import MessageFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

# 10:00 in Shanghai: outside the default quiet hours (21:00–08:00).
DAYTIME = datetime.datetime(2025, 6, 10, 2, 0, tzinfo=datetime.UTC)
# 22:30 in Shanghai: inside them; and 02:00, inside them after midnight.
NIGHT = datetime.datetime(2025, 6, 10, 14, 30, tzinfo=datetime.UTC)
SMALL_HOURS = datetime.datetime(2025, 6, 10, 18, 0, tzinfo=datetime.UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _outbox_in_tmp(settings, tmp_path):
    # The file provider (the default for SMS) writes here instead of var/.
    settings.MESSAGING_FILE_DIR = tmp_path


@pytest.fixture
def consultant(make_user):
    return make_user(Role.SALES_CONSULTANT, language="en")


@pytest.fixture
def customer(dealer, consultant):
    customer = CustomerFactory(
        dealer=dealer,
        assigned_consultant=consultant,
        name="张伟",
        gender="male",
        email="zhang.wei@example.cn",
    )
    CustomerPhoneFactory(customer=customer, number="+8613812345678")
    return customer


@pytest.fixture
def policy(dealer):
    return MessagingPolicy.objects.create(dealer=dealer, sms_signature="极光汽车")


def _panel(customer) -> str:
    return reverse("messaging_send:panel", args=[customer.pk])


def _preview(customer) -> str:
    return reverse("messaging_send:preview", args=[customer.pk])


def _token(html: str) -> str:
    return re.search(r'name="token" value="([0-9a-f]+)"', html).group(1)


def _options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S).group(0)
    return re.findall(r'<option value="([^"]*)"', select)


def _send(client, customer, **fields):
    data = {"channel": "sms", "purpose": Purpose.PERSONAL, "token": "a" * 32, "body": "您好"}
    data.update(fields)
    return client.post(_panel(customer), data, **HTMX)


# --- access ------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, customer):
    response = client.get(_panel(customer))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_role_that_may_not_send_gets_403_and_no_button(client_for, make_user, customer):
    analyst = make_user(Role.OEM_ANALYST)
    client = client_for(analyst)

    assert client.get(_panel(customer)).status_code == 403
    assert client.post(_panel(customer), {"body": "x"}).status_code == 403
    page = client.get(reverse("customers:detail", args=[customer.pk]))
    assert page.status_code == 200
    assert _panel(customer) not in page.content.decode()


def test_another_dealers_customer_and_a_colleagues_customer_are_404(
    client_for, consultant, make_user, dealer, other_dealer
):
    theirs = CustomerFactory(dealer=other_dealer)
    colleagues = CustomerFactory(
        dealer=dealer, assigned_consultant=make_user(Role.SALES_CONSULTANT)
    )
    client = client_for(consultant)

    for customer in (theirs, colleagues):
        assert client.get(_panel(customer), **HTMX).status_code == 404
        assert client.get(_preview(customer), **HTMX).status_code == 404
        assert _send(client, customer).status_code == 404
    assert not Message.objects.exists()


def test_the_360_page_has_the_send_button_and_a_timeline_that_reloads_on_send(
    client_for, consultant, customer
):
    html = client_for(consultant).get(reverse("customers:detail", args=[customer.pk])).content
    html = html.decode()

    assert f'hx-get="{_panel(customer)}"' in html
    assert 'hx-trigger="messageSent from:body"' in html
    assert f'hx-get="{reverse("customers:timeline", args=[customer.pk])}"' in html


# --- the panel ---------------------------------------------------------------------------------


def test_the_panel_offers_the_channels_the_customer_can_be_reached_on(
    client_for, consultant, customer
):
    html = client_for(consultant).get(_panel(customer), **HTMX).content.decode()

    assert _options(html, "channel") == ["sms", "phone", "email"]
    assert "138****5678" in html  # masked, as everywhere
    assert "zhang.wei@example.cn" in html
    assert 'value="sms" selected' in html
    assert "<html" not in html  # an HTMX request gets the panel alone


def test_a_customer_with_nowhere_to_send_gets_a_panel_that_says_so(client_for, consultant, dealer):
    nowhere = CustomerFactory(dealer=dealer, assigned_consultant=consultant)

    html = client_for(consultant).get(_panel(nowhere), **HTMX).content.decode()

    assert 'id="send-nowhere"' in html
    assert "<form" not in html


def test_the_templates_offered_are_the_dealers_active_ones_of_the_channel(
    client_for, consultant, customer, dealer, other_dealer
):
    sms = MessageTemplateFactory(dealer=dealer, channel="sms", name="保养提醒")
    email = MessageTemplateFactory(dealer=dealer, channel="email", name="邮件问候")
    MessageTemplateFactory(dealer=dealer, channel="sms", is_active=False)
    MessageTemplateFactory(dealer=other_dealer, channel="sms")
    client = client_for(consultant)

    for_sms = client.get(_panel(customer), {"channel": "sms"}, **HTMX).content.decode()
    for_email = client.get(_panel(customer), {"channel": "email"}, **HTMX).content.decode()

    assert _options(for_sms, "template") == ["", str(sms.pk)]
    assert _options(for_email, "template") == ["", str(email.pk)]
    assert 'id="send-subject"' in for_email and 'id="send-subject"' not in for_sms


def test_redrawing_the_panel_keeps_its_token_and_what_was_written(client_for, consultant, customer):
    client = client_for(consultant)
    token = _token(client.get(_panel(customer), **HTMX).content.decode())

    html = client.get(
        _panel(customer), {"channel": "email", "token": token, "body": "您好张先生"}, **HTMX
    ).content.decode()

    assert _token(html) == token
    assert "您好张先生</textarea>" in html


def test_the_panel_query_count_is_small_and_fixed(client_for, consultant, customer, dealer):
    client = client_for(consultant)
    client.get(_panel(customer), **HTMX)  # warm the session
    with CaptureQueriesContext(connection) as few:
        client.get(_panel(customer), **HTMX)
    for _ in range(20):
        MessageTemplateFactory(dealer=dealer, channel="sms")
    with CaptureQueriesContext(connection) as many:
        client.get(_panel(customer), **HTMX)

    assert len(few) == len(many) <= 8


# --- the preview -------------------------------------------------------------------------------


def test_the_preview_of_an_sms_shows_the_signature_and_counts_it(
    client_for, consultant, customer, policy
):
    body = "张先生您好，您的车辆已保养完毕，欢迎随时来店取车。"

    html = (
        client_for(consultant)
        .get(
            _preview(customer),
            {"channel": "sms", "purpose": Purpose.PERSONAL, "body": body},
            **HTMX,
        )
        .content.decode()
    )

    full = f"【极光汽车】{body}"
    assert full in html
    assert f"{len(full)}/70" in html
    assert "Service" in html


def test_the_preview_of_a_marketing_sms_ends_with_the_unsubscribe_words(
    client_for, consultant, customer, policy
):
    html = (
        client_for(consultant)
        .get(
            _preview(customer),
            {"channel": "sms", "purpose": Purpose.CAMPAIGN, "body": "夏季特惠"},
            **HTMX,
        )
        .content.decode()
    )

    assert "【极光汽车】夏季特惠 回T退订" in html
    assert "Marketing" in html


def test_the_preview_of_a_long_sms_counts_its_segments(client_for, consultant, customer):
    html = (
        client_for(consultant)
        .get(
            _preview(customer),
            {"channel": "sms", "purpose": Purpose.PERSONAL, "body": "好" * 71},
            **HTMX,
        )
        .content.decode()
    )

    assert "2 segments (71)" in html


def test_a_template_is_previewed_as_rendered_for_this_customer(
    client_for, consultant, customer, dealer
):
    template = MessageTemplateFactory(
        dealer=dealer,
        channel="sms",
        purpose=Purpose.MAINTENANCE_REMINDER,
        body="{{ salutation }}您好，您的爱车该保养了。",
    )

    html = (
        client_for(consultant)
        .get(_preview(customer), {"channel": "sms", "template": template.pk}, **HTMX)
        .content.decode()
    )

    assert "张先生您好，您的爱车该保养了。" in html
    assert "{{" not in html.split('id="send-preview-text"')[1]
    assert "Marketing" in html  # a maintenance reminder is marketing


def test_a_template_that_cannot_render_names_the_customer_and_the_variable(
    client_for, consultant, customer, dealer
):
    template = MessageTemplateFactory(
        dealer=dealer, channel="sms", body="{{ salutation }}，您的{{ plate }}该年检了。"
    )

    html = (
        client_for(consultant)
        .get(_preview(customer), {"channel": "sms", "template": template.pk}, **HTMX)
        .content.decode()
    )

    error = re.search(r'id="send-preview-error">(.*?)</div>', html, re.S).group(1)
    assert "张伟" in error
    assert "plate" in error


def test_a_typed_text_may_use_the_variables_too(client_for, consultant, customer):
    client = client_for(consultant)

    filled = client.get(
        _preview(customer), {"channel": "sms", "body": "{{ salutation }}，车已备好"}, **HTMX
    ).content.decode()
    unknown = client.get(
        _preview(customer), {"channel": "sms", "body": "{{ lucky_number }}号"}, **HTMX
    ).content.decode()

    assert "Mr Zhang，车已备好" in filled  # the sender works in English
    assert 'id="send-preview-error"' in unknown
    assert "lucky_number" in unknown


# --- sending -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the outbox job runs when the send commits
@time_machine.travel(DAYTIME, tick=False)
def test_sending_queues_one_message_and_the_timeline_shows_it_sent(
    client_for, consultant, customer, settings
):
    client = client_for(consultant)
    token = _token(client.get(_panel(customer), **HTMX).content.decode())

    response = _send(client, customer, token=token, body="张先生您好，您的新车已到店。")

    assert response.status_code == 200
    assert response["HX-Trigger"] == "messageSent"
    message = Message.objects.get()
    assert (message.customer, message.channel, message.created_by) == (customer, "sms", consultant)
    assert message.source_kind == Message.SourceKind.MANUAL
    assert message.source_id == token
    assert message.status == MessageStatus.SENT
    html = response.content.decode()
    assert 'id="send-notice"' in html
    assert 'data-status="sent"' in html
    assert _token(html) != token  # the next Send is a new message
    # The file provider (the demo default) took it: one line in the SMS log.
    assert "张先生您好，您的新车已到店。" in (settings.MESSAGING_FILE_DIR / "sms.log").read_text()
    timeline = client.get(reverse("customers:timeline", args=[customer.pk]), **HTMX)
    assert "SMS · Sent · Service" in timeline.content.decode()
    assert "张先生您好，您的新车已到店。" in timeline.content.decode()


@time_machine.travel(DAYTIME, tick=False)
def test_a_double_submit_sends_once(client_for, consultant, customer):
    client = client_for(consultant)

    first = _send(client, customer, token="b" * 32)
    second = _send(client, customer, token="b" * 32)

    assert first.status_code == second.status_code == 200
    assert Message.objects.count() == 1


@time_machine.travel(DAYTIME, tick=False)
def test_a_template_is_sent_as_rendered_with_its_purpose(client_for, consultant, customer, dealer):
    ConsentFactory(customer=customer, channel="sms", granted=True)
    template = MessageTemplateFactory(
        dealer=dealer, channel="sms", purpose=Purpose.MAINTENANCE_REMINDER
    )

    _send(client_for(consultant), customer, template=template.pk, purpose=Purpose.PERSONAL)

    message = Message.objects.get()
    assert message.template == template
    assert message.purpose == Purpose.MAINTENANCE_REMINDER
    assert message.is_marketing
    assert "张先生，您的爱车该保养了。" in message.body


def test_no_text_and_no_template_is_an_error_on_the_text(client_for, consultant, customer):
    response = _send(client_for(consultant), customer, body="  ")

    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'id="send-body"[^>]*is-invalid', html)
    assert not Message.objects.exists()


@time_machine.travel(DAYTIME, tick=False)
def test_marketing_without_consent_is_refused_on_the_channel(client_for, consultant, customer):
    ConsentFactory(customer=customer, channel="sms", granted=False)

    response = _send(client_for(consultant), customer, purpose=Purpose.CAMPAIGN, body="夏季特惠")

    html = response.content.decode()
    assert re.search(r'id="send-channel" class="form-select is-invalid"', html)
    assert 'id="send-notice"' not in html
    assert not Message.objects.exists()
    assert "HX-Trigger" not in response


@time_machine.travel(NIGHT, tick=False)
def test_at_night_an_sms_waits_for_the_morning_and_the_panel_says_when(
    client_for, consultant, customer
):
    response = _send(client_for(consultant), customer, body="明早见")

    message = Message.objects.get()
    assert message.status == MessageStatus.QUEUED
    assert "it will be sent tomorrow at 08:00" in response.content.decode()
    assert response["HX-Trigger"] == "messageSent"


@time_machine.travel(SMALL_HOURS, tick=False)
def test_in_the_small_hours_an_sms_waits_until_eight(client_for, consultant, customer):
    response = _send(client_for(consultant), customer, body="早上好")

    assert "it will be sent at 08:00" in response.content.decode()


@time_machine.travel(DAYTIME, tick=False)
def test_a_marketing_message_over_the_cap_is_held_and_the_panel_says_so(
    client_for, consultant, customer
):
    ConsentFactory(customer=customer, channel="sms", granted=True)
    for n in range(4):
        MessageFactory(
            customer=customer,
            purpose=Purpose.CAMPAIGN,
            is_marketing=True,
            status=MessageStatus.DELIVERED,
            created_at=DAYTIME - datetime.timedelta(days=n + 1),
        )

    response = _send(client_for(consultant), customer, purpose=Purpose.CAMPAIGN, body="夏季特惠")

    held = Message.objects.get(source_id="a" * 32)
    assert held.status == MessageStatus.HELD
    html = response.content.decode()
    assert "alert-warning" in html
    assert 'data-status="held"' in html


@time_machine.travel(DAYTIME, tick=False)
def test_sending_without_htmx_goes_back_to_the_360_page(client_for, consultant, customer):
    response = client_for(consultant).post(
        _panel(customer),
        {"channel": "sms", "purpose": Purpose.PERSONAL, "token": "c" * 32, "body": "您好"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    assert Message.objects.count() == 1


def test_without_htmx_the_panel_is_a_page_of_its_own_and_errors_come_back_on_it(
    client_for, consultant, customer
):
    client = client_for(consultant)

    page = client.get(_panel(customer))
    refused = client.post(
        _panel(customer), {"channel": "sms", "purpose": Purpose.PERSONAL, "token": "d" * 32}
    )

    assert page.status_code == 200
    assert "<html" in page.content.decode() and 'id="send-panel"' in page.content.decode()
    assert refused.status_code == 400
    assert re.search(r'id="send-body"[^>]*is-invalid', refused.content.decode())
    assert not Message.objects.exists()
