"""Template pages: the list, create and edit, the live SMS counter and the preview for a real
customer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.messaging.models import MessageTemplate, MessagingPolicy
from dealercrm.search.services import search_keys_refresh
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.messaging.factories import MessageTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def care(make_user):
    return make_user(Role.CARE_SPECIALIST)


@pytest.fixture
def signature(dealer):
    return MessagingPolicy.objects.create(dealer=dealer, sms_signature="极光浦东")


def _template_form(**overrides):
    data = {
        "name": "保养提醒",
        "purpose": "maintenance_reminder",
        "channel": "sms",
        "language": "zh-hans",
        "subject": "",
        "body": "{{ salutation }}，您的爱车该保养了。",
        "provider_template_code": "SMS_1001",
        "is_active": "on",
    }
    data.update(overrides)
    return data


# --- list --------------------------------------------------------------------------------------


def test_the_list_shows_the_dealers_templates_with_service_or_marketing_badges(
    client_for, consultant, dealer, other_dealer
):
    MessageTemplateFactory(dealer=dealer, name="召回通知", purpose="recall")
    MessageTemplateFactory(dealer=dealer, name="春节问候", purpose="holiday_greeting")
    MessageTemplateFactory(dealer=other_dealer, name="别家模板")

    html = client_for(consultant).get(reverse("messaging:templates")).content.decode()

    assert "召回通知" in html and "春节问候" in html
    assert "别家模板" not in html
    assert "Service" in html or "服务" in html
    # A consultant may read templates but not change them: no link to the editor.
    assert reverse("messaging:template_create") not in html


def test_the_list_filters_by_channel_and_kind_and_htmx_gets_only_the_rows(
    client_for, manager, dealer
):
    MessageTemplateFactory(dealer=dealer, name="短信召回", purpose="recall", channel="sms")
    MessageTemplateFactory(dealer=dealer, name="邮件活动", purpose="campaign", channel="email")
    MessageTemplateFactory(dealer=dealer, name="短信活动", purpose="campaign", channel="sms")

    response = client_for(manager).get(
        reverse("messaging:templates"),
        {"channel": "sms", "kind": "marketing"},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert "短信活动" in html
    assert "短信召回" not in html and "邮件活动" not in html
    assert "<html" not in html and 'id="template-results"' in html


def test_the_list_costs_the_same_queries_for_three_or_thirty_templates(
    client_for, manager, dealer, django_assert_max_num_queries
):
    client = client_for(manager)
    for n in range(3):
        MessageTemplateFactory(dealer=dealer, name=f"模板甲{n}")
    with django_assert_max_num_queries(8) as few:
        client.get(reverse("messaging:templates"))
    for n in range(27):
        MessageTemplateFactory(dealer=dealer, name=f"模板乙{n}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("messaging:templates"))

    assert len(response.context["templates"]) == 30


# --- create and edit ---------------------------------------------------------------------------


def test_a_consultant_may_not_write_templates(client_for, consultant):
    client = client_for(consultant)

    assert client.get(reverse("messaging:template_create")).status_code == 403
    assert client.post(reverse("messaging:template_create"), _template_form()).status_code == 403
    assert not MessageTemplate.objects.exists()


def test_creating_a_template_saves_it_and_audits_it(client_for, care, dealer):
    response = client_for(care).post(reverse("messaging:template_create"), _template_form())

    assert response.status_code == 302
    template = MessageTemplate.objects.get()
    assert template.dealer_id == dealer.pk
    assert template.body == "{{ salutation }}，您的爱车该保养了。"
    assert AuditEvent.objects.filter(action="create", target_type="messaging.messagetemplate")


def test_an_unknown_variable_is_shown_on_the_text_field_and_nothing_is_saved(client_for, care):
    response = client_for(care).post(
        reverse("messaging:template_create"),
        _template_form(body="{{ salutation }}，{{ 车型 }} {{ favourite_colour }} 到店保养。"),
    )

    assert response.status_code == 200
    assert not MessageTemplate.objects.exists()
    errors = response.context["form"].errors["body"]
    assert any("favourite_colour" in e for e in errors)
    assert 'data-error="body"' in response.content.decode()


def test_the_form_lists_the_variables_to_pick(client_for, care):
    html = client_for(care).get(reverse("messaging:template_create")).content.decode()

    for name in ("salutation", "vehicle", "plate", "dealer_name", "consultant_name", "link"):
        assert f'data-variable="{name}"' in html


def test_editing_a_template_changes_it(client_for, care, dealer):
    template = MessageTemplateFactory(dealer=dealer, name="旧名")
    url = reverse("messaging:template_edit", args=[template.pk])
    client = client_for(care)

    assert "旧名" in client.get(url).content.decode()
    response = client.post(url, _template_form(name="新名", purpose="recall"))

    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.name, template.purpose) == ("新名", "recall")


def test_another_dealers_template_is_404(client_for, make_user, other_dealer, dealer):
    template = MessageTemplateFactory(dealer=dealer)
    stranger = make_user(Role.DEALER_MANAGER, dealer_=other_dealer)

    client = client_for(stranger)
    url = reverse("messaging:template_edit", args=[template.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, _template_form(name="改了")).status_code == 404
    template.refresh_from_db()
    assert template.name != "改了"


def test_a_system_administrator_chooses_the_dealer_of_a_new_template(client_for, make_user, dealer):
    admin = make_user(Role.SYSTEM_ADMIN)

    client = client_for(admin)
    assert client.get(reverse("messaging:template_create")).status_code == 200
    response = client.post(reverse("messaging:template_create"), _template_form(dealer=dealer.pk))

    assert response.status_code == 302
    assert MessageTemplate.objects.get().dealer_id == dealer.pk


# --- the SMS counter ---------------------------------------------------------------------------


def _length(client, body, **extra):
    data = {"body": body, "channel": "sms", "purpose": "recall", **extra}
    response = client.post(
        reverse("messaging:template_sms_length"), data, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    return response.content.decode()


def test_the_counter_counts_the_signature_with_the_text(client_for, care, signature):
    # 【极光浦东】 is 6 characters; with 59 more the SMS is 65 of 70.
    html = _length(client_for(care), "好" * 59)

    assert 'data-chars="65"' in html and 'data-segments="1"' in html
    assert "65/70" in html
    assert "极光浦东" in html


def test_the_counter_adds_the_unsubscribe_ending_for_marketing(client_for, care, signature):
    client = client_for(care)

    service = _length(client, "好" * 59, purpose="recall")
    marketing = _length(client, "好" * 59, purpose="holiday_greeting")

    assert 'data-chars="65"' in service
    # " 回T退订" is 5 more characters: 70, still one SMS.
    assert 'data-chars="70"' in marketing and 'data-segments="1"' in marketing


def test_the_counter_shows_segments_of_67_once_the_text_is_split(client_for, care, signature):
    html = _length(client_for(care), "好" * 65)  # 71 with the signature

    assert 'data-chars="71"' in html and 'data-segments="2"' in html
    assert "71/134" in html


def test_the_counter_is_empty_for_channels_other_than_sms(client_for, care):
    html = _length(client_for(care), "您好", channel="email")

    assert "data-chars" not in html
    assert 'id="sms-length"' in html


# --- the preview -------------------------------------------------------------------------------


@pytest.fixture
def customer(dealer):
    customer = CustomerFactory(dealer=dealer, name="张伟", gender="male")
    CustomerPhoneFactory(customer=customer, number="+8613812345678")
    return customer


def _preview(client, customer, body, **extra):
    data = {
        "body": body,
        "channel": "sms",
        "purpose": "maintenance_reminder",
        "language": "zh-hans",
        "customer": customer.pk,
        **extra,
    }
    return client.post(reverse("messaging:template_preview"), data, headers={"HX-Request": "true"})


def _shown(response) -> str:
    """The text in the preview box."""
    html = response.content.decode()
    start = html.index("data-preview>") + len("data-preview>")
    return html[start : html.index("</div>", start)]


def test_the_preview_shows_exactly_what_the_customer_would_get(
    client_for, care, customer, signature
):
    response = _preview(
        client_for(care), customer, "{{ salutation }}，{{ dealer_name }}提醒您保养。"
    )

    assert response.status_code == 200
    # A marketing purpose: the signature in front and the unsubscribe ending after.
    assert _shown(response) == "【极光浦东】张先生，上海浦东极光4S店提醒您保养。 回T退订"


def test_the_preview_names_the_variable_the_customer_has_no_value_for(client_for, care, customer):
    response = _preview(client_for(care), customer, "{{ salutation }}，您的{{ plate }}该年检了。")

    html = response.content.decode()
    assert 'data-missing="plate"' in html and "张伟" in html
    assert "data-preview" not in html


def test_the_preview_refuses_unknown_variables(client_for, care, customer):
    response = _preview(client_for(care), customer, "{{ nickname }}您好")

    html = response.content.decode()
    assert "nickname" in html and "alert-danger" in html
    assert "data-preview" not in html


def test_the_preview_marks_where_the_sender_fills_in_a_value(client_for, care, customer):
    response = _preview(
        client_for(care),
        customer,
        "{{ salutation }}，试驾时间{{ test_drive_time }}。",
        purpose="test_drive_reminder",
    )

    assert _shown(response) == "张先生，试驾时间〔test_drive_time〕。"
    assert "<code>test_drive_time</code>" in response.content.decode()


def test_the_preview_of_another_dealers_customer_is_404(client_for, care, other_dealer):
    stranger = CustomerFactory(dealer=other_dealer, name="李娜")

    response = _preview(client_for(care), stranger, "{{ salutation }}")

    assert response.status_code == 404


def test_the_customer_search_finds_customers_of_the_dealer(client_for, care, dealer, customer):
    search_keys_refresh(dealer_id=dealer.pk, customer_ids=[customer.pk])

    response = client_for(care).get(
        reverse("messaging:template_customers"), {"q": "张伟"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert f'data-customer="{customer.pk}"' in html
    assert "138****5678" in html and "13812345678" not in html
