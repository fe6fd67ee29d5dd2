"""The resource pages: the list (fixed queries), creating and editing demo cars."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealercrm.bookings.models import Resource
from dealercrm.core.permissions import Role
from tests.sales.factories import DemoCarFactory
from tests.vehicles.factories import CarModelFactory

pytestmark = pytest.mark.django_db


def test_list_shows_the_dealers_cars_only_in_fixed_queries(
    client_for, consultant, dealer, other_dealer, django_assert_max_num_queries
):
    for n in range(5):
        DemoCarFactory(dealer=dealer, name=f"试驾车 {n}", plate=f"沪A1234{n}")
    DemoCarFactory(dealer=other_dealer, name="别家试驾车", plate="京A12345")
    client = client_for(consultant)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("bookings:resources"))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("data-resource=") == 5
    assert "别家试驾车" not in body
    # A consultant may look, not change
    assert reverse("bookings:resource_create") not in body


def test_manager_creates_a_demo_car(client_for, manager, dealer):
    model = CarModelFactory()
    response = client_for(manager).post(
        reverse("bookings:resource_create"),
        {
            "kind": "demo_car",
            "name": "试驾车 A",
            "car_model_id": model.pk,
            "plate": "沪A88888",
            "opens_at": "09:00",
            "closes_at": "19:00",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    car = Resource.objects.get(name="试驾车 A")
    assert (car.dealer_id, car.car_model_id, car.plate) == (dealer.pk, model.pk, "沪A88888")


def test_a_wrong_plate_is_shown_on_its_field_and_nothing_saved(client_for, manager):
    response = client_for(manager).post(
        reverse("bookings:resource_create"),
        {
            "kind": "demo_car",
            "name": "试驾车 A",
            "car_model_id": CarModelFactory().pk,
            "plate": "12345",
            "opens_at": "09:00",
            "closes_at": "18:00",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["plate"]
    assert not Resource.objects.filter(name="试驾车 A").exists()


def test_manager_takes_a_car_out_of_use(client_for, manager, dealer):
    car = DemoCarFactory(dealer=dealer, name="试驾车 1", plate="沪A12345")
    url = reverse("bookings:resource_edit", kwargs={"resource_id": car.pk})
    assert client_for(manager).get(url).status_code == 200
    response = client_for(manager).post(
        url,
        {
            "kind": "demo_car",
            "name": "试驾车 1",
            "car_model_id": car.car_model_id,
            "plate": "沪A12345",
            "opens_at": "09:00",
            "closes_at": "18:00",
        },
    )
    assert response.status_code == 302
    car.refresh_from_db()
    assert car.is_active is False


def test_consultant_cannot_edit_and_other_dealer_gets_404(
    client_for, consultant, make_user, dealer, other_dealer
):
    car = DemoCarFactory(dealer=dealer, plate="沪A12345")
    url = reverse("bookings:resource_edit", kwargs={"resource_id": car.pk})
    assert client_for(consultant).get(url).status_code == 403
    outsider = make_user(Role.DEALER_MANAGER, dealer_=other_dealer)
    assert client_for(outsider).get(url).status_code == 404
