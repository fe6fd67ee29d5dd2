"""Complaint intake: every channel, related records checked against the dealer (a clear message
naming the field, nothing saved), the staff member defaulted from the repair order or order,
new prospects, and the brand hotline routing a complaint to one of its dealers."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, LifecycleStage
from dealercrm.feedback.models import (
    Complaint,
    ComplaintChannel,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintStatus,
)
from dealercrm.feedback.services.intake import complaint_open
from dealercrm.worklist.models import Notice
from tests.core.factories import BrandFactory, DealerFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.sales.factories import LeadFactory, OrderFactory
from tests.service.factories import RepairOrderFactory
from tests.vehicles.factories import VehicleFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 10, 2, 0, tzinfo=datetime.UTC)  # 10:00 in Shanghai


def _kinds(complaint: Complaint) -> list[str]:
    return list(
        ComplaintEvent.objects.filter(complaint=complaint)
        .order_by("at", "id")
        .values_list("kind", flat=True)
    )


@pytest.mark.parametrize(
    "channel",
    ["phone", "walk_in", "wechat", "email", "survey", "care_task"],
)
def test_each_channel_opens_a_complaint_with_both_clocks_and_a_received_step(
    make_user, dealer, channel
):
    # Given a care specialist and a customer of the dealer
    specialist = make_user(Role.CARE_SPECIALIST)
    customer = CustomerFactory(dealer=dealer)

    # When a complaint comes in by this channel
    with time_machine.travel(NOW, tick=False):
        complaint = complaint_open(
            actor=specialist,
            dealer_id=dealer.pk,
            customer_id=customer.pk,
            channel=channel,
            description="保养后异响",
        )

    # Then it is open with the documents' clocks (30 minutes, 24 hours) and one RECEIVED step
    complaint.refresh_from_db()
    assert complaint.channel == channel
    assert complaint.status == ComplaintStatus.OPEN
    assert complaint.response_due_at == NOW + datetime.timedelta(minutes=30)
    assert complaint.solution_due_at == NOW + datetime.timedelta(hours=24)
    assert _kinds(complaint) == [ComplaintEventKind.RECEIVED]


def test_a_repair_order_brings_its_vehicle_model_and_advisor(make_user, dealer):
    # Given a repair order of the dealer received by an advisor
    advisor = make_user(Role.SERVICE_ADVISOR)
    repair_order = RepairOrderFactory(vehicle=VehicleFactory(dealer=dealer), advisor=advisor)

    # When a complaint names only the repair order
    complaint = complaint_open(
        actor=make_user(Role.CARE_SPECIALIST),
        dealer_id=dealer.pk,
        customer_id=repair_order.customer_id,
        channel=ComplaintChannel.PHONE,
        description="洗车没洗干净",
        repair_order_id=repair_order.pk,
    )

    # Then the vehicle, its model and the advisor concerned come from the repair order
    assert complaint.vehicle_id == repair_order.vehicle_id
    assert complaint.car_model_id == repair_order.vehicle.car_model_id
    assert complaint.staff_id == advisor.pk


def test_an_order_brings_its_consultant_and_the_vehicle_its_model(make_user, dealer):
    consultant = make_user(Role.SALES_CONSULTANT)
    order = OrderFactory(lead=LeadFactory(dealer=dealer, consultant=consultant))
    vehicle = VehicleFactory(dealer=dealer, owner=order.customer)

    complaint = complaint_open(
        actor=make_user(Role.CARE_SPECIALIST),
        dealer_id=dealer.pk,
        customer_id=order.customer_id,
        channel=ComplaintChannel.WECHAT,
        category="delivery_delay",
        description="交车一再推迟",
        order_id=order.pk,
        vehicle_id=vehicle.pk,
    )

    assert complaint.order_id == order.pk
    assert complaint.staff_id == consultant.pk
    assert complaint.car_model_id == vehicle.car_model_id


def test_a_handler_chosen_at_intake_is_an_assigned_step(make_user, dealer):
    specialist = make_user(Role.CARE_SPECIALIST)
    complaint = complaint_open(
        actor=make_user(Role.SERVICE_ADVISOR),
        dealer_id=dealer.pk,
        customer_id=CustomerFactory(dealer=dealer).pk,
        channel=ComplaintChannel.WALK_IN,
        description="等待太久",
        handler_id=specialist.pk,
    )
    assert complaint.handler_id == specialist.pk
    assert _kinds(complaint) == [ComplaintEventKind.RECEIVED, ComplaintEventKind.ASSIGNED]


@pytest.mark.parametrize(
    "field",
    ["customer_id", "vehicle_id", "repair_order_id", "order_id", "staff_id", "handler_id"],
)
def test_another_dealers_record_is_refused_naming_the_field_and_nothing_is_saved(
    make_user, dealer, other_dealer, field
):
    # Given records of another dealer of the same brand
    theirs = {
        "customer_id": lambda: CustomerFactory(dealer=other_dealer).pk,
        "vehicle_id": lambda: VehicleFactory(dealer=other_dealer).pk,
        "repair_order_id": lambda: (
            RepairOrderFactory(vehicle=VehicleFactory(dealer=other_dealer)).pk
        ),
        "order_id": lambda: OrderFactory(lead=LeadFactory(dealer=other_dealer)).pk,
        "staff_id": lambda: UserFactory(role=Role.SERVICE_ADVISOR, dealer=other_dealer).pk,
        "handler_id": lambda: UserFactory(role=Role.CARE_SPECIALIST, dealer=other_dealer).pk,
    }[field]()
    values = {"customer_id": CustomerFactory(dealer=dealer).pk, field: theirs}

    # When a complaint names one of them
    with pytest.raises(ValidationError) as caught:
        complaint_open(
            actor=make_user(Role.CARE_SPECIALIST),
            dealer_id=dealer.pk,
            channel=ComplaintChannel.PHONE,
            description="投诉",
            **values,
        )

    # Then the message names that field, and nothing was written
    assert list(caught.value.message_dict) == [field]
    assert not Complaint.objects.exists()
    assert not ComplaintEvent.objects.exists()


def test_a_colleague_who_does_not_handle_complaints_cannot_be_the_handler(make_user, dealer):
    with pytest.raises(ValidationError) as caught:
        complaint_open(
            actor=make_user(Role.CARE_SPECIALIST),
            dealer_id=dealer.pk,
            customer_id=CustomerFactory(dealer=dealer).pk,
            channel=ComplaintChannel.PHONE,
            description="投诉",
            handler_id=make_user(Role.SALES_CONSULTANT).pk,
        )
    assert "handler_id" in caught.value.message_dict


def test_missing_text_and_unknown_choices_are_refused_by_field(make_user, dealer):
    with pytest.raises(ValidationError) as caught:
        complaint_open(
            actor=make_user(Role.CARE_SPECIALIST),
            dealer_id=dealer.pk,
            customer_id=CustomerFactory(dealer=dealer).pk,
            channel="fax",
            category="weather",
            severity="apocalyptic",
            description="  ",
        )
    assert set(caught.value.message_dict) == {"description", "channel", "category", "severity"}
    assert not Complaint.objects.exists()


def test_dealer_staff_record_complaints_for_their_own_dealer_only(make_user, dealer, other_dealer):
    with pytest.raises(PermissionDenied):
        complaint_open(
            actor=make_user(Role.CARE_SPECIALIST),
            dealer_id=other_dealer.pk,
            customer_id=CustomerFactory(dealer=other_dealer).pk,
            channel=ComplaintChannel.PHONE,
            description="投诉",
        )
    assert not Complaint.objects.exists()


def test_a_name_and_phone_record_a_new_prospect_with_the_complaint(make_user, dealer):
    complaint = complaint_open(
        actor=make_user(Role.CARE_SPECIALIST),
        dealer_id=dealer.pk,
        customer_name="王女士",
        customer_phone="13812345678",
        channel=ComplaintChannel.PHONE,
        description="电话一直没人接",
    )
    customer = Customer.objects.get(pk=complaint.customer_id)
    assert customer.name == "王女士" and customer.dealer_id == dealer.pk
    assert customer.lifecycle_stage == LifecycleStage.PROSPECT


def test_a_bad_phone_for_a_new_prospect_saves_neither_customer_nor_complaint(make_user, dealer):
    with pytest.raises(ValidationError) as caught:
        complaint_open(
            actor=make_user(Role.CARE_SPECIALIST),
            dealer_id=dealer.pk,
            customer_name="王女士",
            customer_phone="12",
            channel=ComplaintChannel.PHONE,
            description="电话一直没人接",
        )
    assert "customer_phone" in caught.value.message_dict
    assert not Customer.objects.filter(name="王女士").exists()
    assert not Complaint.objects.exists()


def test_the_same_source_opens_one_complaint(make_user, dealer):
    values = {
        "actor": None,
        "dealer_id": dealer.pk,
        "customer_id": CustomerFactory(dealer=dealer).pk,
        "channel": ComplaintChannel.SURVEY,
        "description": "评分很低",
        "source_kind": "feedback.survey_response",
        "source_id": "7",
    }
    first = complaint_open(**values)
    assert complaint_open(**values).pk == first.pk
    assert Complaint.objects.count() == 1


# --- the brand hotline ------------------------------------------------------------------------


def test_the_brand_hotline_routes_a_complaint_to_the_dealer_and_tells_its_managers(
    make_user, dealer
):
    # Given the OEM's hotline agent, the dealer's manager, care specialist and a consultant
    oem = make_user(Role.OEM_ADMIN)
    manager = make_user(Role.DEALER_MANAGER)
    specialist = make_user(Role.CARE_SPECIALIST)
    consultant = make_user(Role.SALES_CONSULTANT)
    customer = CustomerFactory(dealer=dealer, name="李先生")

    # When the OEM records the complaint for the dealer (whatever channel it sends)
    complaint = complaint_open(
        actor=oem,
        dealer_id=dealer.pk,
        customer_id=customer.pk,
        channel=ComplaintChannel.PHONE,
        description="4S店拒绝保修",
        oem_reference="HL-2026-0042",
    )

    # Then it is a hotline complaint of the dealer with RECEIVED and ROUTED steps
    assert complaint.dealer_id == dealer.pk
    assert complaint.channel == ComplaintChannel.OEM_HOTLINE
    assert complaint.oem_reference == "HL-2026-0042"
    assert _kinds(complaint) == [ComplaintEventKind.RECEIVED, ComplaintEventKind.ROUTED]
    # And the managers and care specialists have a notice; the consultant none
    told = set(
        Notice.objects.filter(
            source_kind="feedback.complaint", source_id=str(complaint.pk)
        ).values_list("recipient_id", flat=True)
    )
    assert told == {manager.pk, specialist.pk}
    assert consultant.pk not in told


def test_the_hotline_of_another_brand_is_refused(dealer):
    other_brand_oem = UserFactory(
        role=Role.OEM_ADMIN, dealer=None, brand=BrandFactory(code="nova", name="新星汽车")
    )
    with pytest.raises(ValidationError) as caught:
        complaint_open(
            actor=other_brand_oem,
            dealer_id=dealer.pk,
            customer_id=CustomerFactory(dealer=dealer).pk,
            channel=ComplaintChannel.OEM_HOTLINE,
            description="投诉",
        )
    assert "dealer_id" in caught.value.message_dict
    assert not Complaint.objects.exists()


def test_the_hotline_creates_a_prospect_at_the_chosen_dealer(make_user, brand):
    # Given a second dealer of the brand
    second = DealerFactory(brand=brand, name="杭州极光4S店")
    complaint = complaint_open(
        actor=make_user(Role.OEM_ADMIN),
        dealer_id=second.pk,
        customer_name="赵先生",
        customer_phone="13912345678",
        channel="",
        description="试驾车况差",
    )
    assert Customer.objects.get(pk=complaint.customer_id).dealer_id == second.pk
    assert complaint.created_at <= timezone.now()
