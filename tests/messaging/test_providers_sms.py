"""The SMS gateway adapter against a real HTTP server on 127.0.0.1 that checks its signatures."""

from __future__ import annotations

import json

import pytest
import time_machine
from django.test import RequestFactory

from dealercrm.messaging.providers import provider_for, provider_for_config
from dealercrm.messaging.providers.base import Outcome, WebhookRejected
from dealercrm.messaging.providers.configuration import ProviderSettings
from dealercrm.messaging.providers.sms_gateway import (
    SendInterrupted,
    SmsGatewayProvider,
    national_number,
)
from tests.messaging.fake_gateways import free_port, sign_callback

# Reasons and pages are read in English here; the UI's default language is Chinese.
pytestmark = pytest.mark.usefixtures("english")


def gateway_provider(gateway, **options) -> SmsGatewayProvider:
    return SmsGatewayProvider(
        ProviderSettings(
            kind="sms_gateway",
            channel="sms",
            dealer_id=1,
            options=gateway.options(**options),
            secret=gateway.secret,
        )
    )


@pytest.fixture
def provider(sms_gateway):
    return gateway_provider(sms_gateway)


# --- sending ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dealer_config_sends_a_signed_request_and_keeps_the_biz_id(
    dealer, sms_config, sms_gateway, make_outgoing
):
    # given the dealer's SMS channel set to the gateway, its secret stored encrypted
    message = make_outgoing(
        dealer_id=dealer.pk, params={"salutation": "张先生", "plate": "沪A12345"}
    )

    # when the outbox hands the provider a message
    provider = provider_for(dealer.pk, "sms")
    [result] = provider.send([message])

    # then the gateway verified the signature and took it under our idempotency key
    assert sms_gateway.bad_signatures == 0
    taken = sms_gateway.sent[message.idempotency_key]
    assert result.outcome == Outcome.SENT
    assert result.provider_message_id == taken["BizId"]
    assert result.message_id == message.message_id
    [request] = sms_gateway.requests_for(message.idempotency_key)
    assert request["Action"] == "SendSms"
    assert request["PhoneNumbers"] == "13812345678"
    assert request["SignName"] == "极光汽车"
    assert request["TemplateCode"] == "SMS_270001"
    assert json.loads(request["TemplateParam"]) == {"salutation": "张先生", "plate": "沪A12345"}


def test_a_batch_goes_over_one_connection_with_a_fresh_nonce_per_request(
    provider, sms_gateway, make_outgoing
):
    messages = [make_outgoing(to_address=f"+86139{n:08d}") for n in range(40)]

    results = provider.send(messages)

    assert [r.outcome for r in results] == [Outcome.SENT] * 40
    assert [r.message_id for r in results] == [m.message_id for m in messages]
    assert len({r["SignatureNonce"] for r in sms_gateway.requests}) == 40
    assert sms_gateway.bad_signatures == 0


def test_parameter_values_are_sent_as_strings(provider, sms_gateway, make_outgoing):
    message = make_outgoing(params={"km": 5000, "date": "5月1日", "none": None})

    provider.send([message])

    [request] = sms_gateway.requests_for(message.idempotency_key)
    assert json.loads(request["TemplateParam"]) == {"km": "5000", "date": "5月1日", "none": ""}


def test_a_wrong_secret_fails_the_batch_after_one_request(sms_gateway, make_outgoing):
    provider = SmsGatewayProvider(
        ProviderSettings(
            kind="sms_gateway", channel="sms", options=sms_gateway.options(), secret="wrong"
        )
    )
    messages = [make_outgoing(), make_outgoing()]

    results = provider.send(messages)

    assert [r.outcome for r in results] == [Outcome.FAILED, Outcome.FAILED]
    assert "SignatureDoesNotMatch" in results[0].reason
    assert len(sms_gateway.requests) == 1
    assert sms_gateway.sent == {}


