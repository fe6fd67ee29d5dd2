"""E-mail through a real SMTP server (aiosmtpd on 127.0.0.1): what arrives, headers and body."""

from __future__ import annotations

import json

import pytest
import time_machine
from django.core import mail
from django.test import RequestFactory

from dealercrm.messaging.providers import provider_for
from dealercrm.messaging.providers.base import Outcome, WebhookRejected
from dealercrm.messaging.providers.configuration import ProviderSettings
from dealercrm.messaging.providers.email import DjangoEmailProvider, SmtpProvider, message_id_for
from tests.messaging.fake_gateways import free_port, sign_callback

# Reasons and pages are read in English here; the UI's default language is Chinese.
pytestmark = pytest.mark.usefixtures("english")

UNSUBSCRIBE = "https://crm.example.cn/m/u/abc123/"


@pytest.fixture
def email_message(make_outgoing):
    def _make(**fields):
        values = {
            "channel": "email",
            "to_address": "zhang.san@example.cn",
            "subject": "您的爱车该保养了",
            "body": "张先生您好：\n\n您的爱车沪A12345该做5000公里保养了。<请回复预约>",
            "params": {},
            "template_code": "",
            "unsubscribe_url": UNSUBSCRIBE,
        }
        values.update(fields)
        return make_outgoing(**values)

    return _make


def smtp_provider(server, secret="", **options) -> SmtpProvider:
    return SmtpProvider(
        ProviderSettings(
            kind="smtp", channel="email", options=server.options(**options), secret=secret
        )
    )


