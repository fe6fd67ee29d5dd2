"""Factories for after-sales records (the ORM directly, no services)."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from dealercrm.bookings.models import Resource, ResourceKind
from dealercrm.service.models import (
    Appointment,
    AppointmentChannel,
    RepairKind,
    RepairOrder,
    RepairOrderLine,
    VehicleServiceState,
)
from dealercrm.service.models.records import LineType
from tests.vehicles.factories import VehicleFactory


class ServiceBayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resource

    dealer = factory.SubFactory("tests.core.factories.DealerFactory")
    kind = ResourceKind.SERVICE_BAY
    name = factory.Sequence(lambda n: f"工位{n + 1}")
    opens_at = datetime.time(8, 30)
    closes_at = datetime.time(17, 30)


class LoanCarFactory(ServiceBayFactory):
    kind = ResourceKind.LOAN_CAR
    name = factory.Sequence(lambda n: f"代步车{n + 1}")


class AppointmentFactory(factory.django.DjangoModelFactory):
    """A booked appointment (without a bay booking: use the service for one)."""

    class Meta:
        model = Appointment

    vehicle = factory.SubFactory(VehicleFactory)
    dealer = factory.SelfAttribute("vehicle.dealer")
    customer = factory.SelfAttribute("vehicle.owner")
    channel = AppointmentChannel.PHONE
    kind = RepairKind.MAINTENANCE
    starts_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + datetime.timedelta(hours=1))


class RepairOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RepairOrder

    vehicle = factory.SubFactory(VehicleFactory)
    dealer = factory.SelfAttribute("vehicle.dealer")
    customer = factory.SelfAttribute("vehicle.owner")
    number = factory.Sequence(lambda n: f"RO{n:08d}")
    vin = factory.SelfAttribute("vehicle.vin")
    plate = factory.SelfAttribute("vehicle.plate")
    kind = RepairKind.MAINTENANCE
    opened_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(hours=3))
    mileage_km = 10000


class RepairOrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RepairOrderLine

    repair_order = factory.SubFactory(RepairOrderFactory)
    dealer = factory.SelfAttribute("repair_order.dealer")
    line_type = LineType.LABOUR
    description = "更换机油机滤"
    quantity = 1
    unit_price = 300
    amount = 300


class VehicleServiceStateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VehicleServiceState

    vehicle = factory.SubFactory(VehicleFactory)
    dealer = factory.SelfAttribute("vehicle.dealer")


# --- the workshop of the appointment / repair order tests ---------------------------------------
# A frozen clock (Tuesday 2026-03-10, 08:00 in Shanghai) and times of the next day.

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))
WORKSHOP_NOW = datetime.datetime(2026, 3, 10, 8, 0, tzinfo=SHANGHAI)
WORKSHOP_TOMORROW = datetime.date(2026, 3, 11)


def workshop_at(hour: int, minute: int = 0, day: datetime.date = WORKSHOP_TOMORROW):
    """An aware datetime of the dealer's wall clock (Shanghai) on `day`."""
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)
