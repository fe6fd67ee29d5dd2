"""Booking a test drive, the licence check, the outcome, cancel and no-show."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from dealercrm.bookings.models import Booking, BookingStatus
from dealercrm.sales.models import LeadStage, SalesPolicy, TestDrive, TestDriveStatus
from dealercrm.sales.services import test_drives as svc
from tests.sales.factories import DemoCarFactory, LeadFactory
from tests.sales.test_drives.conftest import TODAY, TOMORROW, at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def book(lead, car, start, **kwargs):
    return svc.test_drive_book(
        actor=lead.consultant, lead=lead, demo_car=car, starts_at=start, **kwargs
    )


# --- booking ----------------------------------------------------------------------------------


def test_booking_holds_the_car_for_the_dealers_test_drive_length(lead, car, dealer):
    SalesPolicy.objects.create(dealer=dealer, test_drive_minutes=45)
    test_drive = book(lead, car, at(10), pickup=True, pickup_address="浦东新区世纪大道100号")
    assert test_drive.ends_at == at(10, 45)
    assert test_drive.status == TestDriveStatus.SCHEDULED
    assert test_drive.consultant_id == lead.consultant_id
    booking = Booking.objects.get(pk=test_drive.booking_id)
    assert (booking.resource_id, booking.starts_at, booking.ends_at) == (car.pk, at(10), at(10, 45))
    assert (booking.source_kind, booking.source_id) == ("sales.test_drive", str(test_drive.pk))
    assert booking.customer_id == lead.customer_id


def test_a_taken_slot_is_refused_with_the_reason_and_nothing_saved(lead, car, dealer, consultant):
    book(lead, car, at(10))
    other = LeadFactory(dealer=dealer, consultant=consultant)
    with pytest.raises(ValidationError) as exc_info:
        book(other, car, at(10, 30))
    assert (
        "试驾车 1 is booked 10:00–11:00 on 2026-03-11 (张先生)"
        in (exc_info.value.message_dict["starts_at"][0])
    )
    assert TestDrive.objects.count() == 1
    assert Booking.objects.count() == 1


def test_back_to_back_test_drives_are_fine(lead, car, dealer, consultant):
    book(lead, car, at(10))
    book(LeadFactory(dealer=dealer, consultant=consultant), car, at(11))
    assert TestDrive.objects.count() == 2


def test_a_test_drive_in_the_past_is_refused(lead, car):
    with pytest.raises(ValidationError) as exc_info:
        book(lead, car, at(7, day=TODAY))
    assert "in the past" in exc_info.value.message_dict["starts_at"][0]
    assert not TestDrive.objects.exists() and not Booking.objects.exists()


def test_another_dealers_demo_car_is_not_bookable(lead, other_dealer):
    foreign = DemoCarFactory(dealer=other_dealer, name="别家试驾车", plate="京A12345")
    with pytest.raises(ValidationError) as exc_info:
        book(lead, foreign, at(10))
    assert exc_info.value.message_dict == {"demo_car": ["Choose one of the dealer's demo cars."]}
    assert not Booking.objects.exists()


def test_pickup_needs_an_address_and_a_closed_lead_books_nothing(lead, car):
    with pytest.raises(ValidationError) as exc_info:
        book(lead, car, at(10), pickup=True)
    assert "pickup_address" in exc_info.value.message_dict
    lead.stage = LeadStage.LOST
    lead.save()
    with pytest.raises(ValidationError) as exc_info:
        book(lead, car, at(10))
    assert "lead" in exc_info.value.message_dict
    assert not Booking.objects.exists()


def test_moving_to_a_free_time_moves_the_booking(lead, car):
    test_drive = book(lead, car, at(10))
    svc.test_drive_move(actor=None, test_drive=test_drive, starts_at=at(14))
    booking = Booking.objects.get(pk=test_drive.booking_id)
    assert (booking.starts_at, booking.ends_at) == (at(14), at(15))
    test_drive.refresh_from_db()
    assert test_drive.starts_at == at(14)


# --- licence, outcome -------------------------------------------------------------------------


def test_an_expired_licence_is_refused(lead, car):
    test_drive = book(lead, car, at(10))
    with pytest.raises(ValidationError) as exc_info:
        svc.test_drive_licence_check(
            actor=None, test_drive=test_drive, valid_until=datetime.date(2026, 3, 10)
        )
    assert "expired on 2026-03-10" in exc_info.value.message_dict["valid_until"][0]
    test_drive.refresh_from_db()
    assert test_drive.licence_checked_at is None


def test_a_licence_valid_on_the_day_is_recorded(lead, car, consultant):
    test_drive = book(lead, car, at(10))
    svc.test_drive_licence_check(actor=consultant, test_drive=test_drive, valid_until=TOMORROW)
    test_drive.refresh_from_db()
    assert test_drive.licence_valid_until == TOMORROW
    assert test_drive.licence_checked_by == consultant


def test_completing_needs_the_licence_check(lead, car, clock):
    test_drive = book(lead, car, at(10))
    clock.move_to(at(11))
    with pytest.raises(ValidationError) as exc_info:
        svc.test_drive_complete(actor=None, test_drive=test_drive, rating=5)
    assert "licence" in exc_info.value.message_dict
    test_drive.refresh_from_db()
    assert test_drive.status == TestDriveStatus.SCHEDULED


def test_completion_keeps_the_feedback_and_advances_the_lead(lead, car, consultant, clock):
    test_drive = book(lead, car, at(10))
    clock.move_to(at(10, 5))
    svc.test_drive_licence_check(
        actor=consultant, test_drive=test_drive, valid_until=datetime.date(2030, 1, 1)
    )
    clock.move_to(at(11))
    svc.test_drive_complete(
        actor=consultant, test_drive=test_drive, feedback="加速很好，后排略窄", rating=4
    )
    test_drive.refresh_from_db()
    assert (test_drive.status, test_drive.rating) == (TestDriveStatus.COMPLETED, 4)
    assert test_drive.feedback == "加速很好，后排略窄"
    lead.refresh_from_db()
    assert lead.stage == LeadStage.TEST_DRIVE
    assert lead.test_drive_at == at(11)


def test_a_rating_outside_1_to_5_is_refused(lead, car, clock):
    test_drive = book(lead, car, at(10))
    svc.test_drive_licence_check(actor=None, test_drive=test_drive, valid_until=TOMORROW)
    clock.move_to(at(11))
    with pytest.raises(ValidationError) as exc_info:
        svc.test_drive_complete(actor=None, test_drive=test_drive, rating=6)
    assert "rating" in exc_info.value.message_dict


def test_the_outcome_waits_for_the_day_of_the_drive(lead, car):
    test_drive = book(lead, car, at(10))
    svc.test_drive_licence_check(actor=None, test_drive=test_drive, valid_until=TOMORROW)
    with pytest.raises(ValidationError) as exc_info:
        svc.test_drive_complete(actor=None, test_drive=test_drive)
    assert "status" in exc_info.value.message_dict


# --- cancel, no-show --------------------------------------------------------------------------


def test_cancelling_frees_the_car(lead, car, dealer, consultant):
    test_drive = book(lead, car, at(10))
    svc.test_drive_cancel(actor=consultant, test_drive=test_drive, reason="客户出差")
    test_drive.refresh_from_db()
    assert (test_drive.status, test_drive.cancel_reason) == (TestDriveStatus.CANCELLED, "客户出差")
    assert Booking.objects.get(pk=test_drive.booking_id).status == BookingStatus.CANCELLED
    # The slot can be booked again
    book(LeadFactory(dealer=dealer, consultant=consultant), car, at(10))
    # And a closed test drive cannot be cancelled twice
    with pytest.raises(ValidationError):
        svc.test_drive_cancel(actor=consultant, test_drive=test_drive)


def test_no_show_only_after_the_start_and_frees_the_car(lead, car, clock):
    test_drive = book(lead, car, at(10))
    with pytest.raises(ValidationError):
        svc.test_drive_no_show(actor=None, test_drive=test_drive)
    clock.move_to(at(10, 20))
    svc.test_drive_no_show(actor=None, test_drive=test_drive)
    test_drive.refresh_from_db()
    assert test_drive.status == TestDriveStatus.NO_SHOW
    assert Booking.objects.get(pk=test_drive.booking_id).status == BookingStatus.CANCELLED
