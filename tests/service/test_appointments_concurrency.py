"""Two receptionists booking the day's last place at the same instant (PostgreSQL, real
connections in two threads): the lock on the dealer's ServicePolicy row lets exactly one win."""

from __future__ import annotations

import threading

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, connections

from dealercrm.core.tenancy import dealer_scope
from dealercrm.service.models import Appointment, ServicePolicy
from dealercrm.service.services.appointments import appointment_create
from tests.service.factories import WORKSHOP_NOW, ServiceBayFactory, workshop_at
from tests.vehicles.factories import VehicleFactory

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: real concurrent connections"
)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_bookings_of_the_last_place_exactly_one_wins(dealer):
    # Given a day with one place left and two free bays, and two cars booked at the same instant
    ServicePolicy.objects.create(dealer=dealer, daily_capacity=1)
    ServiceBayFactory(dealer=dealer, name="工位1")
    ServiceBayFactory(dealer=dealer, name="工位2")
    cars = [VehicleFactory(dealer=dealer), VehicleFactory(dealer=dealer)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def receptionist(car, hour: int) -> None:  # noqa: ANN001
        try:
            with time_machine.travel(WORKSHOP_NOW, tick=False), dealer_scope(dealer.pk):
                barrier.wait(timeout=10)
                appointment_create(
                    actor=None,
                    customer=car.owner,
                    vehicle=car,
                    starts_at=workshop_at(hour),
                    channel="phone",
                )
            outcomes.append("booked")
        except ValidationError as exc:
            outcomes.append("refused: " + exc.message_dict["starts_at"][0])
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=receptionist, args=(car, hour))
        for car, hour in zip(cars, (10, 14), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Then one is booked and the other refused as over capacity
    assert sorted(o.split(":")[0] for o in outcomes) == ["booked", "refused"]
    assert Appointment.objects.count() == 1
