"""WeChat template messages against a real HTTP server on 127.0.0.1 shaped like WeChat's API."""

from __future__ import annotations

import pytest
import time_machine
from django.test import RequestFactory

from dealercrm.messaging.providers import provider_for
from dealercrm.messaging.providers.base import Outcome, WebhookRejected
from dealercrm.messaging.providers.configuration import ProviderSettings
from dealercrm.messaging.providers.wechat import WeChatProvider
from tests.messaging.fake_gateways import wechat_signature

# Reasons and pages are read in English here; the UI's default language is Chinese.
pytestmark = pytest.mark.usefixtures("english")

CALLBACK_TOKEN = "wx-callback-token"


def wechat_provider(api, **options) -> WeChatProvider:
    return WeChatProvider(
        ProviderSettings(
            kind="wechat",
            channel="wechat",
            options={**api.options(), "token": CALLBACK_TOKEN, **options},
            secret=api.secret,
        )
    )


@pytest.fixture
def provider(wechat_api):
    return wechat_provider(wechat_api)


@pytest.fixture
def wechat_message(make_outgoing):
    def _make(**fields):
        values = {
            "channel": "wechat",
            "to_address": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
            "template_code": "TPL-maintenance",
            "subject": "保养提醒",
            "body": "张先生您好，您的爱车沪A12345该做5000公里保养了。",
            "params": {"keyword1": "沪A12345", "keyword2": "2025年5月1日"},
        }
        values.update(fields)
        return make_outgoing(**values)

    return _make


# --- sending ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dealer_config_sends_a_template_message(dealer, wechat_config, wechat_api, wechat_message):
    message = wechat_message(dealer_id=dealer.pk)

    [result] = provider_for(dealer.pk, "wechat").send([message])

    assert result.outcome == Outcome.SENT
    [sent] = wechat_api.sends
    assert result.provider_message_id == str(200_000_001)
    assert sent["touser"] == "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
    assert sent["template_id"] == "TPL-maintenance"
    assert sent["data"] == {
        "first": {"value": "保养提醒"},
        "keyword1": {"value": "沪A12345"},
        "keyword2": {"value": "2025年5月1日"},
        "remark": {"value": "张先生您好，您的爱车沪A12345该做5000公里保养了。"},
    }


def test_the_access_token_is_fetched_once_and_reused(provider, wechat_api, wechat_message):
    provider.send([wechat_message(), wechat_message()])
    wechat_provider(wechat_api).send([wechat_message()])  # a new provider object, same account

    assert len(wechat_api.sends) == 3
    assert wechat_api.token_requests == 1


def test_an_expired_token_is_refreshed_once_and_the_message_sent(
    provider, wechat_api, wechat_message
):
    provider.send([wechat_message()])
    wechat_api.expire_tokens()

    [result] = provider.send([wechat_message()])

    assert result.outcome == Outcome.SENT
    assert wechat_api.token_requests == 2
    assert len(wechat_api.sends) == 2


def test_a_token_expiring_by_time_is_fetched_again(wechat_api, wechat_message):
    wechat_api.expires_in = 600  # cached for 600 - 300 seconds
    with time_machine.travel("2025-05-01 09:00:00+08:00", tick=False) as clock:
        provider = wechat_provider(wechat_api)
        provider.send([wechat_message()])
        clock.shift(200)
        provider.send([wechat_message()])
        assert wechat_api.token_requests == 1
        clock.shift(200)
        provider.send([wechat_message()])
        assert wechat_api.token_requests == 2


@pytest.mark.parametrize(("errcode", "words"), [(43004, "follow"), (40003, "openid")])
def test_a_recipient_wechat_will_not_reach_is_undeliverable(
    provider, wechat_api, wechat_message, errcode, words
):
    wechat_api.blocked_openids = {"o-gone": errcode}

    gone, fine = provider.send([wechat_message(to_address="o-gone"), wechat_message()])

    assert gone.outcome == Outcome.UNDELIVERABLE
    assert words in gone.reason and str(errcode) in gone.reason
    assert fine.outcome == Outcome.SENT


def test_a_rate_limit_is_retried_and_an_unknown_error_failed(provider, wechat_api, wechat_message):
    wechat_api.fail_next_sends = [45009, 40037]

    limited, refused = provider.send([wechat_message(), wechat_message()])

    assert limited.outcome == Outcome.RETRY and "45009" in limited.reason
    assert refused.outcome == Outcome.FAILED and "40037" in refused.reason


