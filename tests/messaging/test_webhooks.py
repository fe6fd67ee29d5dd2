"""The receipt and inbound webhooks: found by their key, checked by signature, replay-safe, and
moving a message's status forward only. Calls are signed as the gateway signs them
(fake_gateways.sign_callback), and parsed by the real SMS gateway adapter."""

from __future__ import annotations

import datetime
import json
import time

import pytest
from django.urls import reverse
from django.utils import translation

from dealercrm.messaging.models import Message, MessageStatus, WebhookEvent
from tests.messaging.factories import MessageFactory
from tests.messaging.fake_gateways import sign_callback, wechat_signature

# Reasons and pages are read in English here; the UI's default language is Chinese.
pytestmark = pytest.mark.usefixtures("english")


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def receipts_url(config) -> str:
    return reverse("messaging_public:receipts", kwargs={"webhook_key": config.webhook_key})


def inbound_url(config) -> str:
    return reverse("messaging_public:inbound", kwargs={"webhook_key": config.webhook_key})


def report(message: Message, *, success: bool = True, err_code: str = "DELIVERED", **extra) -> dict:
    """One delivery report as Aliyun-style gateways post it (SmsReport)."""
    return {
        "phone_number": message.to_address.removeprefix("+86"),
        "send_time": "2025-05-06 10:00:00",
        "report_time": "2025-05-06 10:00:05",
        "success": success,
        "err_code": err_code,
        "err_msg": "用户接收成功" if success else "用户停机",
        "biz_id": message.provider_message_id,
        "out_id": message.idempotency_key,
        **extra,
    }


def post_signed(client, url: str, payload, secret: str, *, timestamp: int | None = None, **headers):
    body = json.dumps(payload, ensure_ascii=False).encode()
    return client.post(
        url,
        body,
        content_type="application/json",
        headers={**sign_callback(secret, body, timestamp=timestamp), **headers},
    )


@pytest.fixture
def sent_sms(dealer):
    return MessageFactory(
        customer__dealer=dealer,
        dealer=dealer,
        to_address="+8613812345678",
        status=MessageStatus.SENT,
        provider="sms_gateway",
        provider_message_id="901234567890^0",
        sent_at=datetime.datetime(2025, 5, 6, 2, 0, tzinfo=datetime.UTC),
    )


def status_of(message: Message) -> Message:
    return Message.objects.unscoped().get(pk=message.pk)


# --- who may call -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_unknown_webhook_key_is_not_found(client, sms_config, sms_gateway, sent_sms):
    # Given a call signed correctly but to a key no configuration has
    response = post_signed(
        client,
        reverse("messaging_public:receipts", kwargs={"webhook_key": "not-a-real-key"}),
        [report(sent_sms)],
        sms_gateway.secret,
    )

    # Then it is answered 404 and nothing changes
    assert response.status_code == 404
    assert status_of(sent_sms).status == MessageStatus.SENT


@pytest.mark.django_db
def test_bad_signature_is_refused_with_a_reason(client, sms_config, sent_sms):
    # Given a call signed with the wrong secret
    response = post_signed(client, receipts_url(sms_config), [report(sent_sms)], "not-the-secret")

    # Then it is answered 403 saying why, and nothing changes
    assert response.status_code == 403
    assert "signature" in response.content.decode()
    assert status_of(sent_sms).status == MessageStatus.SENT
    assert not WebhookEvent.objects.exists()


@pytest.mark.django_db
def test_unsigned_and_stale_calls_are_refused(client, sms_config, sms_gateway, sent_sms):
    # Given an unsigned call, and one signed ten minutes ago (a captured request replayed)
    body = json.dumps([report(sent_sms)])
    unsigned = client.post(receipts_url(sms_config), body, content_type="application/json")
    stale = post_signed(
        client,
        receipts_url(sms_config),
        [report(sent_sms)],
        sms_gateway.secret,
        timestamp=int(time.time()) - 600,
    )

    # Then both are refused
    assert unsigned.status_code == 403
    assert stale.status_code == 403
    assert status_of(sent_sms).status == MessageStatus.SENT


@pytest.mark.django_db
def test_a_body_that_is_not_json_is_refused(client, sms_config, sms_gateway):
    body = b"<xml>not json</xml>"
    response = client.post(
        receipts_url(sms_config),
        body,
        content_type="application/json",
        headers=sign_callback(sms_gateway.secret, body),
    )
    assert response.status_code == 403


# --- what receipts do -------------------------------------------------------------------------


@pytest.mark.django_db
def test_delivery_report_marks_the_message_delivered(client, sms_config, sms_gateway, sent_sms):
    # Given a signed report that the SMS arrived
    response = post_signed(client, receipts_url(sms_config), [report(sent_sms)], sms_gateway.secret)

    # Then the gateway gets the answer it expects, and the message is delivered at the report time
    assert response.status_code == 200
    assert response.json()["code"] == 0
    message = status_of(sent_sms)
    assert message.status == MessageStatus.DELIVERED
    assert message.delivered_at == datetime.datetime(2025, 5, 6, 2, 0, 5, tzinfo=datetime.UTC)