def test_a_landline_is_undeliverable_with_the_gateways_reason(provider, make_outgoing):
    [result] = provider.send([make_outgoing(to_address="+862158881234")])

    assert result.outcome == Outcome.UNDELIVERABLE
    assert "isv.MOBILE_NUMBER_ILLEGAL" in result.reason
    assert "landline" in result.reason


def test_a_rate_limited_number_is_retried_and_the_rest_of_the_batch_goes(
    provider, sms_gateway, make_outgoing
):
    sms_gateway.fail_numbers = {"13800000001": "isv.BUSINESS_LIMIT_CONTROL"}
    limited, fine = make_outgoing(to_address="+8613800000001"), make_outgoing()

    results = provider.send([limited, fine])

    assert [r.outcome for r in results] == [Outcome.RETRY, Outcome.SENT]
    assert "isv.BUSINESS_LIMIT_CONTROL" in results[0].reason


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("Throttling.User", Outcome.RETRY),
        ("isv.AMOUNT_NOT_ENOUGH", Outcome.FAILED),
        ("isv.BLACK_KEY_CONTROL_LIMIT", Outcome.FAILED),
        ("isv.SOMETHING_NEW", Outcome.FAILED),
    ],
)
def test_error_codes_map_to_outcomes_with_a_reason(
    provider, sms_gateway, make_outgoing, code, outcome
):
    sms_gateway.fail_numbers = {"13812345678": code}

    [result] = provider.send([make_outgoing()])

    assert result.outcome == outcome
    assert code in result.reason


def test_an_unapproved_signature_fails(sms_gateway, make_outgoing):
    provider = gateway_provider(sms_gateway, sign_name="别的签名")

    [result] = provider.send([make_outgoing()])

    assert result.outcome == Outcome.FAILED
    assert "isv.SMS_SIGNATURE_ILLEGAL" in result.reason


def test_gateway_5xx_retries_the_rest_of_the_batch_untried(provider, sms_gateway, make_outgoing):
    sms_gateway.http_status = 503

    results = provider.send([make_outgoing(), make_outgoing(), make_outgoing()])

    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert "503" in results[0].reason
    assert len(sms_gateway.requests) == 1


def test_an_unreachable_gateway_is_retried(make_outgoing):
    port = free_port()  # nothing listens there
    provider = SmsGatewayProvider(
        ProviderSettings(
            kind="sms_gateway",
            channel="sms",
            options={
                "endpoint": f"http://127.0.0.1:{port}/",
                "access_key_id": "k",
                "sign_name": "极光汽车",
                "timeout": 1,
            },
            secret="s",
        )
    )

    results = provider.send([make_outgoing(), make_outgoing()])

    assert {r.outcome for r in results} == {Outcome.RETRY}
    assert "Could not reach" in results[0].reason


def test_a_time_out_after_the_gateway_took_the_message_is_sent_once(sms_gateway, make_outgoing):
    # given a gateway that takes the message but answers too late
    provider = gateway_provider(sms_gateway, timeout=0.3)
    sms_gateway.send_delay = 2.0
    message = make_outgoing()

    # when the provider sends it
    [result] = provider.send([message])

    # then it asked the gateway instead of guessing: taken, so not to be sent again
    assert result.outcome in (Outcome.SENT, Outcome.DELIVERED)
    assert result.provider_message_id == sms_gateway.sent[message.idempotency_key]["BizId"]
    assert len(sms_gateway.requests_for(message.idempotency_key)) == 1


def test_a_time_out_without_the_message_is_retried_and_stops_the_batch(sms_gateway, make_outgoing):
    provider = gateway_provider(sms_gateway, timeout=0.3)
    sms_gateway.send_delay = 2.0
    sms_gateway.drop_sends = True
    first, second = make_outgoing(), make_outgoing()

    results = provider.send([first, second])

    assert [r.outcome for r in results] == [Outcome.RETRY, Outcome.RETRY]
    assert "does not have the message" in results[0].reason
    assert sms_gateway.requests_for(second.idempotency_key) == []


