"""Factories for searching: customers with phones and vehicles, and their search keys."""

from __future__ import annotations

import factory

from dealercrm.customers.models import Customer, CustomerPhone
from dealercrm.search.services import search_keys_refresh
from dealercrm.vehicles.models import Vehicle
from tests.core.factories import DealerFactory

_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]


def vin_with_check_digit(vin: str) -> str:
    """Put the ISO 3779 check digit in position 9 of a 17-character VIN."""
    total = sum(_VIN_VALUES[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS, strict=True))
    check = total % 11
    return vin[:8] + ("X" if check == 10 else str(check)) + vin[9:]


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    dealer = factory.SubFactory(DealerFactory)
    name = factory.Sequence(lambda n: f"客户{n}")


class CustomerPhoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerPhone

    customer = factory.SubFactory(CustomerFactory)
    dealer = factory.SelfAttribute("customer.dealer")
    number = factory.Sequence(lambda n: f"+86139{n:08d}")
    is_primary = True


class VehicleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vehicle

    owner = factory.SubFactory(CustomerFactory)
    dealer = factory.SelfAttribute("owner.dealer")
    vin = factory.Sequence(lambda n: vin_with_check_digit(f"LSVAB2BX0P{n:07d}"))
    plate = factory.Sequence(lambda n: f"沪A{n:05d}")


def searchable_customer(
    dealer, name: str, *, phones=(), vehicles=(), latin_name: str = "", **kwargs
) -> Customer:
    """A customer with phones and (vin, plate) vehicles, and their search keys built."""
    customer = CustomerFactory(dealer=dealer, name=name, latin_name=latin_name, **kwargs)
    for i, number in enumerate(phones):
        CustomerPhoneFactory(customer=customer, number=number, is_primary=i == 0)
    for vin, plate in vehicles:
        VehicleFactory(owner=customer, vin=vin, plate=plate)
    search_keys_refresh(dealer_id=dealer.pk, customer_ids=[customer.pk])
    return customer