@pytest.mark.django_db
def test_failure_report_marks_the_message_undeliverable_with_the_reason(
    client, sms_config, sms_gateway, sent_sms
):
    # Given a report that the phone could not receive it
    post_signed(
        client,
        receipts_url(sms_config),
        [report(sent_sms, success=False, err_code="MK:0001")],
        sms_gateway.secret,
    )

    # Then the message is undeliverable, and the sender sees the gateway's reason
    message = status_of(sent_sms)
    assert message.status == MessageStatus.UNDELIVERABLE
    assert "MK:0001" in message.status_reason


@pytest.mark.django_db
def test_a_replayed_report_changes_nothing(client, sms_config, sms_gateway, sent_sms):
    # Given a report processed once
    post_signed(client, receipts_url(sms_config), [report(sent_sms)], sms_gateway.secret)
    # … and the message since changed (so a second application would show)
    Message.objects.unscoped().filter(pk=sent_sms.pk).update(
        status=MessageStatus.SENT, delivered_at=None
    )

    # When the same report arrives again (freshly signed, as a gateway's resend is)
    response = post_signed(client, receipts_url(sms_config), [report(sent_sms)], sms_gateway.secret)

    # Then it is acknowledged, so the gateway stops resending, but changes nothing
    assert response.status_code == 200
    message = status_of(sent_sms)
    assert message.status == MessageStatus.SENT
    assert message.delivered_at is None
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_late_report_never_moves_a_message_backwards(client, sms_config, sms_gateway, sent_sms):
    # Given a delivered message
    post_signed(client, receipts_url(sms_config), [report(sent_sms)], sms_gateway.secret)

    # When a (different) failure report for it comes later
    post_signed(
        client,
        receipts_url(sms_config),
        [report(sent_sms, success=False, err_code="MK:0002")],
        sms_gateway.secret,
    )

    # Then it stays delivered
    assert status_of(sent_sms).status == MessageStatus.DELIVERED


@pytest.mark.django_db
def test_report_finds_a_message_by_its_out_id_when_the_biz_id_was_never_written(
    client, sms_config, sms_gateway, dealer
):
    # Given a message still "sending" (the worker died before writing the gateway's BizId)
    message = MessageFactory(
        customer__dealer=dealer, dealer=dealer, to_address="+8613812345678", status="sending"
    )

    # When the gateway reports it delivered (with its BizId and our OutId)
    payload = [report(message, biz_id="777000111^0")]
    post_signed(client, receipts_url(sms_config), payload, sms_gateway.secret)

    # Then the message is delivered and now carries the BizId
    message = status_of(message)
    assert message.status == MessageStatus.DELIVERED
    assert message.provider_message_id == "777000111^0"
    assert message.sent_at is not None


@pytest.mark.django_db
def test_a_report_never_touches_another_dealers_message(
    client, sms_config, sms_gateway, sent_sms, other_dealer
):
    # Given another dealer's message that happens to carry the same provider id
    theirs = MessageFactory(
        customer__dealer=other_dealer,
        dealer=other_dealer,
        status=MessageStatus.SENT,
        provider_message_id=sent_sms.provider_message_id,
        idempotency_key=sent_sms.idempotency_key,
    )

    # When our gateway reports on that id
    post_signed(client, receipts_url(sms_config), [report(sent_sms)], sms_gateway.secret)

    # Then only our dealer's message changed
    assert status_of(sent_sms).status == MessageStatus.DELIVERED
    assert status_of(theirs).status == MessageStatus.SENT


@pytest.mark.django_db
def test_a_batch_of_reports_is_applied_in_a_constant_number_of_queries(
    client, sms_config, sms_gateway, dealer, django_assert_max_num_queries
):
    # Given fifty sent messages and one report each
    messages = [
        MessageFactory(
            customer__dealer=dealer,
            dealer=dealer,
            status=MessageStatus.SENT,
            provider_message_id=f"{n:012d}^0",
        )
        for n in range(50)
    ]
    payload = [report(m) for m in messages]

    # When the reports arrive in one call, then a few queries do it all
    with django_assert_max_num_queries(12):
        response = post_signed(client, receipts_url(sms_config), payload, sms_gateway.secret)
    assert response.status_code == 200
    assert {status_of(m).status for m in messages} == {MessageStatus.DELIVERED}


# --- inbound ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_inbound_webhook_stores_the_reply_on_the_customers_timeline(
    client, sms_config, sms_gateway, sent_sms
):
    # Given a customer's reply to our SMS, posted by the gateway (SmsUp)
    from tests.customers.factories import CustomerPhoneFactory

    CustomerPhoneFactory(customer=sent_sms.customer, number=sent_sms.to_address)
    payload = [
        {
            "phone_number": "13812345678",
            "content": "好的，周六上午到店",
            "send_time": "2025-05-06 10:05:00",
            "sequence_id": 1234567,
            "sign_name": sms_gateway.sign_name,
        }
    ]

    # When it arrives, twice (the gateway resends)
    first = post_signed(client, inbound_url(sms_config), payload, sms_gateway.secret)
    again = post_signed(client, inbound_url(sms_config), payload, sms_gateway.secret)

    # Then it is stored once, from the customer, answering our message
    assert first.status_code == again.status_code == 200
    reply = Message.objects.unscoped().get(direction=Message.Direction.INBOUND)
    assert reply.customer_id == sent_sms.customer_id
    assert reply.in_reply_to_id == sent_sms.pk
    assert reply.body == "好的，周六上午到店"
    assert reply.status == MessageStatus.RECEIVED


