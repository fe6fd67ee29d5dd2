"""The bookings API: resources, a resource's bookings in a range, booking with no double booking."""

from __future__ import annotations

import pytest

from dealercrm.bookings.models import Booking
from dealercrm.core.permissions import Role
from tests.bookings.conftest import at
from tests.sales.factories import DemoCarFactory
from tests.vehicles.factories import CarModelFactory

pytestmark = pytest.mark.django_db


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


def test_manager_creates_lists_and_updates_resources(client_for, manager, dealer):
    client = client_for(manager)
    model = CarModelFactory()
    created = post(
        client,
        "/api/bookings/resources",
        {"kind": "demo_car", "name": "试驾车 7", "car_model_id": model.pk, "plate": "沪A77777"},
    )
    assert created.status_code == 201, created.content
    resource_id = created.json()["id"]
    listed = client.get("/api/bookings/resources").json()
    assert [r["name"] for r in listed] == ["试驾车 7"]
    patched = client.patch(
        f"/api/bookings/resources/{resource_id}",
        {"closes_at": "20:00"},
        content_type="application/json",
    )
    assert patched.status_code == 200
    assert patched.json()["closes_at"] == "20:00:00"


def test_invalid_resource_names_each_field(client_for, manager):
    response = post(
        client_for(manager), "/api/bookings/resources", {"kind": "demo_car", "name": ""}
    )
    assert response.status_code == 422
    assert {"name", "car_model_id", "plate"} <= set(response.json()["errors"])


def test_double_booking_refused_through_the_api_too(client_for, manager, dealer):
    car = DemoCarFactory(dealer=dealer, name="试驾车 1", plate="沪A12345")
    client = client_for(manager)
    url = f"/api/bookings/resources/{car.pk}/bookings"
    first = post(client, url, {"starts_at": at(10).isoformat(), "ends_at": at(11).isoformat()})
    assert first.status_code == 201, first.content
    # Local time without a zone is the dealer's
    second = post(client, url, {"starts_at": "2026-03-11T10:30", "ends_at": "2026-03-11T11:30"})
    assert second.status_code == 422
    assert "10:00–11:00" in second.json()["errors"]["starts_at"][0]
    touching = post(client, url, {"starts_at": "2026-03-11T11:00", "ends_at": "2026-03-11T12:00"})
    assert touching.status_code == 201
    listed = client.get(url, {"start": "2026-03-11T00:00", "end": "2026-03-12T00:00"}).json()
    assert len(listed) == 2
    assert listed[0]["starts_at"] < listed[1]["starts_at"]


def test_cancelling_a_booking_frees_it(client_for, manager, dealer):
    car = DemoCarFactory(dealer=dealer, plate="沪A12345")
    booking = Booking.objects.create(dealer=dealer, resource=car, starts_at=at(10), ends_at=at(11))
    response = client_for(manager).post(f"/api/bookings/bookings/{booking.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_another_dealers_resource_answers_404(client_for, make_user, dealer, other_dealer):
    car = DemoCarFactory(dealer=dealer, plate="沪A12345")
    outsider = make_user(Role.DEALER_MANAGER, dealer_=other_dealer)
    client = client_for(outsider)
    assert client.get(f"/api/bookings/resources/{car.pk}/bookings").status_code == 404
    response = post(
        client,
        f"/api/bookings/resources/{car.pk}/bookings",
        {"starts_at": at(10).isoformat(), "ends_at": at(11).isoformat()},
    )
    assert response.status_code == 404
    assert not Booking.objects.exists()
