"""Two people booking the same car at the same moment: exactly one wins (PostgreSQL, real
connections in two threads), and the database refuses an overlap even from a write that goes
around the service (the exclusion constraint)."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, connections, transaction

from dealercrm.bookings import services
from dealercrm.bookings.models import Booking
from dealercrm.core.tenancy import dealer_scope
from tests.bookings.conftest import at

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: real concurrent connections"
)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_bookings_of_the_same_slot_exactly_one_wins(car):
    # Given two clerks who press "book" for the same car and slot at the same instant
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def clerk(start_minute: int) -> None:
        try:
            with dealer_scope(car.dealer_id):
                barrier.wait(timeout=10)
                services.booking_create(
                    dealer_id=car.dealer_id,
                    resource=car,
                    starts_at=at(10, start_minute),
                    ends_at=at(11, start_minute),
                )
            outcomes.append("booked")
        except ValidationError as exc:
            outcomes.append("refused: " + exc.message_dict["starts_at"][0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=clerk, args=(m,)) for m in (0, 30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Then one is booked and the other refused, naming the winner's booking
    assert sorted(o.split(":")[0] for o in outcomes) == ["booked", "refused"]
    assert Booking.objects.count() == 1


@postgres_only
@pytest.mark.django_db
def test_the_database_refuses_an_overlap_written_around_the_service(car):
    Booking.objects.create(dealer=car.dealer, resource=car, starts_at=at(10), ends_at=at(11))
    # Touching is fine for the constraint too ([) ranges)
    Booking.objects.create(dealer=car.dealer, resource=car, starts_at=at(11), ends_at=at(12))
    with pytest.raises(IntegrityError), transaction.atomic():
        Booking.objects.create(
            dealer=car.dealer, resource=car, starts_at=at(10, 30), ends_at=at(11, 30)
        )
    # A cancelled booking does not count
    Booking.objects.create(
        dealer=car.dealer, resource=car, starts_at=at(10), ends_at=at(11), status="cancelled"
    )


@postgres_only
@pytest.mark.django_db
def test_the_constraints_refusal_becomes_the_same_validation_error(car, monkeypatch):
    # Given the service's own check switched off (as if a write raced past it)
    Booking.objects.create(
        dealer=car.dealer, resource=car, starts_at=at(10), ends_at=at(11), title="张先生"
    )
    monkeypatch.setattr(services, "_refuse_clash", lambda *args, **kwargs: None)
    # When the overlapping booking is written, then the constraint's error is told as a clash
    with pytest.raises(ValidationError) as exc_info:
        services.booking_create(
            dealer_id=car.dealer_id, resource=car, starts_at=at(10, 30), ends_at=at(11, 30)
        )
    assert "starts_at" in exc_info.value.message_dict
    assert Booking.objects.count() == 1