@pytest.mark.django_db
def test_inbound_webhook_refuses_a_bad_signature(client, sms_config):
    payload = [{"phone_number": "13812345678", "content": "T", "sequence_id": 1}]
    response = post_signed(client, inbound_url(sms_config), payload, "wrong")
    assert response.status_code == 403
    assert not Message.objects.unscoped().exists()


# --- WeChat: one callback address for receipts and replies ------------------------------------


def wechat_query(token: str, **extra: str) -> str:
    timestamp, nonce = str(int(time.time())), "n0nce42"
    query = {
        "signature": wechat_signature(token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        **extra,
    }
    return "?" + "&".join(f"{k}={v}" for k, v in query.items())


@pytest.mark.django_db
def test_wechat_server_check_is_answered_with_its_echo(client, wechat_config):
    # Given WeChat's signed GET that checks the callback address
    url = reverse("messaging_public:events", kwargs={"webhook_key": wechat_config.webhook_key})

    # Then the echo string comes back; unsigned, it is refused
    ok = client.get(url + wechat_query("wx-callback-token", echostr="echo-123"))
    assert ok.status_code == 200
    assert ok.content == b"echo-123"
    assert client.get(url + "?echostr=echo-123").status_code == 403


@pytest.mark.django_db
def test_wechat_pushes_receipts_and_replies_to_one_address(client, dealer, wechat_config):
    # Given a template message we sent to a follower of the official account
    from tests.customers.factories import CustomerFactory

    customer = CustomerFactory(dealer=dealer, wechat_id="o-follower-1")
    ours = MessageFactory(
        customer=customer,
        channel="wechat",
        to_address="o-follower-1",
        status=MessageStatus.SENT,
        provider_message_id="200000123",
    )
    url = reverse("messaging_public:events", kwargs={"webhook_key": wechat_config.webhook_key})
    query = wechat_query("wx-callback-token")
    now = int(time.time())
    receipt = (
        "<xml><ToUserName>gh_account</ToUserName><FromUserName>o-follower-1</FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType>event</MsgType>"
        "<Event>TEMPLATESENDJOBFINISH</Event><MsgID>200000123</MsgID><Status>success</Status></xml>"
    )
    reply = (
        "<xml><ToUserName>gh_account</ToUserName><FromUserName>o-follower-1</FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType>text</MsgType><Content>周六有空</Content>"
        "<MsgId>5550001</MsgId></xml>"
    )

    # When WeChat pushes the delivery event and then the follower's text
    first = client.post(url + query, receipt, content_type="text/xml")
    second = client.post(url + query, reply, content_type="text/xml")

    # Then both are answered the way WeChat wants, the message is delivered, the reply stored
    assert first.content == second.content == b"success"
    assert status_of(ours).status == MessageStatus.DELIVERED
    stored = Message.objects.unscoped().get(direction=Message.Direction.INBOUND)
    assert stored.customer_id == customer.pk
    assert stored.in_reply_to_id == ours.pk
    assert stored.body == "周六有空"


# --- e-mail bounces that come back after the SMTP server took the message ----------------------


@pytest.mark.django_db
def test_a_late_email_bounce_marks_the_message_undeliverable_once(client, dealer, smtp_config):
    from dealercrm.messaging.providers.email import message_id_for

    # given an e-mail the server accepted
    sent = MessageFactory(
        customer__dealer=dealer,
        dealer=dealer,
        channel="email",
        to_address="wang@example.cn",
        status=MessageStatus.SENT,
        provider="smtp",
    )
    sent.provider_message_id = message_id_for(sent.idempotency_key)
    sent.save(update_fields=["provider_message_id"])
    bounce = {
        "event": "bounce",
        "id": "evt-1",
        "message_id": sent.provider_message_id,
        "reason": "550 5.1.1 mailbox unavailable",
    }
    # when the relay reports the bounce, twice
    first = post_signed(client, receipts_url(smtp_config), [bounce], smtp_config.webhook_key)
    again = post_signed(client, receipts_url(smtp_config), [bounce], smtp_config.webhook_key)
    # then the message is undeliverable with the server's reason; the replay changed nothing
    assert first.status_code == again.status_code == 200
    message = status_of(sent)
    assert message.status == MessageStatus.UNDELIVERABLE
    assert message.status_reason == "550 5.1.1 mailbox unavailable"
    assert WebhookEvent.objects.filter(provider_config=smtp_config).count() == 1


@pytest.mark.django_db
def test_an_unsigned_email_bounce_is_refused(client, dealer, smtp_config):
    response = client.post(
        receipts_url(smtp_config),
        json.dumps([{"event": "bounce", "message_id": "<x@dealercrm>"}]),
        content_type="application/json",
    )
    assert response.status_code == 403