def test_a_time_out_that_cannot_be_checked_interrupts_the_batch(sms_gateway, make_outgoing):
    # given a gateway that answers too late and whose look-up is down as well
    provider = gateway_provider(sms_gateway, timeout=0.3)
    sms_gateway.send_delay = 2.0
    sms_gateway.query_status = 503

    # when a batch is sent, then its fate is unknown: no result is made up
    with pytest.raises(SendInterrupted, match="could not be asked"):
        provider.send([make_outgoing(), make_outgoing()])
    assert len(sms_gateway.sent) == 1  # the second was never tried


def test_a_one_off_text_uses_the_free_text_template(sms_gateway, make_outgoing):
    provider = gateway_provider(sms_gateway, free_text_template_code="SMS_FREE")
    message = make_outgoing(template_code="", body="张先生您好，您的车已修好。", params={})

    [result] = provider.send([message])

    assert result.outcome == Outcome.SENT
    [request] = sms_gateway.requests_for(message.idempotency_key)
    assert request["TemplateCode"] == "SMS_FREE"
    assert json.loads(request["TemplateParam"]) == {"content": "张先生您好，您的车已修好。"}


def test_a_text_without_any_template_code_fails_without_a_request(
    provider, sms_gateway, make_outgoing
):
    [result] = provider.send([make_outgoing(template_code="")])

    assert result.outcome == Outcome.FAILED
    assert "template code" in result.reason
    assert sms_gateway.requests == []


def test_an_unconfigured_gateway_fails_naming_what_is_missing(make_outgoing):
    provider = SmsGatewayProvider(ProviderSettings(kind="sms_gateway", channel="sms"))

    [result] = provider.send([make_outgoing()])

    assert result.outcome == Outcome.FAILED
    assert "access_key_id" in result.reason
    assert "secret" in result.reason


def test_national_numbers():
    assert national_number("+8613812345678") == "13812345678"
    assert national_number("+85291234567") == "0085291234567"


# --- lookup ----------------------------------------------------------------------------------


def test_lookup_finds_a_sent_message_by_its_out_id(provider, sms_gateway, make_outgoing):
    message = make_outgoing()
    [sent] = provider.send([message])

    found = provider.lookup(message)

    assert found is not None
    assert found.provider_message_id == sent.provider_message_id
    assert found.outcome == Outcome.DELIVERED
    query = [r for r in sms_gateway.requests if r["Action"] == "QuerySendDetails"][0]
    assert query["OutId"] == message.idempotency_key
    assert query["PhoneNumber"] == "13812345678"


def test_lookup_of_a_message_the_gateway_never_got_is_none(provider, make_outgoing):
    assert provider.lookup(make_outgoing()) is None


def test_lookup_raises_when_the_gateway_cannot_be_asked(provider, sms_gateway, make_outgoing):
    # "unknown" must never read as "never got it", or the message would go twice
    sms_gateway.http_status = 500

    with pytest.raises(RuntimeError):
        provider.lookup(make_outgoing())


# --- callbacks -------------------------------------------------------------------------------


REPORT = [
    {
        "phone_number": "13812345678",
        "send_time": "2025-05-01 10:00:00",
        "report_time": "2025-05-01 10:00:05",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": "932702304080415357^0",
        "out_id": "campaign:9:55:sms",
    },
    {
        "phone_number": "13900000000",
        "send_time": "2025-05-01 10:00:00",
        "report_time": "2025-05-01 10:00:09",
        "success": False,
        "err_code": "MK:0012",
        "err_msg": "空号",
        "sms_size": "1",
        "biz_id": "932702304080415358^0",
        "out_id": "campaign:9:56:sms",
    },
]
UP = [
    {
        "phone_number": "13812345678",
        "send_time": "2025-05-01 10:05:00",
        "content": "TD",
        "sign_name": "极光汽车",
        "dest_code": "1234",
        "sequence_id": 1234567890,
    }
]


