"""Survey triggers, sending through messaging, expiry and ad-hoc lists."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.feedback.models import (
    ComplaintStatus,
    InvitationStatus,
    SurveyChannel,
    SurveyInvitation,
    SurveyKind,
    SurveySettings,
)
from dealercrm.feedback.services.invitations import (
    survey_invitations_expire,
    survey_invitations_schedule,
    survey_invitations_send_due,
    survey_list_send,
)
from dealercrm.messaging.models import Message, Purpose
from dealercrm.sales.models import OrderStage
from dealercrm.service.models import RepairOrderStatus
from tests.customers.factories import ConsentFactory, CustomerFactory, CustomerPhoneFactory
from tests.feedback.factories import ComplaintFactory, make_invitation, make_questionnaire
from tests.sales.factories import OrderFactory
from tests.service.factories import RepairOrderFactory
from tests.vehicles.factories import VehicleFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def service_survey(dealer):
    return make_questionnaire(brand=dealer.brand, kind=SurveyKind.AFTER_SERVICE)


def _closed_repair_order(dealer, *, closed_at, phone=True, **kwargs):
    vehicle = VehicleFactory(dealer=dealer)
    if phone:
        CustomerPhoneFactory(customer=vehicle.owner)
    return RepairOrderFactory(
        vehicle=vehicle,
        status=RepairOrderStatus.CLOSED,
        opened_at=closed_at - datetime.timedelta(hours=2),
        closed_at=closed_at,
        **kwargs,
    )


def test_a_closed_repair_order_is_surveyed_a_few_hours_later_not_before(
    dealer, service_survey, clock, make_user
):
    # Given a repair order closed at 11:00 by an advisor; the default delay is 3 hours
    advisor = make_user(Role.SERVICE_ADVISOR)
    ro = _closed_repair_order(dealer, closed_at=NOON - datetime.timedelta(hours=1), advisor=advisor)

    # When the jobs run at noon
    report = survey_invitations_schedule(dealer_ids=[dealer.pk])
    sent = survey_invitations_send_due(dealer_ids=[dealer.pk])

    # Then one invitation waits until 14:00, with the advisor, vehicle and model, and no message
    assert report.kind(SurveyKind.AFTER_SERVICE).created == 1
    invitation = SurveyInvitation.objects.get()
    assert invitation.source_kind == "service.repair_order"
    assert invitation.source_id == str(ro.pk)
    assert invitation.kind == SurveyKind.AFTER_SERVICE
    assert invitation.version_id == service_survey.current_version_id
    assert invitation.advisor_id == advisor.pk
    assert invitation.vehicle_id == ro.vehicle_id
    assert invitation.car_model_id == ro.vehicle.car_model_id
    assert invitation.send_at == NOON + datetime.timedelta(hours=2)
    assert invitation.expires_at == invitation.send_at + datetime.timedelta(days=7)
    assert invitation.status == InvitationStatus.SCHEDULED
    assert sent.sent == 0
    assert not Message.objects.exists()

    # When the send job runs after 14:00
    clock.move_to(NOON + datetime.timedelta(hours=2, minutes=5))
    sent = survey_invitations_send_due(dealer_ids=[dealer.pk])

    # Then a real message is queued for survey invitations, with the personal link
    assert sent.sent == 1
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT
    assert invitation.sent_at is not None
    message = Message.objects.get(pk=invitation.message_id)
    assert message.purpose == Purpose.SURVEY_INVITATION
    assert message.source_kind == Message.SourceKind.SURVEY
    assert message.source_id == str(invitation.pk)
    assert "/s/" in message.body


def test_the_link_in_the_message_opens_the_survey_page(dealer, service_survey, clock, client):
    # Given an invitation sent through messaging
    _closed_repair_order(dealer, closed_at=NOON - datetime.timedelta(hours=5))
    survey_invitations_schedule(dealer_ids=[dealer.pk])
    survey_invitations_send_due(dealer_ids=[dealer.pk])
    message = Message.objects.get()

    # When the customer opens the link of the message
    link = re.search(r"https?://\S+/s/([A-Za-z0-9_\-]+)/", message.body)
    assert link is not None
    page = client.get(reverse("surveys_public:answer", kwargs={"survey_token": link.group(1)}))

    # Then the survey page opens (the stored hash is the one of the link's token)
    assert page.status_code == 200
    assert service_survey.title in page.content.decode()


def test_a_delivery_is_surveyed_with_the_consultant_after_its_delay(dealer, clock, consultant):
    # Given a car delivered yesterday by the consultant's lead
    make_questionnaire(brand=dealer.brand, kind=SurveyKind.AFTER_DELIVERY, title="交车满意度")
    order = OrderFactory(
        lead__dealer=dealer,
        lead__consultant=consultant,
        stage=OrderStage.DELIVERED,
        delivered_on=NOON.date() - datetime.timedelta(days=1),
    )
    CustomerPhoneFactory(customer=order.customer)

    # When the jobs run
    report = survey_invitations_schedule(dealer_ids=[dealer.pk])
    sent = survey_invitations_send_due(dealer_ids=[dealer.pk])

    # Then the invitation follows the order (24 h after the hand-over) and is sent
    assert report.kind(SurveyKind.AFTER_DELIVERY).created == 1
    invitation = SurveyInvitation.objects.get()
    assert (invitation.source_kind, invitation.source_id) == ("sales.order", str(order.pk))
    assert invitation.consultant_id == consultant.pk
    assert invitation.car_model_id == order.car_model_id
    assert invitation.send_at == NOON
    assert sent.sent == 1


def test_a_closed_complaint_is_surveyed_after_its_delay(dealer, clock):
    # Given a complaint closed 25 hours ago (the default delay: 24 hours)
    make_questionnaire(brand=dealer.brand, kind=SurveyKind.AFTER_COMPLAINT, title="投诉回访")
    complaint = ComplaintFactory(
        dealer=dealer,
        customer=CustomerFactory(dealer=dealer),
        status=ComplaintStatus.CLOSED,
        closed_at=NOON - datetime.timedelta(hours=25),
    )
    CustomerPhoneFactory(customer=complaint.customer)

    # When the jobs run
    survey_invitations_schedule(dealer_ids=[dealer.pk])
    sent = survey_invitations_send_due(dealer_ids=[dealer.pk])

    # Then
    invitation = SurveyInvitation.objects.get()
    assert invitation.source_kind == "feedback.complaint"
    assert invitation.kind == SurveyKind.AFTER_COMPLAINT
    assert sent.sent == 1


def test_a_second_run_creates_nothing(dealer, service_survey, clock, django_assert_max_num_queries):
    # Given two closed repair orders, scheduled once
    for _ in range(2):
        _closed_repair_order(dealer, closed_at=NOON - datetime.timedelta(hours=1))
    first = survey_invitations_schedule(dealer_ids=[dealer.pk])

    # When it runs again
    with django_assert_max_num_queries(15):
        second = survey_invitations_schedule(dealer_ids=[dealer.pk])

    # Then nothing new: the two are already invited (not counted as fatigue)
    assert first.created == 2
    assert second.created == 0
    assert second.kind(SurveyKind.AFTER_SERVICE).already_invited == 2
    assert second.fatigue_skipped == 0
    assert SurveyInvitation.objects.count() == 2


def test_a_customer_surveyed_recently_for_the_same_kind_is_skipped(dealer, service_survey, clock):
    # Given a customer asked about a service 10 days ago, and a new repair order of theirs
    ro = _closed_repair_order(dealer, closed_at=NOON - datetime.timedelta(hours=1))
    make_invitation(
        questionnaire=service_survey,
        customer=ro.customer,
        created_at=NOON - datetime.timedelta(days=10),
    )

    # When the triggers run
    report = survey_invitations_schedule(dealer_ids=[dealer.pk])

    # Then the customer is not asked again, and the skip is counted
    assert report.created == 0
    assert report.fatigue_skipped == 1
    assert not SurveyInvitation.objects.filter(source_kind="service.repair_order").exists()


def test_a_switched_off_trigger_or_a_missing_questionnaire_schedules_nothing(dealer, clock):
    # Given a closed repair order, no questionnaire for service and the delivery trigger off
    _closed_repair_order(dealer, closed_at=NOON - datetime.timedelta(hours=1))
    SurveySettings.objects.create(dealer=dealer, after_delivery=False)

    # When
    report = survey_invitations_schedule(dealer_ids=[dealer.pk])

    # Then the missing questionnaire is reported
    assert report.created == 0
    assert report.kind(SurveyKind.AFTER_SERVICE).no_questionnaire == 1
    assert SurveyKind.AFTER_DELIVERY not in report.kinds

    # And with the service trigger off, nothing is even looked at
    SurveySettings.objects.filter(dealer=dealer).update(after_service=False)
    assert survey_invitations_schedule(dealer_ids=[dealer.pk]).kinds == {
        SurveyKind.AFTER_COMPLAINT: report.kinds[SurveyKind.AFTER_COMPLAINT]
    }


def test_events_older_than_the_look_back_are_not_surveyed(dealer, service_survey, clock):
    _closed_repair_order(dealer, closed_at=NOON - datetime.timedelta(days=8))
    assert survey_invitations_schedule(dealer_ids=[dealer.pk]).created == 0


def test_no_phone_number_leaves_the_invitation_not_sent_with_the_reason(
    dealer, service_survey, clock, english
):
    # Given a repair order of a customer without a phone number
    _closed_repair_order(dealer, closed_at=NOON - datetime.timedelta(hours=4), phone=False)
    survey_invitations_schedule(dealer_ids=[dealer.pk])

    # When the send job runs
    report = survey_invitations_send_due(dealer_ids=[dealer.pk])

    # Then not sent, with messaging's reason; no message
    invitation = SurveyInvitation.objects.get()
    assert report.not_sent == 1
    assert invitation.status == InvitationStatus.NOT_SENT
    assert invitation.failure
    assert not Message.objects.exists()


def test_a_withdrawn_channel_leaves_the_invitation_not_sent(dealer, service_survey, clock, english):
    # Given a customer who withdrew SMS consent
    ro = _closed_repair_order(dealer, closed_at=NOON - datetime.timedelta(hours=4))
    ConsentFactory(customer=ro.customer, channel="sms", granted=False)
    survey_invitations_schedule(dealer_ids=[dealer.pk])

    # When
    survey_invitations_send_due(dealer_ids=[dealer.pk])

    # Then
    invitation = SurveyInvitation.objects.get()
    assert invitation.status == InvitationStatus.NOT_SENT
    assert "withdrawn consent for SMS" in invitation.failure
    assert not Message.objects.exists()


def test_a_retry_never_sends_twice(dealer, service_survey, clock):
    # Given a sent invitation that a crash left "scheduled" after its message was written
    _closed_repair_order(dealer, closed_at=NOON - datetime.timedelta(hours=4))
    survey_invitations_schedule(dealer_ids=[dealer.pk])
    survey_invitations_send_due(dealer_ids=[dealer.pk])
    invitation = SurveyInvitation.objects.get()
    token_hash = invitation.token_hash
    SurveyInvitation.objects.filter(pk=invitation.pk).update(status=InvitationStatus.SCHEDULED)

    # When the send job runs again
    survey_invitations_send_due(dealer_ids=[dealer.pk])

    # Then one message; the link in it still works (same token)
    invitation.refresh_from_db()
    assert Message.objects.count() == 1
    assert invitation.status == InvitationStatus.SENT
    assert invitation.token_hash == token_hash


def test_unanswered_links_expire(dealer, service_survey, clock):
    # Given one link expired an hour ago, one still valid and one answered
    customer = CustomerFactory(dealer=dealer)
    old, _t = make_invitation(
        questionnaire=service_survey, customer=customer, expires_in=datetime.timedelta(hours=-1)
    )
    fresh, _t = make_invitation(questionnaire=service_survey, customer=customer)
    answered, _t = make_invitation(
        questionnaire=service_survey,
        customer=customer,
        status=InvitationStatus.ANSWERED,
        expires_in=datetime.timedelta(hours=-1),
    )

    # When
    assert survey_invitations_expire() == 1

    # Then
    statuses = dict(SurveyInvitation.objects.values_list("pk", "status"))
    assert statuses == {
        old.pk: InvitationStatus.EXPIRED,
        fresh.pk: InvitationStatus.SENT,
        answered.pk: InvitationStatus.ANSWERED,
    }


def test_an_ad_hoc_list_invites_now_and_leaves_out_those_asked_recently(
    dealer, service_survey, clock, manager
):
    # Given three customers with phones, one asked 5 days ago, and another dealer's customer
    customers = [CustomerPhoneFactory(customer__dealer=dealer).customer for _ in range(3)]
    make_invitation(
        questionnaire=service_survey,
        customer=customers[0],
        created_at=NOON - datetime.timedelta(days=5),
    )
    stranger = CustomerFactory()

    # When the manager sends the service questionnaire by SMS to all four
    report = survey_list_send(
        actor=manager,
        dealer_id=dealer.pk,
        customer_ids=[c.pk for c in customers] + [stranger.pk],
        channel=SurveyChannel.SMS,
        kind=SurveyKind.AFTER_SERVICE,
    )

    # Then two invitations are sent at once; the other two are counted, not invited
    assert (report.created, report.sent, report.fatigue_skipped, report.unknown) == (2, 2, 1, 1)
    listed = SurveyInvitation.objects.filter(source_kind="feedback.survey_list")
    assert {i.customer_id for i in listed} == {customers[1].pk, customers[2].pk}
    assert all(i.kind == SurveyKind.AD_HOC and i.created_by_id == manager.pk for i in listed)
    assert Message.objects.count() == 2


def test_an_ad_hoc_phone_list_makes_invitations_to_call_without_messages(
    dealer, service_survey, clock, manager
):
    customer = CustomerPhoneFactory(customer__dealer=dealer).customer
    report = survey_list_send(
        actor=manager,
        dealer_id=dealer.pk,
        customer_ids=[customer.pk],
        channel=SurveyChannel.PHONE,
        questionnaire_version_id=service_survey.current_version_id,
    )
    assert (report.created, report.phone, report.sent) == (1, 1, 0)
    invitation = SurveyInvitation.objects.get()
    assert invitation.channel == SurveyChannel.PHONE
    assert invitation.status == InvitationStatus.SCHEDULED
    assert not Message.objects.exists()


def test_an_ad_hoc_list_refuses_bad_input_naming_the_field(dealer, other_dealer, clock, manager):
    other = make_questionnaire(brand=other_dealer.brand, dealer=other_dealer)
    with pytest.raises(ValidationError) as error:
        survey_list_send(
            actor=manager,
            dealer_id=dealer.pk,
            customer_ids=[],
            channel="pigeon",
            questionnaire_version_id=other.current_version_id,
        )
    assert set(error.value.message_dict) == {
        "channel",
        "customer_ids",
        "questionnaire_version_id",
    }
    assert not SurveyInvitation.objects.exists()


# --- pages and API ---------------------------------------------------------------------------


def test_the_invitation_list_filters_and_lists_phone_surveys_to_call(
    client_for, manager, dealer, service_survey, clock, english, django_assert_max_num_queries
):
    # Given an SMS invitation sent and two phone invitations waiting for a call
    sms = [CustomerPhoneFactory(customer__dealer=dealer).customer for _ in range(2)]
    survey_list_send(
        actor=manager,
        dealer_id=dealer.pk,
        customer_ids=[c.pk for c in sms],
        channel=SurveyChannel.SMS,
        kind=SurveyKind.AFTER_SERVICE,
    )
    phone = [CustomerPhoneFactory(customer__dealer=dealer).customer for _ in range(2)]
    survey_list_send(
        actor=manager,
        dealer_id=dealer.pk,
        customer_ids=[c.pk for c in phone],
        channel=SurveyChannel.PHONE,
        kind=SurveyKind.AFTER_SERVICE,
    )
    client = client_for(manager)
    client.get(reverse("surveys:invitation_list"))  # warm the session

    # When the list is shown (all, then to call)
    with django_assert_max_num_queries(12):
        everything = client.get(reverse("surveys:invitation_list"))
    to_call = client.get(reverse("surveys:invitation_list") + "?show=to_call")

    # Then all four; the phone ones with "enter by phone"
    assert everything.content.decode().count("data-invitation=") == 4
    body = to_call.content.decode()
    assert body.count("data-invitation=") == 2
    assert body.count("data-enter-by-phone") == 2
    for customer in phone:
        assert customer.name in body
    assert "****" in body  # phones masked


def test_the_invitation_page_shows_the_message_status_and_links(
    client_for, manager, dealer, service_survey, clock, english
):
    # Given an invitation sent by SMS
    customer = CustomerPhoneFactory(customer__dealer=dealer).customer
    report = survey_list_send(
        actor=manager,
        dealer_id=dealer.pk,
        customer_ids=[customer.pk],
        channel=SurveyChannel.SMS,
        kind=SurveyKind.AFTER_SERVICE,
    )
    (invitation_id,) = report.invitation_ids

    # When the manager opens it
    page = client_for(manager).get(reverse("surveys:invitation", args=[invitation_id]))

    # Then its message's status is there, and no link token
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-message-status="queued"' in body
    assert "/s/" not in body


def test_the_send_page_counts_then_invites_the_chosen_customers(
    client_for, manager, dealer, service_survey, clock, english
):
    manager.language = "en"  # the page read in English
    manager.save(update_fields=["language"])
    # Given two owners and a prospect
    owners = [
        CustomerPhoneFactory(customer__dealer=dealer, customer__lifecycle_stage="owner").customer
        for _ in range(2)
    ]
    CustomerFactory(dealer=dealer, lifecycle_stage="prospect")
    client = client_for(manager)
    url = reverse("surveys:send")
    assert client.get(url).status_code == 200
    form = {
        "lifecycle_stages": ["owner"],
        "version": str(service_survey.current_version_id),
        "channel": SurveyChannel.SMS,
    }

    # When the manager counts, then sends
    preview = client.post(url, {**form, "preview": "1"})
    sent = client.post(url, form)

    # Then two match, two are invited and sent
    assert "2 customers match." in preview.content.decode()
    assert not SurveyInvitation.objects.filter(created_at__lt=NOON).exists()
    assert sent.status_code == 302
    assert set(SurveyInvitation.objects.values_list("customer_id", flat=True)) == {
        o.pk for o in owners
    }
    assert Message.objects.count() == 2


def test_the_send_page_refuses_a_list_without_a_filter(
    client_for, manager, service_survey, english
):
    manager.language = "en"  # the page read in English
    manager.save(update_fields=["language"])
    answer = client_for(manager).post(
        reverse("surveys:send"),
        {"version": str(service_survey.current_version_id), "channel": SurveyChannel.SMS},
    )
    assert answer.status_code == 200
    assert "Choose at least one tag, lifecycle stage or service date." in answer.content.decode()
    assert not SurveyInvitation.objects.exists()


def test_the_api_sends_a_list_and_reads_the_invitations(
    client_for, manager, dealer, service_survey, clock, english
):
    import json

    customer = CustomerPhoneFactory(customer__dealer=dealer).customer
    client = client_for(manager)
    created = client.post(
        "/api/feedback/survey-invitations",
        data=json.dumps(
            {"customer_ids": [customer.pk], "channel": "sms", "kind": SurveyKind.AFTER_SERVICE}
        ),
        content_type="application/json",
    )
    assert created.status_code == 201
    assert (created.json()["created"], created.json()["sent"]) == (1, 1)
    (invitation_id,) = created.json()["invitation_ids"]

    listed = client.get("/api/feedback/survey-invitations?status=sent")
    assert [row["id"] for row in listed.json()] == [invitation_id]
    one = client.get(f"/api/feedback/survey-invitations/{invitation_id}")
    assert one.json()["message_status"] == "queued"
    assert one.json()["customer_phone"].count("*") == 4

    bad = client.post(
        "/api/feedback/survey-invitations",
        data=json.dumps({"customer_ids": [customer.pk], "channel": "fax", "kind": "service"}),
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert "channel" in json.dumps(bad.json())


def test_the_periodic_jobs_schedule_send_and_expire_and_can_run_twice(
    dealer, service_survey, clock
):
    from dealercrm.feedback.survey_jobs import survey_hourly_job, survey_invitations_job

    # Given a repair order closed four hours ago
    _closed_repair_order(dealer, closed_at=NOON - datetime.timedelta(hours=4))

    # When the 10-minute job runs twice
    first = survey_invitations_job.call_local()
    second = survey_invitations_job.call_local()

    # Then one invitation, one message
    assert first["scheduled"]["created"] == 1 and first["sent"]["sent"] == 1
    assert second["scheduled"]["created"] == 0 and second["sent"]["sent"] == 0
    assert Message.objects.count() == 1

    # And eight days later the hourly job expires the unanswered link
    clock.move_to(NOON + datetime.timedelta(days=8))
    assert survey_hourly_job.call_local() == {"expired": 1, "alerted": 0}
    assert SurveyInvitation.objects.get().status == InvitationStatus.EXPIRED


def test_sending_counts_the_invitations_for_the_response_rate(dealer, service_survey, clock):
    # Given an invitation scheduled after a repair order closed
    from dealercrm.feedback.models import SurveyScoreRollup

    _closed_repair_order(dealer, closed_at=NOON - datetime.timedelta(hours=4))
    survey_invitations_schedule(dealer_ids=[dealer.pk])
    # When the send job sends it
    report = survey_invitations_send_due(dealer_ids=[dealer.pk])
    # Then it is counted in the rollup's "invited" rows at once (the response rate's denominator)
    assert report.sent == 1
    invited = SurveyScoreRollup.objects.filter(
        dealer=dealer, question_kind="invited", consultant_id=-1, advisor_id=-1, car_model_id=-1
    )
    assert sum(invited.values_list("answers", flat=True)) == 1