def test_a_wrong_app_secret_fails_the_batch_after_one_token_request(wechat_api, wechat_message):
    provider = WeChatProvider(
        ProviderSettings(kind="wechat", channel="wechat", options=wechat_api.options(), secret="x")
    )

    results = provider.send([wechat_message(), wechat_message()])

    assert {r.outcome for r in results} == {Outcome.FAILED}
    assert "40125" in results[0].reason
    assert wechat_api.sends == []
    assert wechat_api.token_requests == 0


def test_a_message_without_a_template_id_fails(provider, wechat_api, wechat_message):
    [result] = provider.send([wechat_message(template_code="")])

    assert result.outcome == Outcome.FAILED
    assert wechat_api.sends == []


def test_explicit_slot_data_is_sent_as_given(provider, wechat_api, wechat_message):
    message = wechat_message(
        params={"wechat_data": {"thing1": "保养", "time2": "2025-05-01"}, "url": "https://x.cn/a"}
    )

    provider.send([message])

    [sent] = wechat_api.sends
    assert sent["data"] == {"thing1": {"value": "保养"}, "time2": {"value": "2025-05-01"}}
    assert sent["url"] == "https://x.cn/a"


# --- pushes from WeChat ----------------------------------------------------------------------

NOW = 1746064800  # 2025-05-01 10:00:00+08:00

RECEIPT_XML = """<xml>
<ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>
<FromUserName><![CDATA[o6_bmjrPTlm6_2sgVt7hMZOPfL2M]]></FromUserName>
<CreateTime>{time}</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>
<MsgID>200163836</MsgID>
<Status><![CDATA[{status}]]></Status>
</xml>"""

TEXT_XML = """<xml>
<ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>
<FromUserName><![CDATA[o6_bmjrPTlm6_2sgVt7hMZOPfL2M]]></FromUserName>
<CreateTime>{time}</CreateTime>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[周六上午可以来保养吗？]]></Content>
<MsgId>1234567890123456</MsgId>
</xml>"""


def push(body: str, *, token: str = CALLBACK_TOKEN, timestamp: int = NOW, method: str = "post"):
    nonce = "1414781234"
    query = {
        "signature": wechat_signature(token, str(timestamp), nonce),
        "timestamp": str(timestamp),
        "nonce": nonce,
        "openid": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
    }
    if method == "get":
        return RequestFactory().get("/hooks/wechat/", {**query, "echostr": "echo-123"})
    path = "/hooks/wechat/?" + "&".join(f"{k}={v}" for k, v in query.items())
    return RequestFactory().post(path, data=body.encode(), content_type="text/xml")


@time_machine.travel(NOW + 10, tick=False)
def test_a_push_with_wechats_signature_is_accepted(provider):
    provider.verify_webhook(push(RECEIPT_XML.format(time=NOW, status="success")))


@time_machine.travel(NOW + 10, tick=False)
def test_a_push_signed_with_another_token_is_rejected(provider):
    with pytest.raises(WebhookRejected):
        provider.verify_webhook(push(TEXT_XML.format(time=NOW), token="someone-else"))


@time_machine.travel(NOW + 301, tick=False)
def test_a_stale_push_is_rejected(provider):
    with pytest.raises(WebhookRejected, match="too old"):
        provider.verify_webhook(push(TEXT_XML.format(time=NOW)))


@time_machine.travel(NOW + 10, tick=False)
def test_the_server_check_echoes_echostr(provider):
    request = push("", method="get")

    provider.verify_webhook(request)

    assert provider.verification_echo(request) == "echo-123"


@pytest.mark.parametrize(
    ("status", "delivered", "reason"),
    [
        ("success", True, ""),
        ("failed:user block", False, "blocked"),
        ("failed: system failed", False, "system"),
    ],
)
def test_the_send_job_finish_event_is_a_receipt(provider, status, delivered, reason):
    request = push(RECEIPT_XML.format(time=NOW, status=status))

    [receipt] = provider.parse_receipts(request)

    assert receipt.provider_message_id == "200163836"
    assert receipt.delivered is delivered
    assert reason in receipt.reason
    assert receipt.event_key == f"tpl:200163836:{status}"
    assert receipt.at.timestamp() == NOW
    assert provider.parse_inbound(request) == []


def test_a_text_message_is_an_inbound_reply(provider):
    request = push(TEXT_XML.format(time=NOW))

    [reply] = provider.parse_inbound(request)

    assert reply.channel == "wechat"
    assert reply.from_address == "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"
    assert reply.body == "周六上午可以来保养吗？"
    assert reply.event_key == "msg:1234567890123456"
    assert provider.parse_receipts(request) == []


def test_xml_with_a_doctype_is_refused_unparsed(provider):
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>'

    with pytest.raises(WebhookRejected):
        provider.parse_inbound(push(bomb))
