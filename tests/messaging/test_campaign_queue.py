"""Queueing many messages at once (messages_queue_bulk, campaigns): every customer in exactly one
outcome, rows written set-based, a query count that does not grow with the audience."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from dealercrm.core.models import AuditEvent
from dealercrm.messaging import services
from dealercrm.messaging.models import Campaign, Message, MessageStatus, MessagingPolicy, Purpose
from tests.customers.factories import (
    ConsentFactory,
    CustomerFactory,
    CustomerPhoneFactory,
    CustomerTagFactory,
    TagFactory,
)
from tests.messaging.factories import MessageFactory, MessageTemplateFactory
from tests.vehicles.factories import VehicleFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime.datetime(2025, 3, 10, 12, 0, tzinfo=SHANGHAI)
NIGHT = datetime.datetime(2025, 3, 10, 23, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _english_at_noon():
    with translation.override("en"), time_machine.travel(NOON, tick=False):
        yield


@pytest.fixture
def template(dealer):
    MessagingPolicy.objects.create(dealer=dealer, sms_signature="极光")
    return MessageTemplateFactory(
        dealer=dealer,
        purpose=Purpose.CAMPAIGN,
        channel="sms",
        body="{{ salutation }}，您的{{ plate }}可享春季保养八折。",
    )


def reachable(dealer, *, consent=True, number=None, car=True, **kwargs):
    """A customer with a mobile, SMS consent and a car (plate), unless told otherwise."""
    customer = CustomerFactory(dealer=dealer, **kwargs)
    if number is not False:
        CustomerPhoneFactory(customer=customer, **({"number": number} if number else {}))
    if consent:
        ConsentFactory(customer=customer, channel="sms")
    if car:
        VehicleFactory(dealer=dealer, owner=customer)
    return customer


def queue(dealer, template, customers, **kwargs):
    kwargs.setdefault("source_kind", Message.SourceKind.CARE_TASK)
    kwargs.setdefault("source_id", "spring-2025")
    return services.messages_queue_bulk(
        dealer_id=dealer.id,
        customer_ids=[c.pk for c in customers],
        template=template,
        **kwargs,
    )


def _capped(customer):
    for _ in range(4):
        MessageFactory(
            customer=customer,
            is_marketing=True,
            purpose=Purpose.CAMPAIGN,
            status=MessageStatus.DELIVERED,
            created_at=NOON - datetime.timedelta(days=2),
        )


def test_every_customer_ends_in_exactly_one_outcome(dealer, other_dealer, template):
    ok = reachable(dealer, name="张伟", gender="male")
    no_consent = reachable(dealer, consent=False)
    capped = reachable(dealer)
    _capped(capped)
    landline = reachable(dealer, number="+862168881234")
    no_phone = reachable(dealer, number=False)
    no_car = reachable(dealer, car=False, name="王芳")
    deleted = reachable(dealer, is_deleted=True)
    theirs = reachable(other_dealer)
    customers = [ok, no_consent, capped, landline, no_phone, no_car, deleted, theirs]
    before = Message.objects.count()

    report = queue(dealer, template, customers)

    messages = {m.customer_id: m for m in Message.objects.filter(source_id="spring-2025")}
    assert report.queued == [messages[ok.pk].pk]
    assert report.no_consent == [messages[no_consent.pk].pk]
    assert report.held_by_cap == [messages[capped.pk].pk]
    assert report.undeliverable == [messages[landline.pk].pk]
    assert report.no_address == [no_phone.pk]
    assert [(m.customer_id, m.customer_name, m.variable) for m in report.missing_variable] == [
        (no_car.pk, "王芳", "plate")
    ]
    assert sorted(report.not_found) == sorted([deleted.pk, theirs.pk])
    assert report.total == len(customers)
    # Rows only for the outcomes that have a status; nothing for the others.
    assert Message.objects.count() - before == 4
    assert messages[ok.pk].status == MessageStatus.QUEUED
    assert messages[no_consent.pk].status == MessageStatus.BLOCKED
    assert messages[no_consent.pk].status_reason == "No marketing consent for SMS."
    assert messages[capped.pk].status == MessageStatus.HELD
    assert "frequency cap" in messages[capped.pk].status_reason
    assert messages[landline.pk].status == MessageStatus.UNDELIVERABLE
    assert messages[landline.pk].status_reason == "A landline cannot receive SMS."


def test_the_rows_hold_the_text_as_sent(dealer, template):
    customer = reachable(dealer, name="李娜", gender="female")

    queue(dealer, template, [customer])

    message = Message.objects.get(customer=customer)
    plate = customer.vehicles.get().plate
    assert message.body == f"【极光】李女士，您的{plate}可享春季保养八折。 回T退订"
    assert message.segments == 1
    assert message.params == {"salutation": "李女士", "plate": plate}
    assert message.is_marketing
    assert message.purpose == Purpose.CAMPAIGN
    assert message.template_id == template.pk
    assert message.not_before == NOON
    assert message.created_at == NOON
    assert message.idempotency_key == f"care_task:spring-2025:{customer.pk}:sms"


def test_queueing_the_same_source_again_writes_nothing_new(dealer, template):
    customers = [reachable(dealer) for _ in range(3)]
    blocked = reachable(dealer, consent=False)
    first = queue(dealer, template, [*customers, blocked])

    second = queue(dealer, template, [*customers, blocked])

    assert sorted(second.already_queued) == sorted(first.queued + first.no_consent)
    assert second.counts()["queued"] == 0
    assert Message.objects.filter(source_id="spring-2025").count() == 4


def test_a_run_cut_short_continues_where_it_stopped(dealer, template):
    customers = [reachable(dealer) for _ in range(5)]
    first = queue(dealer, template, customers[:2])  # the run that was interrupted

    again = queue(dealer, template, customers)

    assert sorted(again.already_queued) == sorted(first.queued)
    assert len(again.queued) == 3
    assert Message.objects.filter(source_id="spring-2025").count() == 5


def test_service_purposes_skip_consent_and_cap(dealer):
    template = MessageTemplateFactory(
        dealer=dealer, purpose=Purpose.RECALL, body="{{ salutation }}，您的车辆需召回检修。"
    )
    customer = reachable(dealer, consent=False)
    _capped(customer)

    report = queue(dealer, template, [customer])

    message = Message.objects.get(pk=report.queued[0])
    assert message.is_marketing is False
    assert not message.body.endswith("回T退订")


def test_at_night_the_queued_rows_wait_for_the_window_and_are_counted(dealer, template):
    customers = [reachable(dealer) for _ in range(3)]

    with time_machine.travel(NIGHT, tick=False):
        report = queue(dealer, template, customers)

    assert report.deferred_by_quiet_hours == 3
    assert set(
        Message.objects.filter(pk__in=report.queued).values_list("not_before", flat=True)
    ) == {datetime.datetime(2025, 3, 11, 8, 0, tzinfo=SHANGHAI)}


def test_caller_variables_per_customer(dealer, consultant):
    template = MessageTemplateFactory(
        dealer=dealer,
        purpose=Purpose.TEST_DRIVE_REMINDER,
        body="{{ salutation }}，明天{{ time }}试驾，顾问{{ consultant_name }}。",
    )
    served = reachable(dealer, gender="male", name="张伟", assigned_consultant=consultant)
    unassigned = reachable(dealer)

    report = queue(
        dealer,
        template,
        [served, unassigned],
        extra_by_customer={
            served.pk: {"time": datetime.time(10, 30)},
            unassigned.pk: {"time": "14:00"},
        },
    )

    message = Message.objects.get(pk=report.queued[0])
    assert message.body == f"张先生，明天10:30试驾，顾问{consultant}。"  # no signature set
    # No consultant: reported, nothing half-filled.
    assert [(m.customer_id, m.variable) for m in report.missing_variable] == [
        (unassigned.pk, "consultant_name")
    ]


def test_progress_is_reported_after_every_batch(dealer, template, monkeypatch):
    monkeypatch.setattr(services, "QUEUE_BATCH_SIZE", 2)
    customers = [reachable(dealer) for _ in range(5)]
    calls = []

    report = queue(
        dealer, template, customers, progress=lambda done, total: calls.append((done, total))
    )

    assert calls == [(2, 5), (4, 5), (5, 5)]
    assert len(report.queued) == 5


def _count_queries(dealer, template, how_many, source_id):
    customers = [reachable(dealer) for _ in range(how_many)]
    for customer in customers[::3]:
        _capped(customer)
    services.policy_for_dealer(dealer.id)
    with CaptureQueriesContext(connection) as context:
        report = queue(dealer, template, customers, source_id=source_id)
    assert report.total == how_many
    return len(context.captured_queries)


def test_the_query_count_does_not_grow_with_the_audience(
    dealer, template, django_assert_max_num_queries
):
    ten = _count_queries(dealer, template, 10, "run-10")
    hundred = _count_queries(dealer, template, 100, "run-100")

    assert hundred == ten
    customers = [reachable(dealer) for _ in range(100)]
    # keys, customers, phones, cars, consents, cap counts, insert, read-back; dealer, policy.
    with django_assert_max_num_queries(ten):
        queue(dealer, template, customers, source_id="run-100-again")


def test_bulk_queueing_starts_the_outbox_job_once(
    dealer, template, django_capture_on_commit_callbacks
):
    customers = [reachable(dealer) for _ in range(3)]

    with django_capture_on_commit_callbacks() as callbacks:
        queue(dealer, template, customers)

    assert len(callbacks) == 1


def test_messages_check_bulk_reports_the_same_outcomes_and_writes_nothing(dealer, template):
    ok, no_consent, no_car = (
        reachable(dealer),
        reachable(dealer, consent=False),
        reachable(dealer, car=False),
    )
    before = Message.objects.count()

    report = services.messages_check_bulk(
        dealer_id=dealer.id, customer_ids=[ok.pk, no_consent.pk, no_car.pk], template=template
    )

    assert report.queued == [ok.pk]
    assert report.no_consent == [no_consent.pk]
    assert [m.customer_id for m in report.missing_variable] == [no_car.pk]
    assert Message.objects.count() == before


# --- campaigns -----------------------------------------------------------------------------


def test_campaign_create_checks_name_template_and_audience(manager, template, other_dealer):
    with pytest.raises(ValidationError) as caught:
        services.campaign_create(
            actor=manager, dealer_id=manager.dealer_id, name="", template=template, audience={}
        )
    assert set(caught.value.message_dict) == {"name", "audience"}

    with pytest.raises(ValidationError) as caught:
        services.campaign_create(
            actor=manager,
            dealer_id=manager.dealer_id,
            name="春季保养",
            template=MessageTemplateFactory(dealer=other_dealer),
            audience={"lifecycle_stages": ["owner", "VIP"]},
        )
    assert set(caught.value.message_dict) == {"template", "audience"}


def test_a_campaign_queues_its_audience_and_keeps_its_report(manager, dealer, template):
    vip = TagFactory(dealer=dealer, name="VIP")
    owners = [reachable(dealer, lifecycle_stage="owner") for _ in range(4)]
    for customer in owners[:3]:
        CustomerTagFactory(customer=customer, tag=vip)
    prospect_vip = reachable(dealer, lifecycle_stage="prospect")
    CustomerTagFactory(customer=prospect_vip, tag=vip)
    no_car_vip = reachable(dealer, lifecycle_stage="owner", car=False, name="赵敏")
    CustomerTagFactory(customer=no_car_vip, tag=vip)
    no_consent_vip = reachable(dealer, lifecycle_stage="owner", consent=False)
    CustomerTagFactory(customer=no_consent_vip, tag=vip)

    campaign = services.campaign_create(
        actor=manager,
        dealer_id=dealer.id,
        name="VIP车主春季保养",
        template=template,
        audience={"tags": ["VIP"], "lifecycle_stages": ["owner", "loyal"]},
    )
    report = services.campaign_queue(campaign_id=campaign.pk, dealer_id=dealer.id)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.QUEUED
    assert (campaign.progress, campaign.total) == (5, 5)
    assert campaign.queued_at == NOON
    assert campaign.report["queued"] == 3
    assert campaign.report["no_consent"] == 1
    assert campaign.report["missing_variable"] == 1
    assert campaign.report["missing_variable_examples"] == [
        {"customer_id": no_car_vip.pk, "customer_name": "赵敏", "variable": "plate"}
    ]
    queued = Message.objects.filter(campaign=campaign, status=MessageStatus.QUEUED)
    assert set(queued.values_list("customer_id", flat=True)) == {c.pk for c in owners[:3]}
    assert set(queued.values_list("source_kind", "source_id")) == {("campaign", str(campaign.pk))}
    assert set(queued.values_list("created_by", flat=True)) == {manager.pk}
    assert report.counts()["queued"] == 3
    assert AuditEvent.objects.filter(target_type="messaging.campaign", action="create").exists()


def test_a_campaign_queued_twice_sends_once(manager, dealer, template):
    customers = [reachable(dealer) for _ in range(3)]
    campaign = services.campaign_create(
        actor=manager,
        dealer_id=dealer.id,
        name="一次",
        template=template,
        audience={"customer_ids": [c.pk for c in customers]},
    )

    services.campaign_queue(campaign_id=campaign.pk, dealer_id=dealer.id)
    again = services.campaign_queue(campaign_id=campaign.pk, dealer_id=dealer.id)

    assert len(again.already_queued) == 3
    assert Message.objects.filter(campaign=campaign).count() == 3


def test_campaign_progress_is_written_every_batch(manager, dealer, template, monkeypatch):
    monkeypatch.setattr(services, "QUEUE_BATCH_SIZE", 2)
    customers = [reachable(dealer) for _ in range(5)]
    campaign = services.campaign_create(
        actor=manager,
        dealer_id=dealer.id,
        name="分批",
        template=template,
        audience={"customer_ids": [c.pk for c in customers]},
    )
    seen = []
    real_progress_update = services.messages_queue_bulk

    def spy(**kwargs):
        inner = kwargs["progress"]

        def progress(done, total):
            inner(done, total)
            seen.append(Campaign.objects.values_list("progress", "total").get(pk=campaign.pk))

        return real_progress_update(**{**kwargs, "progress": progress})

    monkeypatch.setattr(services, "messages_queue_bulk", spy)
    services.campaign_queue(campaign_id=campaign.pk, dealer_id=dealer.id)

    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_a_campaign_of_another_dealer_is_not_found(manager, dealer, other_dealer, template):
    campaign = services.campaign_create(
        actor=manager, dealer_id=dealer.id, name="x", template=template, audience={"tags": ["VIP"]}
    )

    with pytest.raises(Campaign.DoesNotExist):
        services.campaign_queue(campaign_id=campaign.pk, dealer_id=other_dealer.id)


def test_campaign_check_counts_without_writing(manager, dealer, template):
    customers = [reachable(dealer), reachable(dealer, consent=False)]
    campaign = services.campaign_create(
        actor=manager,
        dealer_id=dealer.id,
        name="检查",
        template=template,
        audience={"customer_ids": [c.pk for c in customers]},
    )

    report = services.campaign_check(campaign=campaign)

    assert report.counts()["queued"] == 1
    assert report.counts()["no_consent"] == 1
    assert not Message.objects.filter(campaign=campaign).exists()


def test_audience_criteria_must_all_hold_and_tags_are_named_or_given_by_id(dealer, monkeypatch):
    from dealercrm.messaging import selectors

    vip, club = TagFactory(dealer=dealer, name="VIP"), TagFactory(dealer=dealer, name="车友会")
    owner_vip = CustomerFactory(dealer=dealer, lifecycle_stage="owner")
    CustomerTagFactory(customer=owner_vip, tag=vip)
    owner_club = CustomerFactory(dealer=dealer, lifecycle_stage="owner")
    CustomerTagFactory(customer=owner_club, tag=club)
    prospect_vip = CustomerFactory(dealer=dealer, lifecycle_stage="prospect")
    CustomerTagFactory(customer=prospect_vip, tag=vip)
    deleted_vip = CustomerFactory(dealer=dealer, lifecycle_stage="owner", is_deleted=True)
    CustomerTagFactory(customer=deleted_vip, tag=vip)

    def audience(**criteria):
        return selectors.audience_customer_ids(dealer.id, criteria)

    assert audience(tags=["VIP"]) == [owner_vip.pk, prospect_vip.pk]
    assert audience(tags=[club.pk, "VIP"], lifecycle_stages=["owner"]) == [
        owner_vip.pk,
        owner_club.pk,
    ]
    assert audience(tags=["VIP"], customer_ids=[prospect_vip.pk, owner_club.pk]) == [
        prospect_vip.pk
    ]
    assert audience() == []
    # A list too long for one statement is intersected in Python, with the same answer.
    monkeypatch.setattr(selectors, "LISTED_IDS_IN_SQL", 1)
    assert audience(tags=["VIP"], customer_ids=[prospect_vip.pk, owner_club.pk]) == [
        prospect_vip.pk
    ]


def test_a_switched_off_template_is_not_queued(dealer, template):
    template.is_active = False
    template.save()

    with pytest.raises(ValidationError):
        queue(dealer, template, [reachable(dealer)])