def signed_post(body, secret, *, timestamp=None):
    raw = json.dumps(body, ensure_ascii=False).encode()
    return RequestFactory().post(
        "/hooks/sms/",
        data=raw,
        content_type="application/json",
        headers=sign_callback(secret, raw, timestamp=timestamp),
    )


@time_machine.travel("2025-05-01 10:06:00+08:00", tick=False)
def test_a_well_signed_fresh_callback_is_accepted(provider, sms_gateway):
    provider.verify_webhook(signed_post(REPORT, sms_gateway.secret))


@time_machine.travel("2025-05-01 10:06:00+08:00", tick=False)
def test_a_callback_signed_with_another_secret_is_rejected(provider):
    with pytest.raises(WebhookRejected):
        provider.verify_webhook(signed_post(REPORT, "not-the-secret"))


@time_machine.travel("2025-05-01 10:06:00+08:00", tick=False)
def test_a_callback_older_than_five_minutes_is_rejected(provider, sms_gateway):
    import time

    stale = int(time.time()) - 301
    with pytest.raises(WebhookRejected, match="too old"):
        provider.verify_webhook(signed_post(REPORT, sms_gateway.secret, timestamp=stale))


@time_machine.travel("2025-05-01 10:06:00+08:00", tick=False)
def test_a_callback_with_a_changed_body_is_rejected(provider, sms_gateway):
    request = signed_post(REPORT, sms_gateway.secret)
    headers = {
        "X-DealerCRM-Timestamp": request.headers["X-DealerCRM-Timestamp"],
        "X-DealerCRM-Signature": request.headers["X-DealerCRM-Signature"],
    }
    tampered = RequestFactory().post(
        "/hooks/sms/", data=b"[]", content_type="application/json", headers=headers
    )

    with pytest.raises(WebhookRejected):
        provider.verify_webhook(tampered)


def test_an_unsigned_callback_is_rejected(provider):
    request = RequestFactory().post("/hooks/sms/", data=b"[]", content_type="application/json")

    with pytest.raises(WebhookRejected, match="not signed"):
        provider.verify_webhook(request)


def test_delivery_reports_become_receipts_with_stable_event_keys(provider, sms_gateway):
    request = signed_post(REPORT, sms_gateway.secret)

    delivered, failed = provider.parse_receipts(request)

    assert delivered.provider_message_id == "932702304080415357^0"
    assert delivered.idempotency_key == "campaign:9:55:sms"
    assert delivered.delivered is True
    assert delivered.at.isoformat() == "2025-05-01T10:00:05+08:00"
    assert failed.delivered is False
    assert "MK:0012" in failed.reason and "空号" in failed.reason
    assert delivered.event_key != failed.event_key
    assert [r.event_key for r in provider.parse_receipts(request)] == [
        delivered.event_key,
        failed.event_key,
    ]
    assert provider.parse_inbound(request) == []


def test_up_link_replies_become_inbound_messages(provider, sms_gateway):
    request = signed_post(UP, sms_gateway.secret)

    [reply] = provider.parse_inbound(request)

    assert reply.channel == "sms"
    assert reply.from_address == "+8613812345678"
    assert reply.body == "TD"
    assert reply.event_key == "up:1234567890"
    assert reply.at.isoformat() == "2025-05-01T10:05:00+08:00"
    assert provider.parse_receipts(request) == []


def test_a_callback_body_that_is_not_json_is_rejected(provider):
    request = RequestFactory().post("/hooks/sms/", data=b"<xml/>", content_type="text/xml")

    with pytest.raises(WebhookRejected):
        provider.parse_receipts(request)


@pytest.mark.django_db
def test_an_inactive_config_falls_back_to_the_channel_default(dealer, sms_config, settings):
    sms_config.is_active = False
    sms_config.save(update_fields=["is_active"])

    assert provider_for(dealer.pk, "sms").kind == settings.MESSAGING_DEFAULT_PROVIDERS["sms"]
    assert provider_for_config(sms_config).kind == "sms_gateway"
