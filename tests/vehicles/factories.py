"""Factories for the catalogue, vehicles (with a VALID VIN and plate) and mileage readings."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory

from dealercrm.vehicles.models import (
    BodyType,
    CarModel,
    MileageReading,
    Powertrain,
    Vehicle,
    VehicleOwnership,
)
from dealercrm.vehicles.validators import VIN_ALPHABET, with_check_digit
from tests.core.factories import BrandFactory, DealerFactory
from tests.customers.factories import CustomerFactory

# World manufacturer identifiers of cars built in China (SAIC-VW, FAW-VW, Great Wall, Tesla China…)
CHINESE_WMIS = ("LSV", "LFV", "LGW", "LRW", "LVS", "LHG", "LBV", "LDC")
YEAR_CODES = "LMNPRST"  # 2020–2026
PLATE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def make_vin(n: int) -> str:
    """A valid VIN, different for every n: WMI, VDS, check digit, year, plant, serial."""
    wmi = CHINESE_WMIS[n % len(CHINESE_WMIS)]
    vds = "".join(VIN_ALPHABET[(n * 7 + i * 13) % len(VIN_ALPHABET)] for i in range(5))
    year = YEAR_CODES[n % len(YEAR_CODES)]
    plant = VIN_ALPHABET[(n * 3) % len(VIN_ALPHABET)]
    return with_check_digit(f"{wmi}{vds}0{year}{plant}{n % 1_000_000:06d}")


def make_plate(prefix: str, n: int, *, new_energy: bool = False) -> str:
    """A valid plate of the province and city of `prefix` (沪A): 7 characters, or 8 new-energy."""
    if new_energy:
        return f"{prefix}D{PLATE_CHARS[n % len(PLATE_CHARS)]}{n % 10000:04d}"
    return f"{prefix}{PLATE_CHARS[(n // 10000) % 24]}{n % 10000:04d}"


class CarModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CarModel
        django_get_or_create = ("make", "series", "name", "model_year")

    brand = factory.SubFactory(BrandFactory)
    make = "极光"
    series = factory.Sequence(lambda n: f"S{n}")
    name = "2.0T 豪华版"
    model_year = 2024
    body_type = BodyType.SUV
    powertrain = Powertrain.ICE
    seats = 5
    list_price = Decimal("219800.00")


class VehicleFactory(factory.django.DjangoModelFactory):
    """A vehicle owned by a customer of its dealer, with the matching current ownership."""

    class Meta:
        model = Vehicle
        skip_postgeneration_save = True

    dealer = factory.SubFactory(DealerFactory)
    owner = factory.SubFactory(CustomerFactory, dealer=factory.SelfAttribute("..dealer"))
    car_model = factory.SubFactory(CarModelFactory)
    vin = factory.Sequence(make_vin)
    plate = factory.LazyAttributeSequence(
        lambda o, n: make_plate(o.dealer.plate_prefix or "沪A", n)
    )
    colour = "珍珠白"
    purchase_date = datetime.date(2024, 3, 1)
    delivery_date = datetime.date(2024, 3, 8)
    warranty_end = datetime.date(2027, 3, 8)
    insurance_expiry = datetime.date(2025, 3, 7)

    @factory.post_generation
    def ownership(obj, create, extracted, **kwargs):  # noqa: N805
        if create and obj.owner_id and extracted is not False:
            VehicleOwnership.objects.create(
                dealer_id=obj.dealer_id,
                vehicle=obj,
                customer_id=obj.owner_id,
                started_on=obj.purchase_date or obj.delivery_date or datetime.date(2024, 1, 1),
            )


class MileageReadingFactory(factory.django.DjangoModelFactory):
    """A reading written directly (no checks); use mileage_reading_add to test the rules."""

    class Meta:
        model = MileageReading

    vehicle = factory.SubFactory(VehicleFactory)
    dealer = factory.SelfAttribute("vehicle.dealer")
    km = 5000
    read_on = datetime.date(2024, 9, 1)
    source = MileageReading.Source.SERVICE
