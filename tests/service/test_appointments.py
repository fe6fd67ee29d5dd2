"""Booking service appointments: opening hours, capacity, bays (no double booking), the past,
idempotence by source, cancel / move / no-show / arrive, the confirmation message."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import translation

from dealercrm.bookings.models import Booking, BookingStatus
from dealercrm.core.permissions import Role
from dealercrm.messaging.models import Message, Purpose
from dealercrm.service.models import (
    Appointment,
    AppointmentChannel,
    AppointmentStatus,
    RepairOrder,
    ServicePolicy,
)
from dealercrm.service.selectors.appointments import free_slots
from dealercrm.service.services.appointments import (
    appointment_arrive,
    appointment_cancel,
    appointment_create,
    appointment_move,
    appointment_no_show,
)
from dealercrm.service.services.policy import policy_for_dealer, service_policy_update
from tests.customers.factories import CustomerPhoneFactory
from tests.messaging.factories import MessageTemplateFactory
from tests.service.factories import (
    WORKSHOP_NOW,
    WORKSHOP_TOMORROW,
    LoanCarFactory,
    ServiceBayFactory,
    workshop_at,
)
from tests.vehicles.factories import VehicleFactory

at = workshop_at
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock_in_english():
    with time_machine.travel(WORKSHOP_NOW, tick=False), translation.override("en"):
        yield


@pytest.fixture
def advisor(make_user):
    return make_user(Role.SERVICE_ADVISOR, language="en")


@pytest.fixture
def bay(dealer):
    return ServiceBayFactory(dealer=dealer, name="工位1")


@pytest.fixture
def car(dealer):
    return VehicleFactory(dealer=dealer)


def book(car, start, **kwargs):
    kwargs.setdefault("channel", AppointmentChannel.PHONE)
    return appointment_create(
        actor=kwargs.pop("actor", None),
        customer=car.owner,
        vehicle=car,
        starts_at=start,
        **kwargs,
    )


def error_of(exc_info, field="starts_at") -> str:
    return " ".join(exc_info.value.message_dict[field])


def test_a_booking_holds_the_first_free_bay_for_one_slot(bay, car, advisor):
    # When an appointment is booked with no bay chosen
    appointment = book(car, at(10), advisor=advisor, concern="保养")
    # Then it lasts one slot (the policy's 60 minutes) and holds the bay through bookings
    assert appointment.ends_at == at(11)
    assert appointment.status == AppointmentStatus.BOOKED
    booking = appointment.bay_booking
    assert booking.resource == bay
    assert (booking.starts_at, booking.ends_at) == (at(10), at(11))
    assert booking.source_kind == "service.appointment"
    assert booking.source_id == str(appointment.pk)


def test_the_second_booking_of_a_slot_takes_the_next_bay(dealer, bay):
    second_bay = ServiceBayFactory(dealer=dealer, name="工位2")
    first = book(VehicleFactory(dealer=dealer), at(10))
    second = book(VehicleFactory(dealer=dealer), at(10))
    assert first.bay_booking.resource == bay
    assert second.bay_booking.resource == second_bay


def test_a_slot_with_every_bay_booked_is_refused_naming_the_time(dealer, bay, car):
    book(VehicleFactory(dealer=dealer), at(10))
    with pytest.raises(ValidationError) as exc_info:
        book(car, at(10, 30))
    assert "All 1 bays are booked 10:30–11:30" in error_of(exc_info)
    assert Appointment.objects.count() == 1


def test_back_to_back_appointments_on_one_bay_are_allowed(dealer, bay, car):
    book(VehicleFactory(dealer=dealer), at(10))
    appointment = book(car, at(11))
    assert appointment.bay_booking.resource == bay


def test_a_time_before_opening_or_after_closing_is_refused(bay, car):
    with pytest.raises(ValidationError) as early:
        book(car, at(8))
    assert "from 08:30 to 17:30" in error_of(early)
    with pytest.raises(ValidationError) as late:
        book(car, at(17))  # ends 18:00, after closing
    assert "17:00–18:00 is outside these hours" in error_of(late)
    assert not Appointment.objects.exists()


def test_a_day_the_workshop_is_closed_is_refused(dealer, bay, car):
    ServicePolicy.objects.create(dealer=dealer, open_weekdays=[0, 1, 2, 3, 4])
    saturday = datetime.date(2026, 3, 14)
    with pytest.raises(ValidationError) as exc_info:
        book(car, at(10, day=saturday))
    assert "closed on Saturday" in error_of(exc_info)


def test_a_time_in_the_past_is_refused(bay, car):
    with pytest.raises(ValidationError) as exc_info:
        book(car, at(7, day=datetime.date(2026, 3, 9)))
    assert "has passed" in error_of(exc_info)


def test_the_day_over_capacity_is_refused_and_another_day_is_not(dealer, car):
    ServicePolicy.objects.create(dealer=dealer, daily_capacity=2)
    for n in range(3):
        ServiceBayFactory(dealer=dealer, name=f"B{n}")
    book(VehicleFactory(dealer=dealer), at(9))
    book(VehicleFactory(dealer=dealer), at(10))
    with pytest.raises(ValidationError) as exc_info:
        book(car, at(11))
    assert "2026-03-11 is fully booked" in error_of(exc_info)
    assert "takes 2 appointments a day and 2 are booked" in error_of(exc_info)
    assert book(car, at(11, day=WORKSHOP_TOMORROW + datetime.timedelta(days=1))).pk


def test_a_cancelled_appointment_frees_its_place_of_the_day(dealer, bay, car):
    ServicePolicy.objects.create(dealer=dealer, daily_capacity=1)
    first = book(VehicleFactory(dealer=dealer), at(9))
    appointment_cancel(actor=None, appointment=first, reason="客户有事")
    assert book(car, at(9)).pk


def test_a_car_of_another_customer_is_refused(dealer, bay, car):
    other = VehicleFactory(dealer=dealer)
    with pytest.raises(ValidationError) as exc_info:
        appointment_create(
            actor=None,
            customer=car.owner,
            vehicle=other,
            starts_at=at(10),
            channel=AppointmentChannel.PHONE,
        )
    assert "is not a car of" in error_of(exc_info, "vehicle")


def test_no_bays_at_all_is_refused_with_what_to_do(car):
    with pytest.raises(ValidationError) as exc_info:
        book(car, at(10))
    assert "no service bays" in error_of(exc_info, "bay")


def test_the_same_source_returns_the_existing_appointment(bay, car):
    first = book(car, at(10), source_kind="care.occurrence", source_id="42")
    again = book(car, at(14), source_kind="care.occurrence", source_id="42")
    assert again.pk == first.pk
    assert Appointment.objects.count() == 1
    assert Booking.objects.count() == 1


def test_cancel_frees_the_bay_and_the_loan_car(dealer, bay, car):
    loan = LoanCarFactory(dealer=dealer)
    appointment = book(car, at(10), loan_car=loan)
    appointment_cancel(actor=None, appointment=appointment, reason="改天")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancel_reason == "改天"
    assert set(Booking.objects.values_list("status", flat=True)) == {BookingStatus.CANCELLED}
    # The slot can be booked again
    assert book(VehicleFactory(dealer=dealer), at(10), loan_car=loan).bay_booking.resource == bay


def test_a_loan_car_already_lent_is_refused_on_the_loan_car(dealer, bay, car):
    ServiceBayFactory(dealer=dealer, name="工位2")
    loan = LoanCarFactory(dealer=dealer)
    book(VehicleFactory(dealer=dealer), at(10), loan_car=loan)
    with pytest.raises(ValidationError) as exc_info:
        book(car, at(10), loan_car=loan)
    assert "is booked 10:00–11:00" in error_of(exc_info, "loan_car")


def test_move_keeps_the_bay_when_free_and_refuses_a_full_slot(dealer, bay, car):
    appointment = book(car, at(10))
    appointment_move(actor=None, appointment=appointment, starts_at=at(14))
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.ends_at) == (at(14), at(15))
    booking = Booking.objects.get(pk=appointment.bay_booking_id)
    assert (booking.resource_id, booking.starts_at, booking.status) == (bay.pk, at(14), "active")
    book(VehicleFactory(dealer=dealer), at(16))
    with pytest.raises(ValidationError) as exc_info:
        appointment_move(actor=None, appointment=appointment, starts_at=at(16))
    assert "All 1 bays are booked" in error_of(exc_info)


def test_no_show_only_once_the_time_has_begun(bay, car):
    appointment = book(car, at(10))
    with pytest.raises(ValidationError):
        appointment_no_show(actor=None, appointment=appointment)
    with time_machine.travel(at(10, 30), tick=False):
        appointment_no_show(actor=None, appointment=appointment)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.NO_SHOW
    assert Booking.objects.get().status == BookingStatus.CANCELLED


def test_arrival_opens_the_repair_order_once(bay, car, advisor):
    appointment = book(car, at(10), advisor=advisor, concern="异响")
    with time_machine.travel(at(9, 50), tick=False):
        repair_order = appointment_arrive(actor=advisor, appointment=appointment, mileage_km=12000)
        again = appointment_arrive(actor=advisor, appointment=appointment)
    assert again.pk == repair_order.pk
    assert RepairOrder.objects.count() == 1
    assert repair_order.appointment_id == appointment.pk
    assert (repair_order.vehicle_id, repair_order.customer_id) == (car.pk, car.owner_id)
    assert repair_order.customer_concern == "异响"
    assert repair_order.mileage_km == 12000
    assert repair_order.advisor == advisor
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.ARRIVED


def test_the_confirmation_is_sent_when_the_dealer_has_a_template(dealer, bay, car):
    CustomerPhoneFactory(customer=car.owner, number="+8613812341234", is_primary=True)
    MessageTemplateFactory(
        dealer=dealer,
        purpose=Purpose.APPOINTMENT_CONFIRMATION,
        body="{{ salutation }}，您已预约 {{ appointment_time }} 到店保养。",
    )
    appointment = book(car, at(10))
    message = Message.objects.get()
    assert message.source_kind == Message.SourceKind.SERVICE
    assert message.source_id == f"appointment:{appointment.pk}:confirmation"
    assert "2026-03-11 10:00" in message.body


def test_no_template_means_no_message_and_no_error(bay, car):
    CustomerPhoneFactory(customer=car.owner, number="+8613812341234", is_primary=True)
    assert book(car, at(10)).pk
    assert not Message.objects.exists()


def test_free_slots_count_the_free_bays_of_each_slot(dealer, bay, car):
    ServiceBayFactory(dealer=dealer, name="工位2")
    book(car, at(10))
    slots = {start: free for start, _end, free in free_slots(dealer.pk, WORKSHOP_TOMORROW)}
    assert slots[at(9, 30)] == 1  # 09:30–10:30 overlaps the 10:00 booking on one bay
    assert slots[at(8, 30)] == 2
    assert at(16, 30) in slots and at(17, 30) not in slots


def test_free_slots_of_a_full_day_are_none(dealer, bay, car):
    ServicePolicy.objects.create(dealer=dealer, daily_capacity=1)
    book(car, at(10))
    assert free_slots(dealer.pk, WORKSHOP_TOMORROW) == []


def test_policy_defaults_without_a_row_and_checked_updates(dealer, make_user):
    policy = policy_for_dealer(dealer.pk)
    assert policy.pk is None and policy.daily_capacity == 40
    manager = make_user(Role.DEALER_MANAGER, language="en")
    with pytest.raises(ValidationError) as exc_info:
        service_policy_update(
            actor=manager,
            dealer_id=dealer.pk,
            opens_at=datetime.time(18),
            closes_at=datetime.time(9),
            daily_capacity=0,
        )
    errors = exc_info.value.message_dict
    assert errors["closes_at"] == ["The workshop must close after it opens."]
    assert errors["daily_capacity"] == ["Enter a number from 1 to 1000."]
    service_policy_update(actor=manager, dealer_id=dealer.pk, daily_capacity=12)
    assert policy_for_dealer(dealer.pk).daily_capacity == 12
