"""Queueing one message (message_send), templates, the policy, providers, cancel and release.

The clock is frozen: quiet hours and the cap depend on it. Times are Shanghai's (the dealers'
default time zone).
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import translation

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.messaging import services
from dealercrm.messaging.models import (
    Message,
    MessageStatus,
    MessageTemplate,
    MessagingPolicy,
    ProviderConfig,
    Purpose,
)
from dealercrm.messaging.secrets import decrypt_secret
from tests.customers.factories import ConsentFactory, CustomerFactory, CustomerPhoneFactory
from tests.messaging.factories import MessageFactory, MessageTemplateFactory
from tests.vehicles.factories import VehicleFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime.datetime(2025, 3, 10, 12, 0, tzinfo=SHANGHAI)
NIGHT = datetime.datetime(2025, 3, 10, 22, 30, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _english_at_noon():
    with translation.override("en"), time_machine.travel(NOON, tick=False):
        yield


@pytest.fixture
def signed_policy(dealer):
    return MessagingPolicy.objects.create(dealer=dealer, sms_signature="极光汽车")


@pytest.fixture
def customer(dealer):
    """张伟, a mobile number, SMS consent, a car."""
    customer = CustomerFactory(dealer=dealer, name="张伟", gender="male", email="zw@example.com")
    CustomerPhoneFactory(customer=customer, number="+8613812345678")
    ConsentFactory(customer=customer, channel="sms")
    VehicleFactory(dealer=dealer, owner=customer, plate="沪A12345")
    return customer


@pytest.fixture
def marketing_template(dealer):
    return MessageTemplateFactory(
        dealer=dealer,
        purpose=Purpose.CAMPAIGN,
        channel="sms",
        body="{{ salutation }}，周末到店试驾有礼。",
    )


def send(customer, actor, **kwargs):
    kwargs.setdefault("channel", "sms")
    kwargs.setdefault("purpose", Purpose.CAMPAIGN)
    kwargs.setdefault("source_id", "form-token-1")
    return services.message_send(actor=actor, customer=customer, **kwargs)


# --- message_send ------------------------------------------------------------------------------


def test_a_marketing_sms_is_queued_with_the_full_text_the_phone_shows(
    customer, consultant, marketing_template, signed_policy
):
    message = send(customer, consultant, template=marketing_template)

    assert message.status == MessageStatus.QUEUED
    assert message.is_marketing
    assert message.body == "【极光汽车】张先生，周末到店试驾有礼。 回T退订"
    assert message.segments == 1
    assert message.to_address == "+8613812345678"
    assert message.params == {"salutation": "张先生"}
    assert message.not_before == NOON
    assert message.template_id == marketing_template.pk
    assert message.created_by_id == consultant.pk
    assert message.idempotency_key == f"manual:form-token-1:{customer.pk}:sms"


def test_sending_the_same_form_twice_queues_one_message(customer, consultant, marketing_template):
    first = send(customer, consultant, template=marketing_template)
    second = send(customer, consultant, template=marketing_template)

    assert second.pk == first.pk
    assert Message.objects.filter(customer=customer).count() == 1


def test_without_a_token_every_call_is_a_new_message(customer, consultant):
    send(customer, consultant, body="您好", purpose=Purpose.PERSONAL, source_id="")
    send(customer, consultant, body="您好", purpose=Purpose.PERSONAL, source_id="")

    assert Message.objects.filter(customer=customer).count() == 2


def test_marketing_without_consent_for_the_channel_is_refused_and_nothing_is_written(
    dealer, consultant, marketing_template
):
    customer = CustomerFactory(dealer=dealer)
    CustomerPhoneFactory(customer=customer)
    ConsentFactory(customer=customer, channel="email")  # consent, but not for SMS

    with pytest.raises(ValidationError) as caught:
        send(customer, consultant, template=marketing_template)

    assert caught.value.message_dict["channel"] == ["No marketing consent for SMS."]
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "purpose", [Purpose.RECALL, Purpose.APPOINTMENT_CONFIRMATION, Purpose.DELIVERY_DELAY]
)
def test_service_messages_go_without_marketing_consent_and_are_labelled_service(
    dealer, consultant, purpose
):
    customer = CustomerFactory(dealer=dealer, name="李娜", gender="female")
    CustomerPhoneFactory(customer=customer)
    ConsentFactory(customer=customer, channel="sms", granted=False)  # withdrawn
    template = MessageTemplateFactory(
        dealer=dealer, purpose=purpose, body="{{ salutation }}，请留意本通知。"
    )

    message = send(customer, consultant, template=template, purpose=Purpose.PERSONAL)

    assert message.status == MessageStatus.QUEUED
    assert message.purpose == purpose
    assert message.is_marketing is False
    assert not message.body.endswith("回T退订")


def test_a_marketing_template_stays_marketing_whatever_purpose_the_caller_gives(
    dealer, consultant, marketing_template
):
    customer = CustomerFactory(dealer=dealer)
    CustomerPhoneFactory(customer=customer)

    with pytest.raises(ValidationError):
        send(customer, consultant, template=marketing_template, purpose=Purpose.RECALL)


def test_in_quiet_hours_an_sms_is_queued_for_08_00(customer, consultant, marketing_template):
    with time_machine.travel(NIGHT, tick=False):
        message = send(customer, consultant, template=marketing_template)

    assert message.status == MessageStatus.QUEUED
    assert message.not_before == datetime.datetime(2025, 3, 11, 8, 0, tzinfo=SHANGHAI)


def test_quiet_hours_follow_the_dealers_time_zone(customer, consultant, marketing_template):
    customer.dealer.time_zone = "Asia/Urumqi"  # UTC+6: 22:30 in Shanghai is 20:30 there
    customer.dealer.save()

    with time_machine.travel(NIGHT, tick=False):
        message = send(customer, consultant, template=marketing_template)

    assert message.not_before == NIGHT


def _marketing_history(customer, count: int, *, days_ago: int = 3) -> None:
    for n in range(count):
        MessageFactory(
            customer=customer,
            channel=("sms", "email", "wechat")[n % 3],
            purpose=Purpose.CAMPAIGN,
            is_marketing=True,
            status=MessageStatus.DELIVERED,
            created_at=NOON - datetime.timedelta(days=days_ago),
        )


def test_the_fifth_marketing_message_in_30_days_is_held_and_kept(
    customer, consultant, marketing_template
):
    _marketing_history(customer, 4)

    message = send(customer, consultant, template=marketing_template)

    assert message.status == MessageStatus.HELD
    assert "frequency cap" in message.status_reason
    assert Message.objects.filter(pk=message.pk).exists()


def test_messages_older_than_the_window_do_not_count(customer, consultant, marketing_template):
    _marketing_history(customer, 4, days_ago=31)

    assert send(customer, consultant, template=marketing_template).status == MessageStatus.QUEUED


def test_the_cap_is_configurable_per_dealer(customer, consultant, manager, marketing_template):
    _marketing_history(customer, 4)
    services.policy_update(actor=manager, dealer_id=customer.dealer_id, cap_count=5)

    assert send(customer, consultant, template=marketing_template).status == MessageStatus.QUEUED
    assert (
        send(customer, consultant, template=marketing_template, source_id="form-token-2").status
        == MessageStatus.HELD
    )


def test_service_messages_are_outside_the_cap(customer, consultant):
    _marketing_history(customer, 10)
    template = MessageTemplateFactory(dealer=customer.dealer, purpose=Purpose.RECALL)

    assert send(customer, consultant, template=template).status == MessageStatus.QUEUED


def test_a_missing_variable_names_the_customer_and_the_variable_and_nothing_is_written(
    dealer, consultant
):
    customer = CustomerFactory(dealer=dealer, name="王芳")  # no car: no plate
    CustomerPhoneFactory(customer=customer)
    template = MessageTemplateFactory(
        dealer=dealer, purpose=Purpose.MAINTENANCE_REMINDER, body="您的爱车{{ plate }}该保养了。"
    )
    ConsentFactory(customer=customer, channel="sms")

    with pytest.raises(ValidationError) as caught:
        send(customer, consultant, template=template)

    (error,) = caught.value.message_dict["body"]
    assert "王芳" in error
    assert "{{ plate }}" in error
    assert not Message.objects.exists()


def test_caller_variables_fill_a_template(customer, consultant):
    template = MessageTemplateFactory(
        dealer=customer.dealer,
        purpose=Purpose.TEST_DRIVE_REMINDER,
        body="{{ salutation }}，您预约的试驾在{{ test_drive_time }}。",
    )
    when = datetime.datetime(2025, 3, 11, 10, 0, tzinfo=SHANGHAI)

    message = send(customer, consultant, template=template, extra={"test_drive_time": when})

    assert "您预约的试驾在2025年3月11日 10:00。" in message.body


def test_a_landline_cannot_get_an_sms(dealer, consultant):
    customer = CustomerFactory(dealer=dealer)
    CustomerPhoneFactory(customer=customer, number="+862168881234")

    with pytest.raises(ValidationError) as caught:
        send(customer, consultant, body="您的车已修好。", purpose=Purpose.PERSONAL)

    assert caught.value.message_dict["channel"] == ["A landline cannot receive SMS."]
    assert not Message.objects.exists()


def test_a_landline_can_get_a_call(dealer, consultant):
    customer = CustomerFactory(dealer=dealer)
    CustomerPhoneFactory(customer=customer, number="+862168881234")

    message = send(customer, consultant, channel="phone", body="通知车已修好", purpose="personal")

    assert message.to_address == "+862168881234"


@pytest.mark.parametrize(
    ("channel", "field", "value", "expected_address"),
    [
        ("email", "email", "li@example.com", "li@example.com"),
        ("wechat", "wechat_id", "wxid_li", "wxid_li"),
        ("mail", "street", "张杨路100号", "上海市浦东新区张杨路100号"),
    ],
)
def test_each_channel_goes_to_its_address(
    dealer, consultant, channel, field, value, expected_address
):
    customer = CustomerFactory(
        dealer=dealer, province="上海市", city="上海市", district="浦东新区", **{field: value}
    )

    message = send(customer, consultant, channel=channel, body="您好", purpose="personal")

    assert message.to_address == expected_address
    assert message.segments == 0


@pytest.mark.parametrize(
    ("channel", "reason"),
    [
        ("sms", "The customer has no phone number."),
        ("email", "The customer has no e-mail address."),
        ("wechat", "The customer has no WeChat ID."),
        ("mail", "The customer has no postal address."),
    ],
)
def test_no_address_for_the_channel_is_refused(dealer, consultant, channel, reason):
    customer = CustomerFactory(dealer=dealer, province="上海市", city="上海市")

    with pytest.raises(ValidationError) as caught:
        send(customer, consultant, channel=channel, body="您好", purpose="personal")

    assert caught.value.message_dict["channel"] == [reason]


def test_a_literal_text_may_use_variables_and_is_checked_like_a_template(customer, consultant):
    message = send(customer, consultant, body="{{ salutation }}，车已洗好。", purpose="personal")

    assert message.body == "张先生，车已洗好。"
    with pytest.raises(ValidationError) as caught:
        send(customer, consultant, body="{{ nickname }}好", purpose="personal", source_id="x")
    assert "{{ nickname }}" in caught.value.message_dict["body"][0]


def test_an_email_renders_its_subject(customer, consultant):
    template = MessageTemplateFactory(
        dealer=customer.dealer,
        channel="email",
        purpose=Purpose.RECALL,
        subject="{{ vehicle }}召回通知",
        body="{{ salutation }}：请尽快到店。",
    )

    message = send(customer, consultant, channel="email", template=template)

    assert message.subject.endswith("召回通知")
    assert message.body == "张先生：请尽快到店。"
    assert message.to_address == "zw@example.com"


@pytest.mark.parametrize(
    ("template_kwargs", "field"),
    [({"channel": "email"}, "template"), ({"is_active": False}, "template")],
)
def test_a_template_of_another_channel_or_switched_off_is_refused(
    customer, consultant, template_kwargs, field
):
    template = MessageTemplateFactory(dealer=customer.dealer, **template_kwargs)

    with pytest.raises(ValidationError) as caught:
        send(customer, consultant, template=template)

    assert field in caught.value.message_dict


def test_another_dealers_template_is_refused(customer, consultant, other_dealer):
    template = MessageTemplateFactory(dealer=other_dealer)

    with pytest.raises(ValidationError) as caught:
        send(customer, consultant, template=template)

    assert "template" in caught.value.message_dict


def test_queueing_starts_the_outbox_job_after_commit(
    customer, consultant, marketing_template, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        send(customer, consultant, template=marketing_template)

    assert len(callbacks) == 1


def test_a_held_message_does_not_start_the_outbox_job(
    customer, consultant, marketing_template, django_capture_on_commit_callbacks
):
    _marketing_history(customer, 4)

    with django_capture_on_commit_callbacks() as callbacks:
        send(customer, consultant, template=marketing_template)

    assert callbacks == []


def test_message_send_costs_a_fixed_number_of_queries(
    customer, consultant, marketing_template, django_assert_max_num_queries
):
    services.policy_for_dealer(customer.dealer_id)

    # dealer, policy, key, customer, phone, car, consent, cap count, insert; 2 savepoints.
    with django_assert_max_num_queries(13):
        send(customer, consultant, template=marketing_template)


# --- cancel and release ----------------------------------------------------------------------


def test_cancel_a_queued_or_held_message(customer, manager):
    queued = MessageFactory(customer=customer, status=MessageStatus.QUEUED)
    held = MessageFactory(customer=customer, status=MessageStatus.HELD)

    services.message_cancel(actor=manager, message=queued)
    services.message_cancel(actor=manager, message=held)

    assert queued.status == held.status == MessageStatus.CANCELLED
    assert AuditEvent.objects.filter(
        target_type="messaging.message", target_id=str(queued.pk), action="change"
    ).exists()


@pytest.mark.parametrize(
    "status", [MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.FAILED]
)
def test_a_message_on_its_way_or_gone_cannot_be_cancelled(customer, manager, status):
    message = MessageFactory(customer=customer, status=status)

    with pytest.raises(ValidationError):
        services.message_cancel(actor=manager, message=message)

    message.refresh_from_db()
    assert message.status == status


def test_release_a_held_message_once_the_cap_allows_it(
    customer, manager, consultant, marketing_template
):
    _marketing_history(customer, 4)
    held = send(customer, consultant, template=marketing_template)

    with pytest.raises(ValidationError) as caught:
        services.message_release(actor=manager, message=held)
    assert "frequency cap" in caught.value.message_dict["status"][0]

    services.policy_update(actor=manager, dealer_id=customer.dealer_id, cap_count=8)
    released = services.message_release(actor=manager, message=held)

    assert released.status == MessageStatus.QUEUED
    assert released.status_reason == ""


def test_release_a_blocked_message_once_the_customer_consents(dealer, manager):
    customer = CustomerFactory(dealer=dealer)
    blocked = MessageFactory(
        customer=customer,
        status=MessageStatus.BLOCKED,
        is_marketing=True,
        purpose=Purpose.CAMPAIGN,
        status_reason="No marketing consent for SMS.",
    )

    with pytest.raises(ValidationError):
        services.message_release(actor=manager, message=blocked)

    ConsentFactory(customer=customer, channel="sms")
    with time_machine.travel(NIGHT, tick=False):
        released = services.message_release(actor=manager, message=blocked)

    assert released.status == MessageStatus.QUEUED
    assert released.not_before == datetime.datetime(2025, 3, 11, 8, 0, tzinfo=SHANGHAI)


def test_only_held_or_blocked_messages_can_be_released(customer, manager):
    message = MessageFactory(customer=customer, status=MessageStatus.QUEUED)

    with pytest.raises(ValidationError):
        services.message_release(actor=manager, message=message)


# --- templates ---------------------------------------------------------------------------------


def test_template_create_refuses_unknown_variables_naming_them(manager):
    with pytest.raises(ValidationError) as caught:
        services.template_create(
            actor=manager,
            dealer_id=manager.dealer_id,
            name="保养提醒",
            purpose=Purpose.MAINTENANCE_REMINDER,
            channel="sms",
            body="{{ salutation }}，{{ next_service_km }}公里该保养了。",
        )

    assert "{{ next_service_km }}" in caught.value.message_dict["body"][0]
    assert not MessageTemplate.objects.exists()


def test_template_create_and_update_are_audited(manager):
    template = services.template_create(
        actor=manager,
        dealer_id=manager.dealer_id,
        name="保养提醒",
        purpose=Purpose.MAINTENANCE_REMINDER,
        channel="sms",
        body="{{ salutation }}，您的{{ vehicle }}该保养了。",
    )
    services.template_update(actor=manager, template=template, body="{{ salutation }}，该保养了。")

    template.refresh_from_db()
    assert template.body == "{{ salutation }}，该保养了。"
    assert template.created_by == manager
    events = AuditEvent.objects.filter(
        target_type="messaging.messagetemplate", target_id=str(template.pk)
    ).order_by("id")
    assert [e.action for e in events] == ["create", "change"]
    assert events[1].changes["body"][1] == "{{ salutation }}，该保养了。"


def test_template_create_requires_name_purpose_channel_and_text(manager):
    with pytest.raises(ValidationError) as caught:
        services.template_create(actor=manager, dealer_id=manager.dealer_id, name="", body="")

    assert set(caught.value.message_dict) >= {"name", "body", "purpose", "channel"}


def test_template_update_with_nothing_changed_writes_nothing(manager):
    template = MessageTemplateFactory(dealer=manager.dealer)

    services.template_update(actor=manager, template=template, name=template.name)

    assert not AuditEvent.objects.filter(target_type="messaging.messagetemplate").exists()


# --- policy and providers ----------------------------------------------------------------------


def test_policy_for_dealer_creates_the_defaults_once(dealer):
    first = services.policy_for_dealer(dealer.id)
    second = services.policy_for_dealer(dealer.id)

    assert first.pk == second.pk
    assert (first.quiet_start, first.quiet_end) == (datetime.time(21), datetime.time(8))
    assert (first.cap_count, first.cap_days) == (4, 30)
    assert first.quiet_channels == "sms,phone"


def test_policy_update_cleans_and_audits(manager):
    policy = services.policy_update(
        actor=manager,
        dealer_id=manager.dealer_id,
        quiet_start="22:00",
        quiet_end="07:30",
        quiet_channels=["phone", "sms", "email"],
        cap_count="6",
        cap_days=14,
        sms_signature="【极光浦东】",
    )

    assert policy.quiet_start == datetime.time(22)
    assert policy.quiet_end == datetime.time(7, 30)
    assert policy.quiet_channels == "sms,phone,email"
    assert (policy.cap_count, policy.cap_days) == (6, 14)
    assert policy.sms_signature == "极光浦东"
    event = AuditEvent.objects.get(target_type="messaging.messagingpolicy")
    assert event.changes["cap_count"] == [4, 6]


def test_policy_update_refuses_bad_values_by_field(manager):
    with pytest.raises(ValidationError) as caught:
        services.policy_update(
            actor=manager,
            dealer_id=manager.dealer_id,
            quiet_start="late",
            quiet_channels="sms,fax",
            cap_count=0,
            sms_signature="一个非常非常非常非常非常非常非常长的签名名字",
        )

    assert set(caught.value.message_dict) == {
        "quiet_start",
        "quiet_channels",
        "cap_count",
        "sms_signature",
    }


def test_provider_config_set_encrypts_the_secret_and_keeps_it_out_of_the_audit(make_user):
    admin = make_user(Role.DEALER_ADMIN)

    config = services.provider_config_set(
        actor=admin,
        dealer_id=admin.dealer_id,
        channel="sms",
        kind="sms_gateway",
        options={"endpoint": "https://sms.example.com", "access_key_id": "AK1"},
        secret="s3cret-value",
    )
    services.provider_config_set(
        actor=admin,
        dealer_id=admin.dealer_id,
        channel="sms",
        kind="sms_gateway",
        options={"endpoint": "https://sms2.example.com", "access_key_id": "AK1"},
    )

    config = ProviderConfig.objects.get(pk=config.pk)
    assert config.options["endpoint"] == "https://sms2.example.com"
    assert config.secret_encrypted != "s3cret-value"
    assert decrypt_secret(config.secret_encrypted) == "s3cret-value"  # None kept it
    events = AuditEvent.objects.filter(target_type="messaging.providerconfig")
    assert events.count() == 2
    assert all("s3cret" not in str(e.changes) for e in events)


def test_provider_config_set_refuses_a_provider_that_cannot_carry_the_channel(manager):
    with pytest.raises(ValidationError) as caught:
        services.provider_config_set(
            actor=manager, dealer_id=manager.dealer_id, channel="sms", kind="smtp", options={}
        )

    assert "kind" in caught.value.message_dict
