"""The messaging API: templates and their preview, sending one message with every rule of the
pages, the outbox and a message's status, campaigns; scoped like the pages, phones masked."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine

from dealercrm.core.permissions import Role
from dealercrm.messaging.models import (
    Campaign,
    Message,
    MessageStatus,
    MessageTemplate,
    MessagingPolicy,
    Purpose,
)
from tests.customers.factories import ConsentFactory, CustomerFactory, CustomerPhoneFactory
from tests.messaging.factories import MessageFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

API = "/api/messaging"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# A weekday morning at the dealer: outside the quiet hours, so messages are due at once.
MORNING = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _morning():
    with time_machine.travel(MORNING, tick=False):
        yield


@pytest.fixture
def customer(dealer, consultant):
    customer = CustomerFactory(
        dealer=dealer, assigned_consultant=consultant, name="张伟", gender="male"
    )
    CustomerPhoneFactory(customer=customer, number="+8613812341234")
    return customer


@pytest.fixture
def template(dealer):
    return MessageTemplateFactory(
        dealer=dealer,
        name="保养提醒",
        purpose=Purpose.MAINTENANCE_REMINDER,
        body="{{ salutation }}您好，{{ dealer_name }}提醒您按时保养。",
    )


@pytest.fixture
def care(make_user):
    return make_user(Role.CARE_SPECIALIST)


def post(client, path, data):  # noqa: ANN001, ANN201
    return client.post(f"{API}{path}", data, content_type="application/json")


# --- templates --------------------------------------------------------------------------------


def test_anonymous_gets_401(client, template):
    assert client.get(f"{API}/templates").status_code == 401
    assert client.get(f"{API}/templates/{template.pk}").status_code == 401


def test_templates_are_listed_by_channel_and_another_dealers_answer_404(
    client_for, consultant, make_user, other_dealer, template
):
    # Given an SMS and an e-mail template here, and a template of another dealer
    MessageTemplateFactory(dealer=template.dealer, channel="email", subject="保养")
    theirs = MessageTemplateFactory(dealer=other_dealer, name="别家模板")
    api = client_for(consultant)

    # When the consultant lists the SMS templates
    listed = api.get(f"{API}/templates", {"channel": "sms"}).json()

    # Then only this dealer's SMS template is there, marked marketing
    assert [(t["id"], t["is_marketing"]) for t in listed] == [(template.pk, True)]
    assert api.get(f"{API}/templates/{template.pk}").json()["name"] == "保养提醒"
    assert api.get(f"{API}/templates/{theirs.pk}").status_code == 404


def test_a_care_specialist_creates_a_template_of_their_dealer(client_for, care, dealer):
    response = post(
        client_for(care),
        "/templates",
        {
            "name": "生日祝福",
            "purpose": "birthday_greeting",
            "channel": "sms",
            "body": "{{ salutation }}，祝您生日快乐！",
        },
    )

    assert response.status_code == 201, response.content
    created = MessageTemplate.objects.get(pk=response.json()["id"])
    assert (created.dealer_id, created.created_by_id) == (dealer.pk, care.pk)


def test_an_unknown_variable_is_refused_naming_it_and_nothing_is_saved(client_for, care):
    response = post(
        client_for(care),
        "/templates",
        {"name": "坏模板", "purpose": "campaign", "channel": "sms", "body": "{{ 姓名 }}{{ shoe }}"},
    )

    assert response.status_code == 422
    assert "shoe" in " ".join(response.json()["errors"]["body"])
    assert not MessageTemplate.objects.filter(name="坏模板").exists()


def test_a_consultant_may_not_write_templates(client_for, consultant, template):
    api = client_for(consultant)
    assert post(api, "/templates", {}).status_code == 403
    response = api.patch(
        f"{API}/templates/{template.pk}", {"name": "改"}, content_type="application/json"
    )
    assert response.status_code == 403


def test_a_template_is_changed_and_another_dealers_is_404(
    client_for, care, make_user, other_dealer, template
):
    changed = client_for(care).patch(
        f"{API}/templates/{template.pk}", {"is_active": False}, content_type="application/json"
    )
    assert changed.status_code == 200 and changed.json()["is_active"] is False

    stranger = client_for(make_user(Role.CARE_SPECIALIST, dealer_=other_dealer))
    response = stranger.patch(
        f"{API}/templates/{template.pk}", {"name": "偷改"}, content_type="application/json"
    )
    assert response.status_code == 404
    template.refresh_from_db()
    assert template.name == "保养提醒"


# --- preview ----------------------------------------------------------------------------------


def test_preview_shows_the_text_as_sent_with_signature_suffix_and_length(
    client_for, consultant, dealer, customer, template
):
    # Given the dealer signs its SMS 【极光浦东】
    MessagingPolicy.objects.create(dealer=dealer, sms_signature="极光浦东")

    # When the template is previewed for 张伟
    data = post(
        client_for(consultant), f"/templates/{template.pk}/preview", {"customer_id": customer.pk}
    ).json()

    # Then the text is what the phone will show: signature, salutation, and 回T退订 (marketing)
    expected = f"【极光浦东】张先生您好，{dealer.name}提醒您按时保养。 回T退订"
    assert data["ok"] is True and data["missing_variable"] is None
    assert data["body"] == expected
    assert data["sms"]["chars"] == len(expected)
    assert data["sms"]["segments"] == 1
    assert data["sms"]["label"] == f"{len(expected)}/70"


def test_preview_names_the_variable_a_customer_has_no_value_for(
    client_for, consultant, dealer, customer
):
    # Given a template that needs the plate, and a customer without a car
    plate = MessageTemplateFactory(dealer=dealer, body="{{ salutation }}，{{ plate }}该年检了。")

    data = post(
        client_for(consultant), f"/templates/{plate.pk}/preview", {"customer_id": customer.pk}
    ).json()

    assert data["ok"] is False and data["sms"] is None
    assert data["missing_variable"] == {
        "customer_id": customer.pk,
        "customer_name": "张伟",
        "variable": "plate",
    }


def test_preview_of_a_draft_fills_caller_variables_and_refuses_unknown_ones(
    client_for, consultant, customer
):
    api = client_for(consultant)
    draft = {
        "customer_id": customer.pk,
        "channel": "sms",
        "purpose": "test_drive_reminder",
        "body": "{{ salutation }}，您预约的试驾在{{ test_drive_time }}。",
        "extra": {"test_drive_time": "明天上午10点"},
    }

    data = post(api, "/preview", draft).json()
    unknown = post(api, "/preview", {**draft, "body": "{{ colour }}"})

    # A service message gets no 回T退订
    assert data["body"] == "张先生，您预约的试驾在明天上午10点。"
    assert data["is_marketing"] is False
    assert unknown.status_code == 422 and "colour" in unknown.content.decode()


def test_preview_for_a_customer_one_may_not_see_is_404(client_for, make_user, customer, template):
    # A consultant sees only the customers assigned to them
    other_consultant = client_for(make_user(Role.SALES_CONSULTANT))
    response = post(
        other_consultant, f"/templates/{template.pk}/preview", {"customer_id": customer.pk}
    )
    assert response.status_code == 404


# --- sending and status -----------------------------------------------------------------------


def test_a_message_is_queued_and_its_status_read_with_the_phone_masked(
    client_for, consultant, customer
):
    api = client_for(consultant)

    # When the consultant sends a personal SMS
    response = post(
        api,
        "/messages",
        {"customer_id": customer.pk, "channel": "sms", "body": "{{ salutation }}，新车到店了。"},
    )

    # Then it is queued for now, rendered, by them, and the number is masked
    assert response.status_code == 201, response.content
    sent = response.json()
    assert sent["status"] == MessageStatus.QUEUED
    assert sent["body"] == "张先生，新车到店了。"
    assert sent["to_address"] == "138****1234"
    assert sent["created_by"]["id"] == consultant.pk
    assert sent["is_marketing"] is False
    status = api.get(f"{API}/messages/{sent['id']}").json()
    assert (status["status"], status["status_reason"]) == ("queued", "")
    assert "13812341234" not in api.get(f"{API}/messages/{sent['id']}").content.decode()


def test_the_same_source_id_twice_sends_once(client_for, consultant, customer):
    api = client_for(consultant)
    payload = {"customer_id": customer.pk, "channel": "sms", "body": "您好", "source_id": "form-1"}

    first = post(api, "/messages", payload).json()
    second = post(api, "/messages", payload).json()

    assert first["id"] == second["id"]
    assert Message.objects.filter(customer=customer).count() == 1


def test_marketing_without_consent_is_refused_and_with_it_sent(
    client_for, consultant, customer, template
):
    api = client_for(consultant)
    payload = {"customer_id": customer.pk, "channel": "sms", "template_id": template.pk}

    # Given no SMS consent, when a maintenance reminder (marketing) is sent, then 422 on channel
    refused = post(api, "/messages", payload)
    assert refused.status_code == 422
    assert "channel" in refused.json()["errors"]
    assert not Message.objects.filter(customer=customer).exists()

    # Given consent, then it is queued, labelled marketing, with the unsubscribe suffix
    ConsentFactory(customer=customer, channel="sms", granted=True)
    sent = post(api, "/messages", payload).json()
    assert sent["is_marketing"] is True and sent["body"].endswith("回T退订")


def test_a_missing_variable_is_refused_naming_it(client_for, consultant, customer):
    response = post(
        client_for(consultant),
        "/messages",
        {"customer_id": customer.pk, "channel": "sms", "body": "您的{{ plate }}该保养了"},
    )
    assert response.status_code == 422
    assert "plate" in " ".join(response.json()["errors"]["body"])


def test_sending_to_another_dealers_customer_or_with_their_template_is_refused(
    client_for, consultant, make_user, other_dealer, customer
):
    theirs = CustomerFactory(dealer=other_dealer)
    their_template = MessageTemplateFactory(dealer=other_dealer, purpose=Purpose.RECALL)
    api = client_for(consultant)

    to_theirs = post(api, "/messages", {"customer_id": theirs.pk, "channel": "sms", "body": "x"})
    with_theirs = post(
        api,
        "/messages",
        {"customer_id": customer.pk, "channel": "sms", "template_id": their_template.pk},
    )

    assert to_theirs.status_code == 404
    assert with_theirs.status_code == 422 and "template_id" in with_theirs.json()["errors"]
    assert not Message.objects.exists()


def test_the_list_is_filtered_and_a_consultant_sees_only_their_customers_messages(
    client_for, consultant, manager, dealer, other_dealer, customer, django_assert_max_num_queries
):
    # Given messages to the consultant's customer, to a colleague's, and at another dealer
    mine = MessageFactory(customer=customer, status=MessageStatus.DELIVERED)
    MessageFactory(customer=customer, channel="email", to_address="z@example.com")
    colleagues = MessageFactory(customer=CustomerFactory(dealer=dealer))
    MessageFactory(customer=CustomerFactory(dealer=other_dealer))

    # When they list, then only their customer's; the manager sees the whole dealer's
    as_consultant = client_for(consultant).get(f"{API}/messages").json()
    assert as_consultant["count"] == 2
    assert colleagues.pk not in [m["id"] for m in as_consultant["items"]]
    as_manager_api = client_for(manager)
    with django_assert_max_num_queries(4):
        as_manager = as_manager_api.get(f"{API}/messages", {"limit": 2}).json()
    assert as_manager["count"] == 3 and len(as_manager["items"]) == 2
    delivered = client_for(manager).get(f"{API}/messages", {"status": "delivered"}).json()
    assert [m["id"] for m in delivered["items"]] == [mine.pk]
    by_customer = client_for(manager).get(f"{API}/messages", {"customer": customer.pk}).json()
    assert by_customer["count"] == 2
    # And a colleague's message answers 404 to the consultant
    assert client_for(consultant).get(f"{API}/messages/{colleagues.pk}").status_code == 404


def test_the_list_costs_the_same_queries_for_many_messages(
    client_for, manager, dealer, django_assert_num_queries
):
    MessageFactory(customer=CustomerFactory(dealer=dealer))
    api = client_for(manager)
    api.get(f"{API}/messages")  # the session and user are loaded once
    with django_assert_num_queries(4) as few:
        api.get(f"{API}/messages")
    MessageFactory.create_batch(10, customer=CustomerFactory(dealer=dealer))
    with django_assert_num_queries(len(few.captured_queries)):
        assert api.get(f"{API}/messages").json()["count"] == 11


def test_a_queued_message_is_cancelled_and_another_dealers_is_404(
    client_for, consultant, make_user, other_dealer, customer
):
    message = MessageFactory(customer=customer)
    stranger = client_for(make_user(Role.SALES_CONSULTANT, dealer_=other_dealer))

    assert post(stranger, f"/messages/{message.pk}/cancel", {}).status_code == 404
    response = post(client_for(consultant), f"/messages/{message.pk}/cancel", {})

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = post(client_for(consultant), f"/messages/{message.pk}/cancel", {})
    assert again.status_code == 422


# --- campaigns --------------------------------------------------------------------------------


def test_a_campaign_is_created_queued_and_reports_its_progress(
    client_for,
    care,
    dealer,
    customer,
    template,
    django_capture_on_commit_callbacks,
    settings,
    tmp_path,
):
    settings.MESSAGING_FILE_DIR = tmp_path  # the demo's file provider sends the SMS
    # Given two customers of whom one consents to marketing SMS
    ConsentFactory(customer=customer, channel="sms", granted=True)
    refuser = CustomerFactory(dealer=dealer, name="李娜", gender="female")
    CustomerPhoneFactory(customer=refuser, number="+8613912345678")
    api = client_for(care)

    # When a campaign to both is created …
    created = post(
        api,
        "/campaigns",
        {
            "name": "春季保养",
            "template_id": template.pk,
            "audience": {"customer_ids": [customer.pk, refuser.pk]},
        },
    )
    assert created.status_code == 201, created.content
    campaign_id = created.json()["id"]
    assert created.json()["status"] == Campaign.Status.DRAFT

    # … and queued (the job runs when the request's transaction commits, then the outbox)
    with django_capture_on_commit_callbacks(execute=True):
        queued = post(api, f"/campaigns/{campaign_id}/queue", {})
    assert queued.status_code == 202

    # Then its report and messages say who got it and who was blocked for lack of consent
    data = api.get(f"{API}/campaigns/{campaign_id}").json()
    assert data["status"] == Campaign.Status.QUEUED
    assert (data["progress"], data["total"]) == (2, 2)
    assert data["report"]["queued"] == 1 and data["report"]["no_consent"] == 1
    assert data["messages"] == {"sent": 1, "blocked": 1}
    # And queueing it again is refused
    assert post(api, f"/campaigns/{campaign_id}/queue", {}).status_code == 422


def test_a_campaign_cannot_name_customers_of_another_dealer(
    client_for, care, other_dealer, template
):
    theirs = CustomerFactory(dealer=other_dealer)

    response = post(
        client_for(care),
        "/campaigns",
        {
            "name": "越界",
            "template_id": template.pk,
            "audience": {"customer_ids": [theirs.pk]},
        },
    )

    assert response.status_code == 422
    assert str(theirs.pk) in " ".join(response.json()["errors"]["audience"])
    assert not Campaign.objects.exists()


def test_campaigns_need_the_permission_and_stay_within_the_dealer(
    client_for, consultant, care, make_user, other_dealer, template
):
    campaign = Campaign.objects.create(
        dealer=template.dealer, name="活动", template=template, audience={"tags": ["VIP"]}
    )
    assert client_for(consultant).get(f"{API}/campaigns/{campaign.pk}").status_code == 403
    stranger = client_for(make_user(Role.CARE_SPECIALIST, dealer_=other_dealer))
    assert stranger.get(f"{API}/campaigns/{campaign.pk}").status_code == 404
    assert stranger.get(f"{API}/campaigns").json()["count"] == 0
    assert client_for(care).get(f"{API}/campaigns").json()["items"][0]["name"] == "活动"
