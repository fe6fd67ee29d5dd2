"""The outbox pages: the list with its filters, a message's page, cancel and release, and the
replies no customer could be matched to."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from dealercrm.core.permissions import Role
from dealercrm.messaging.models import Campaign, Message, MessageStatus
from tests.customers.factories import ConsentFactory, CustomerFactory, CustomerPhoneFactory
from tests.messaging.factories import MessageFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

# 10:00 in Shanghai: outside the quiet hours, so a released message is due at once.
NOON = datetime.datetime(2025, 3, 12, 2, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _outbox_in_tmp(settings, tmp_path):
    # Released messages are sent at once (Huey runs inline in tests): the file provider writes
    # its log here rather than in var/.
    settings.MESSAGING_FILE_DIR = tmp_path


@pytest.fixture
def mine(dealer, consultant):
    customer = CustomerFactory(dealer=dealer, assigned_consultant=consultant, name="王芳")
    CustomerPhoneFactory(customer=customer, number="+8613900001111")
    return customer


@pytest.fixture
def colleagues(dealer, make_user):
    return CustomerFactory(dealer=dealer, assigned_consultant=make_user(), name="赵磊")


# --- who sees what ------------------------------------------------------------------------------


def test_a_consultant_sees_only_messages_of_their_own_customers(
    client_for, consultant, mine, colleagues
):
    own = MessageFactory(customer=mine, body="给王芳的短信")
    other = MessageFactory(customer=colleagues, body="给赵磊的短信")
    client = client_for(consultant)

    html = client.get(reverse("messaging:outbox")).content.decode()

    assert "给王芳的短信" in html and "给赵磊的短信" not in html
    assert client.get(reverse("messaging:message", args=[own.pk])).status_code == 200
    assert client.get(reverse("messaging:message", args=[other.pk])).status_code == 404


def test_a_manager_sees_every_message_of_the_dealer_and_none_of_another(
    client_for, manager, mine, colleagues, other_dealer
):
    MessageFactory(customer=mine, body="甲")
    MessageFactory(customer=colleagues, body="乙")
    elsewhere = MessageFactory(customer=CustomerFactory(dealer=other_dealer), body="别家的")
    client = client_for(manager)

    response = client.get(reverse("messaging:outbox"))

    assert response.context["page"].paginator.count == 2
    assert "别家的" not in response.content.decode()
    assert client.get(reverse("messaging:message", args=[elsewhere.pk])).status_code == 404
    assert client.post(reverse("messaging:message_cancel", args=[elsewhere.pk])).status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.status == MessageStatus.QUEUED


def test_a_dealer_administrator_may_not_open_the_outbox(client_for, make_user):
    client = client_for(make_user(Role.DEALER_ADMIN))

    assert client.get(reverse("messaging:outbox")).status_code == 403
    assert client.get(reverse("messaging:unmatched")).status_code == 403


# --- the list -----------------------------------------------------------------------------------


def test_failures_and_held_messages_show_their_reason(client_for, manager, mine):
    MessageFactory(customer=mine, status=MessageStatus.FAILED, status_reason="网关鉴权失败")
    MessageFactory(customer=mine, status=MessageStatus.HELD, status_reason="30天内已发4条营销信息")
    MessageFactory(customer=mine, status=MessageStatus.BLOCKED, status_reason="客户未同意短信营销")

    html = client_for(manager).get(reverse("messaging:outbox")).content.decode()

    for reason in ("网关鉴权失败", "30天内已发4条营销信息", "客户未同意短信营销"):
        assert reason in html
    assert html.count("data-reason") == 3


def test_the_filters_narrow_the_list(client_for, manager, consultant, mine, dealer):
    template = MessageTemplateFactory(dealer=dealer)
    campaign = Campaign.objects.create(dealer=dealer, name="五一车展", template=template)
    MessageFactory(customer=mine, body="已送达短信", status=MessageStatus.DELIVERED)
    MessageFactory(customer=mine, body="邮件一封", channel="email", to_address="a@example.com")
    MessageFactory(customer=mine, body="客户回复", direction="in", status=MessageStatus.RECEIVED)
    MessageFactory(customer=mine, body="车展邀请", campaign=campaign, purpose="campaign")
    MessageFactory(customer=mine, body="我发的", created_by=manager)
    old = MessageFactory(customer=mine, body="去年的")
    Message.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=400)
    )
    client = client_for(manager)

    def bodies(**params):
        response = client.get(reverse("messaging:outbox"), params)
        return {m.body for m in response.context["message_rows"]}

    assert bodies(status="delivered") == {"已送达短信"}
    assert bodies(channel="email") == {"邮件一封"}
    assert bodies(direction="in") == {"客户回复"}
    assert bodies(campaign=campaign.pk) == {"车展邀请"}
    assert bodies(purpose="campaign") == {"车展邀请"}
    assert bodies(mine="1") == {"我发的"}
    last_year = (timezone.localdate() - datetime.timedelta(days=400)).isoformat()
    assert bodies(date_from=last_year, date_to=last_year) == {"去年的"}
    assert "去年的" not in bodies(date_from=timezone.localdate().isoformat())
    # Nonsense in the parameters is ignored, not an error.
    assert len(bodies(status="nonsense", campaign="x", date_from="yesterday")) == 6


def test_an_htmx_request_gets_only_the_results(client_for, manager, mine):
    MessageFactory(customer=mine, body="只要表格")

    response = client_for(manager).get(
        reverse("messaging:outbox"), {"status": "queued"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert "只要表格" in html
    assert "<html" not in html and 'id="outbox-results"' in html


def test_the_list_paginates_in_a_constant_number_of_queries(
    client_for, manager, dealer, django_assert_max_num_queries
):
    client = client_for(manager)
    template = MessageTemplateFactory(dealer=dealer)
    campaign = Campaign.objects.create(dealer=dealer, name="活动", template=template)

    def make(n):
        for _ in range(n):
            MessageFactory(
                customer=CustomerFactory(dealer=dealer), created_by=manager, campaign=campaign
            )

    make(3)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("messaging:outbox"))
    make(57)

    with django_assert_max_num_queries(len(few.captured_queries)):
        first = client.get(reverse("messaging:outbox"))
    second = client.get(reverse("messaging:outbox"), {"page": 2})

    assert first.context["page"].paginator.count == 60
    assert len(first.context["message_rows"]) == 50
    assert len(second.context["message_rows"]) == 10


# --- a message's page ---------------------------------------------------------------------------


def test_the_message_page_shows_text_status_reason_and_provider_id(client_for, manager, mine):
    message = MessageFactory(
        customer=mine,
        body="【极光】王女士，您的爱车保养到期。",
        status=MessageStatus.UNDELIVERABLE,
        status_reason="isv.MOBILE_NUMBER_ILLEGAL: 号码格式错误",
        provider="sms_gateway",
        provider_message_id="900619867392^0",
        attempts=1,
        sent_at=timezone.now(),
    )

    html = client_for(manager).get(reverse("messaging:message", args=[message.pk])).content.decode()

    assert "【极光】王女士，您的爱车保养到期。" in html
    assert "isv.MOBILE_NUMBER_ILLEGAL" in html
    assert "900619867392^0" in html
    assert 'data-status="undeliverable"' in html
    # Nothing to do with an undeliverable message.
    assert reverse("messaging:message_cancel", args=[message.pk]) not in html
    assert reverse("messaging:message_release", args=[message.pk]) not in html


def test_the_message_page_costs_a_fixed_number_of_queries(
    client_for, manager, mine, django_assert_max_num_queries
):
    message = MessageFactory(customer=mine, created_by=manager)
    client = client_for(manager)

    # Session, user, the message with everything its page shows.
    with django_assert_max_num_queries(4):
        response = client.get(reverse("messaging:message", args=[message.pk]))

    assert response.status_code == 200


# --- cancel and release -------------------------------------------------------------------------


def test_a_queued_message_can_be_cancelled(client_for, consultant, mine):
    message = MessageFactory(customer=mine, not_before=timezone.now() + datetime.timedelta(hours=9))
    client = client_for(consultant)

    assert (
        reverse("messaging:message_cancel", args=[message.pk])
        in client.get(reverse("messaging:message", args=[message.pk])).content.decode()
    )
    response = client.post(reverse("messaging:message_cancel", args=[message.pk]))

    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED


def test_cancelling_over_htmx_answers_the_status_card(client_for, consultant, mine):
    message = MessageFactory(customer=mine, status=MessageStatus.HELD)

    response = client_for(consultant).post(
        reverse("messaging:message_cancel", args=[message.pk]), headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert 'id="message-status"' in html and "<html" not in html
    assert 'data-status="cancelled"' in html


def test_a_sent_message_cannot_be_cancelled(client_for, consultant, mine):
    message = MessageFactory(customer=mine, status=MessageStatus.SENT)

    response = client_for(consultant).post(
        reverse("messaging:message_cancel", args=[message.pk]), follow=True
    )

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert any(m.level_tag == "error" for m in response.context["messages"])


def test_cancel_is_a_post(client_for, consultant, mine):
    message = MessageFactory(customer=mine)

    response = client_for(consultant).get(reverse("messaging:message_cancel", args=[message.pk]))

    assert response.status_code == 405


@time_machine.travel(NOON, tick=False)
def test_a_held_message_is_released_when_the_cap_allows_it_now(client_for, manager, mine):
    ConsentFactory(customer=mine, channel="sms")
    message = MessageFactory(
        customer=mine,
        purpose="campaign",
        is_marketing=True,
        to_address="+8613900001111",
        status=MessageStatus.HELD,
        status_reason="频次上限",
    )

    response = client_for(manager).post(reverse("messaging:message_release", args=[message.pk]))

    assert response.status_code == 302
    message.refresh_from_db()
    # Queued again and, with Huey inline, sent by the file provider straight away.
    assert message.status in (MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED)
    assert message.status_reason == ""


@time_machine.travel(NOON, tick=False)
def test_a_blocked_message_without_consent_stays_blocked_and_says_why(client_for, manager, mine):
    message = MessageFactory(
        customer=mine, purpose="campaign", is_marketing=True, status=MessageStatus.BLOCKED
    )

    response = client_for(manager).post(
        reverse("messaging:message_release", args=[message.pk]), follow=True
    )

    message.refresh_from_db()
    assert message.status == MessageStatus.BLOCKED
    assert any(m.level_tag == "error" for m in response.context["messages"])


# --- unmatched replies --------------------------------------------------------------------------


def test_unmatched_replies_are_listed_for_managers_only(
    client_for, manager, consultant, dealer, mine
):
    MessageFactory(
        dealer=dealer,
        customer=None,
        idempotency_key="",
        direction="in",
        status=MessageStatus.RECEIVED,
        from_address="+8613700009999",
        body="请问周六营业吗",
    )
    MessageFactory(customer=mine, direction="in", status=MessageStatus.RECEIVED, body="已匹配")

    html = client_for(manager).get(reverse("messaging:unmatched")).content.decode()

    assert "请问周六营业吗" in html and "+8613700009999" in html
    assert "已匹配" not in html
    assert client_for(consultant).get(reverse("messaging:unmatched")).status_code == 403
