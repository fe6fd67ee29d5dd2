"""Factories for searching: customers with phones and vehicles, and their search keys."""

from __future__ import annotations

from dealercrm.customers.models import Customer
from dealercrm.search.services import search_keys_refresh
from dealercrm.vehicles.validators import with_check_digit as vin_with_check_digit
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.vehicles.factories import VehicleFactory as _VehicleFactory

__all__ = ["CustomerFactory", "CustomerPhoneFactory", "VehicleFactory", "vin_with_check_digit"]


def VehicleFactory(*, owner: Customer, **kwargs):  # noqa: N802, ANN201
    """A vehicle of `owner`, at the owner's dealer (the vehicles app's factory)."""
    return _VehicleFactory(owner=owner, dealer=owner.dealer, **kwargs)


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
