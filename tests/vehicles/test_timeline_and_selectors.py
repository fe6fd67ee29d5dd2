"""The vehicles' timeline entries on the customer 360 page."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from dealercrm.core.scoping import scope_for_user
from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.timeline import customer_timeline, timeline_providers
from dealercrm.vehicles.models import MileageReading
from dealercrm.vehicles.selectors import ownership_history, vehicle_list
from dealercrm.vehicles.services import vehicle_transfer
from dealercrm.vehicles.timeline import mileage_timeline, ownership_timeline
from tests.vehicles.factories import CustomerFactory, MileageReadingFactory, VehicleFactory

pytestmark = pytest.mark.django_db


def _reading(km: int, day: datetime.date) -> MileageReading:
    return MileageReading(km=km, read_on=day, source="service")


def test_vehicle_providers_are_registered():
    providers = timeline_providers()
    assert ownership_timeline in providers
    assert mileage_timeline in providers


def test_timeline_shows_purchase_delivery_readings_and_handing_on(manager, dealer):
    # Given a car bought 2024-03-01, delivered 2024-03-08, read at 2024-09-01, sold 2025-01-10
    vehicle = VehicleFactory(dealer=dealer)
    seller = vehicle.owner
    MileageReadingFactory(vehicle=vehicle, km=7000, read_on=datetime.date(2024, 9, 1))
    buyer = CustomerFactory(dealer=dealer)
    vehicle_transfer(actor=manager, vehicle=vehicle, new_owner=buyer, on=datetime.date(2025, 1, 10))
    # A reading after the sale belongs to the buyer's story, not the seller's
    MileageReadingFactory(vehicle=vehicle, km=9000, read_on=datetime.date(2025, 3, 1))
    # When the seller's timeline is built
    kinds = [
        (e.kind, e.occurred_at.date()) for e in customer_timeline(seller) if e.source == "vehicles"
    ]
    # Then it tells the car's story with the seller, newest first
    assert kinds == [
        ("vehicle_owner_end", datetime.date(2025, 1, 10)),
        ("mileage", datetime.date(2024, 9, 1)),
        ("vehicle_delivery", datetime.date(2024, 3, 8)),
        ("vehicle_purchase", datetime.date(2024, 3, 1)),
    ]
    buyer_kinds = [
        (e.kind, e.occurred_at.date()) for e in customer_timeline(buyer) if e.source == "vehicles"
    ]
    assert buyer_kinds == [
        ("mileage", datetime.date(2025, 3, 1)),
        ("vehicle_owner", datetime.date(2025, 1, 10)),
    ]


def test_each_provider_runs_one_query_whatever_the_history(dealer, django_assert_num_queries):
    owner = CustomerFactory(dealer=dealer)
    for _ in range(3):
        vehicle = VehicleFactory(dealer=dealer, owner=owner)
        for day in range(1, 6):
            MileageReadingFactory(
                vehicle=vehicle, km=day * 1000, read_on=datetime.date(2024, 5, day)
            )
    with django_assert_num_queries(1):
        ownership = ownership_timeline(owner, limit=50, before=None)
    with django_assert_num_queries(1):
        readings = mileage_timeline(owner, limit=50, before=None)
    assert len(ownership) == 6  # purchase and delivery of 3 cars
    assert len(readings) == 15


def test_providers_respect_limit_and_before(dealer):
    vehicle = VehicleFactory(dealer=dealer)
    for day in range(1, 11):
        MileageReadingFactory(vehicle=vehicle, km=day * 100, read_on=datetime.date(2024, 6, day))
    before = timezone.make_aware(datetime.datetime(2024, 6, 5))
    entries = mileage_timeline(vehicle.owner, limit=3, before=before)
    assert [e.occurred_at.date().day for e in entries] == [4, 3, 2]
    assert len(ownership_timeline(vehicle.owner, limit=1, before=None)) == 1


def test_ownership_history_hides_names_the_consultant_may_not_see(consultant, manager, dealer):
    vehicle = VehicleFactory(dealer=dealer)  # owner not assigned to the consultant
    mine = CustomerFactory(dealer=dealer, assigned_consultant=consultant)
    vehicle_transfer(actor=manager, vehicle=vehicle, new_owner=mine)
    rows = ownership_history(vehicle, consultant)
    assert [(r.customer_id, r.visible) for r in rows] == [
        (mine.pk, True),
        (vehicle.owner_id, False),
    ]
    assert all(r.visible for r in ownership_history(vehicle, manager))


def test_vehicle_list_is_what_the_user_may_see(consultant, manager, dealer, other_dealer):
    mine = VehicleFactory(
        dealer=dealer, owner=CustomerFactory(dealer=dealer, assigned_consultant=consultant)
    )
    VehicleFactory(dealer=dealer)
    VehicleFactory(dealer=other_dealer)
    with dealer_scope(scope_for_user(consultant)):
        assert [v.pk for v in vehicle_list(consultant)] == [mine.pk]
    with dealer_scope(scope_for_user(manager)):
        assert len(vehicle_list(manager)) == 2
