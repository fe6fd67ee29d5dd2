"""booking_create / move / cancel: the one place that refuses double bookings, and the resources."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from dealercrm.bookings import services
from dealercrm.bookings.models import Booking, BookingStatus, Resource, ResourceKind
from tests.bookings.conftest import at
from tests.sales.factories import DemoCarFactory
from tests.vehicles.factories import CarModelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def book(car, start, end, **kwargs):
    return services.booking_create(
        dealer_id=car.dealer_id, resource=car, starts_at=start, ends_at=end, **kwargs
    )


def errors_of(exc_info) -> dict[str, list[str]]:
    return exc_info.value.message_dict


# --- double bookings ------------------------------------------------------------------------


def test_overlapping_booking_of_the_same_car_is_refused_naming_the_clash(car):
    # Given the car booked 10:00–11:00 tomorrow
    book(car, at(10), at(11), title="张先生")
    # When someone books it 10:30–11:30
    with pytest.raises(ValidationError) as exc_info:
        book(car, at(10, 30), at(11, 30))
    # Then it is refused on starts_at, saying which booking it clashes with, and nothing is saved
    message = errors_of(exc_info)["starts_at"][0]
    assert "试驾车 1 is booked 10:00–11:00 on 2026-03-11 (张先生)" in message
    assert Booking.objects.count() == 1


@pytest.mark.parametrize(
    ("start", "end"),
    [((9, 30), (10, 30)), ((10, 0), (11, 0)), ((10, 15), (10, 45)), ((9, 0), (12, 0))],
    ids=["overlaps-start", "same-slot", "inside", "around"],
)
def test_every_kind_of_overlap_is_refused(car, start, end):
    book(car, at(10), at(11))
    with pytest.raises(ValidationError):
        book(car, at(*start), at(*end))
    assert Booking.objects.count() == 1


def test_touching_bookings_are_allowed_10_to_11_then_11_to_12(car):
    # Given 10:00–11:00 booked, when 11:00–12:00 and 09:00–10:00 are booked, then both are fine
    book(car, at(10), at(11))
    book(car, at(11), at(12))
    book(car, at(9), at(10))
    assert Booking.objects.filter(status=BookingStatus.ACTIVE).count() == 3


def test_another_car_at_the_same_time_is_free(car, dealer):
    other = DemoCarFactory(dealer=dealer, name="试驾车 2", plate="沪A54321")
    book(car, at(10), at(11))
    book(other, at(10), at(11))
    assert Booking.objects.count() == 2


def test_a_cancelled_booking_frees_the_slot(car):
    first = book(car, at(10), at(11))
    services.booking_cancel(actor=None, booking=first)
    second = book(car, at(10), at(11))
    assert second.status == BookingStatus.ACTIVE
    first.refresh_from_db()
    assert first.status == BookingStatus.CANCELLED and first.cancelled_at is not None


def test_moving_onto_another_booking_is_refused_and_changes_nothing(car):
    book(car, at(10), at(11))
    later = book(car, at(14), at(15))
    with pytest.raises(ValidationError) as exc_info:
        services.booking_move(actor=None, booking=later, starts_at=at(10, 30), ends_at=at(11, 30))
    assert "is booked 10:00–11:00" in errors_of(exc_info)["starts_at"][0]
    later.refresh_from_db()
    assert later.starts_at == at(14)


def test_moving_a_booking_within_its_own_time_is_allowed(car):
    booking = book(car, at(10), at(11))
    services.booking_move(actor=None, booking=booking, starts_at=at(10, 30), ends_at=at(11, 30))
    booking.refresh_from_db()
    assert (booking.starts_at, booking.ends_at) == (at(10, 30), at(11, 30))


# --- other refusals ---------------------------------------------------------------------------


def test_the_past_is_refused(car):
    # Given the clock at 08:00 on the 10th, when a booking at 07:00 that day is asked for
    with pytest.raises(ValidationError) as exc_info:
        book(car, at(7, day=datetime.date(2026, 3, 10)), at(8, day=datetime.date(2026, 3, 10)))
    assert "in the past" in errors_of(exc_info)["starts_at"][0]
    assert not Booking.objects.exists()


def test_an_end_before_the_start_is_refused(car):
    with pytest.raises(ValidationError) as exc_info:
        book(car, at(11), at(10))
    assert errors_of(exc_info)["ends_at"] == ["The booking must end after it starts."]
    with pytest.raises(ValidationError):
        book(car, at(11), at(11))
    assert not Booking.objects.exists()


def test_an_inactive_car_is_refused(car):
    car.is_active = False
    car.save()
    with pytest.raises(ValidationError) as exc_info:
        book(car, at(10), at(11))
    assert "试驾车 1 is not in use" in errors_of(exc_info)["resource"][0]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [((8, 0), (9, 0), "starts_at"), ((17, 30), (18, 30), "ends_at"), ((17, 0), (18, 0), None)],
    ids=["before-opening", "after-closing", "last-hour-fits"],
)
def test_outside_the_cars_hours_is_refused(car, start, end, field):
    if field is None:
        book(car, at(*start), at(*end))
        return
    with pytest.raises(ValidationError) as exc_info:
        book(car, at(*start), at(*end))
    assert errors_of(exc_info)[field] == ["试驾车 1 can be booked from 09:00 to 18:00."]


def test_a_booking_over_midnight_is_refused(car):
    car.closes_at = datetime.time(23, 59)
    car.save()
    with pytest.raises(ValidationError):
        book(car, at(23), at(1, day=datetime.date(2026, 3, 12)))


def test_another_dealers_car_is_refused_without_telling_anything_about_it(car, other_dealer):
    # Given a booking of this dealer's car, when the other dealer books the car for itself
    book(car, at(10), at(11), title="张先生")
    with pytest.raises(ValidationError) as exc_info:
        services.booking_create(
            dealer_id=other_dealer.pk, resource=car, starts_at=at(12), ends_at=at(13)
        )
    # Then it is "not one of the dealer's", with no name, time or customer of the car
    assert errors_of(exc_info) == {"resource": ["Choose one of the dealer's resources."]}
    assert Booking.objects.count() == 1


def test_hours_are_the_dealers_local_time(car, dealer):
    # Given a dealer in Urumqi (two hours behind Beijing on the wall clock)
    dealer.time_zone = "Asia/Urumqi"
    dealer.save()
    # When 09:00 Beijing time (07:00 in Urumqi) is booked, then it is before the car's hours
    with pytest.raises(ValidationError):
        book(car, at(9), at(10))


# --- resources --------------------------------------------------------------------------------


def test_a_demo_car_needs_a_model_and_a_valid_plate(dealer):
    with pytest.raises(ValidationError) as exc_info:
        services.resource_create(
            actor=None, dealer_id=dealer.pk, kind=ResourceKind.DEMO_CAR, name="试驾车 9"
        )
    errors = errors_of(exc_info)
    assert set(errors) == {"car_model_id", "plate"}
    with pytest.raises(ValidationError) as exc_info:
        services.resource_create(
            actor=None,
            dealer_id=dealer.pk,
            kind=ResourceKind.DEMO_CAR,
            name="试驾车 9",
            car_model_id=CarModelFactory().pk,
            plate="XX12345",
        )
    assert "province" in errors_of(exc_info)["plate"][0]
    assert not Resource.objects.filter(name="试驾车 9").exists()


def test_resource_created_with_a_normalised_plate_and_updated(dealer):
    resource = services.resource_create(
        actor=None,
        dealer_id=dealer.pk,
        kind=ResourceKind.DEMO_CAR,
        name="试驾车 9",
        car_model_id=CarModelFactory().pk,
        plate="沪a·12345",
        opens_at="10:00",
        closes_at="20:00",
    )
    assert resource.plate == "沪A12345"
    assert resource.opens_at == datetime.time(10, 0)
    services.resource_update(actor=None, resource=resource, is_active=False, name="试驾车 10")
    resource.refresh_from_db()
    assert (resource.name, resource.is_active) == ("试驾车 10", False)


def test_a_service_bay_needs_no_car(dealer):
    bay = services.resource_create(
        actor=None, dealer_id=dealer.pk, kind=ResourceKind.SERVICE_BAY, name="1号工位"
    )
    assert bay.car_model_id is None


def test_names_are_unique_per_dealer_and_kind(dealer, car):
    with pytest.raises(ValidationError) as exc_info:
        services.resource_update(
            actor=None,
            resource=DemoCarFactory(dealer=dealer, name="试驾车 2", plate="沪A00002"),
            name="试驾车 1",
        )
    assert "already" in errors_of(exc_info)["name"][0]


def test_closing_before_opening_is_refused(dealer, car):
    with pytest.raises(ValidationError) as exc_info:
        services.resource_update(actor=None, resource=car, opens_at="18:00", closes_at="09:00")
    assert "closes_at" in errors_of(exc_info)