@pytest.mark.django_db
def test_a_message_arrives_with_its_headers_and_both_parts(
    dealer, smtp_config, smtp_server, email_message
):
    # given the dealer's own SMTP server with a login (password stored encrypted)
    message = email_message(dealer_id=dealer.pk)

    # when the outbox hands the provider the message
    [result] = provider_for(dealer.pk, "email").send([message])

    # then exactly that arrived, logged in, with our headers
    assert result.outcome == Outcome.SENT
    assert smtp_server.logins == 1
    [arrived] = smtp_server.messages
    assert arrived.rcpt_tos == ["zhang.san@example.cn"]
    assert arrived.mail_from == "service@aurora-pudong.example.cn"
    email = arrived.message
    assert email["Subject"] == "您的爱车该保养了"
    assert email["From"].addresses[0].display_name == "极光汽车浦东店"
    expected_id = message_id_for(message.idempotency_key, "aurora-pudong.example.cn")
    assert email["Message-ID"] == expected_id
    assert result.provider_message_id == expected_id
    assert email["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "您的爱车沪A12345该做5000公里保养了。" in text
    assert UNSUBSCRIBE in text
    assert "&lt;请回复预约&gt;" in html  # the text is escaped, not markup
    assert f'href="{UNSUBSCRIBE}"' in html


def test_the_message_id_is_the_same_for_the_same_key_and_hides_it():
    first = message_id_for("campaign:9:55:email")

    assert first == message_id_for("campaign:9:55:email")
    assert first != message_id_for("campaign:9:56:email")
    assert "campaign" not in first and first.startswith("<") and first.endswith("@dealercrm>")


def test_a_refused_recipient_is_undeliverable_and_the_batch_goes_on(smtp_server, email_message):
    smtp_server.refuse("nobody@example.cn")
    provider = smtp_provider(smtp_server)

    refused, fine = provider.send([email_message(to_address="nobody@example.cn"), email_message()])

    assert refused.outcome == Outcome.UNDELIVERABLE
    assert "550" in refused.reason and "User unknown" in refused.reason
    assert fine.outcome == Outcome.SENT
    assert [m.rcpt_tos for m in smtp_server.messages] == [["zhang.san@example.cn"]]


def test_a_temporary_refusal_is_retried(smtp_server, email_message):
    smtp_server.refuse("busy@example.cn", "450 4.2.1 Mailbox busy, try later")

    [result] = smtp_provider(smtp_server).send([email_message(to_address="busy@example.cn")])

    assert result.outcome == Outcome.RETRY
    assert "450" in result.reason


def test_a_refused_login_fails_the_batch(smtp_server, email_message):
    provider = smtp_provider(smtp_server, secret="wrong", username=smtp_server.username)

    results = provider.send([email_message(), email_message()])

    assert {r.outcome for r in results} == {Outcome.FAILED}
    assert "login" in results[0].reason
    assert smtp_server.messages == []


def test_an_unreachable_server_is_retried(smtp_server, email_message):
    provider = smtp_provider(smtp_server, port=free_port())

    results = provider.send([email_message(), email_message()])

    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert "Could not reach" in results[0].reason


def test_a_message_without_unsubscribe_link_has_no_list_headers(smtp_server, email_message):
    smtp_provider(smtp_server).send([email_message(unsubscribe_url="")])

    [arrived] = smtp_server.messages
    assert "List-Unsubscribe" not in arrived.message
    assert UNSUBSCRIBE not in arrived.message.get_body(("plain",)).get_content()


def test_a_batch_goes_over_one_connection(smtp_server, email_message):
    provider = smtp_provider(smtp_server, secret=smtp_server.password, username="crm-mailer")

    results = provider.send([email_message(to_address=f"c{n}@example.cn") for n in range(20)])

    assert {r.outcome for r in results} == {Outcome.SENT}
    assert len(smtp_server.messages) == 20
    assert smtp_server.logins == 1


def test_django_email_uses_the_servers_backend(settings, email_message):
    # pytest-django puts the locmem backend in place: the server's configured backend
    settings.DEFAULT_FROM_EMAIL = "noreply@dealer.example.cn"
    provider = DjangoEmailProvider(ProviderSettings(kind="django_email", channel="email"))
    message = email_message()

    [result] = provider.send([message])

    assert result.outcome == Outcome.SENT
    [sent] = mail.outbox
    assert sent.from_email == "noreply@dealer.example.cn"
    assert sent.to == ["zhang.san@example.cn"]
    assert sent.extra_headers["Message-ID"] == message_id_for(
        message.idempotency_key, "dealer.example.cn"
    )


# --- inbound replies -------------------------------------------------------------------------

WEBHOOK_KEY = "hook-key-123"
REPLY = {
    "from": "张三 <Zhang.San@example.cn>",
    "to": "service@aurora-pudong.example.cn",
    "subject": "Re: 您的爱车该保养了",
    "text": "好的，周六上午来。\n\n在 2025年5月1日 10:00，极光汽车浦东店 写道：\n> 张先生您好",
    "headers": {
        "Message-ID": "<reply-1@mail.example.cn>",
        "In-Reply-To": "<0f3a@aurora-pudong.example.cn>",
        "Date": "Thu, 01 May 2025 10:30:00 +0800",
    },
}


def inbound_provider() -> DjangoEmailProvider:
    return SmtpProvider(ProviderSettings(kind="smtp", channel="email", webhook_key=WEBHOOK_KEY))


def reply_request(payload, key=WEBHOOK_KEY, timestamp=None):
    raw = json.dumps(payload, ensure_ascii=False).encode()
    return RequestFactory().post(
        "/hooks/email/",
        data=raw,
        content_type="application/json",
        headers=sign_callback(key, raw, timestamp=timestamp),
    )


def test_a_reply_is_parsed_to_an_inbound_message():
    [reply] = inbound_provider().parse_inbound(reply_request(REPLY))

    assert reply.channel == "email"
    assert reply.from_address == "zhang.san@example.cn"
    assert reply.subject == "Re: 您的爱车该保养了"
    assert reply.body == "好的，周六上午来。"  # the quoted original is cut off
    assert reply.in_reply_to == "<0f3a@aurora-pudong.example.cn>"
    assert reply.event_key == "mail:<reply-1@mail.example.cn>"
    assert reply.at.isoformat() == "2025-05-01T10:30:00+08:00"


def test_raw_header_blocks_are_read_too():
    payload = {
        **REPLY,
        "headers": "Message-ID: <reply-2@mail.example.cn>\r\nReferences: <a@x>\r\n <b@x>\r\n",
    }

    [reply] = inbound_provider().parse_inbound(reply_request(payload))

    assert reply.in_reply_to == "<b@x>"
    assert reply.event_key == "mail:<reply-2@mail.example.cn>"


@time_machine.travel("2025-05-01 10:31:00+08:00", tick=False)
def test_reply_webhooks_are_signature_checked():
    provider = inbound_provider()

    provider.verify_webhook(reply_request(REPLY))
    with pytest.raises(WebhookRejected):
        provider.verify_webhook(reply_request(REPLY, key="other"))
    with pytest.raises(WebhookRejected):
        provider.verify_webhook(reply_request(REPLY, timestamp=1746066660 - 301))
