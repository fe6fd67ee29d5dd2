"""The vehicles API: scoped like the pages, field errors as 422 saving nothing, 409 on a stale
version, transfer and mileage history, the catalogue."""

from __future__ import annotations

import datetime

import pytest

from dealercrm.core.permissions import Role
from dealercrm.vehicles.models import CarModel, MileageReading, Vehicle
from dealercrm.vehicles.validators import with_check_digit
from tests.vehicles.factories import CarModelFactory, CustomerFactory, VehicleFactory

pytestmark = pytest.mark.django_db

SAIC_VIN = with_check_digit("LSVAU0330N1234567")
API = "/api/vehicles"


@pytest.fixture
def api(client_for, manager):
    return client_for(manager)


@pytest.fixture
def vehicle(dealer):
    return VehicleFactory(dealer=dealer, plate="沪A12345")


def test_anonymous_gets_401(client, vehicle):
    assert client.get(f"{API}/{vehicle.pk}").status_code == 401


def test_list_filters_by_owner_and_plate(
    api, dealer, other_dealer, vehicle, django_assert_max_num_queries
):
    VehicleFactory(dealer=dealer, plate="沪B99999")
    VehicleFactory(dealer=other_dealer)
    with django_assert_max_num_queries(8):
        body = api.get(f"{API}/").json()
    assert body["count"] == 2  # the other dealer's vehicle is not there
    by_plate = api.get(f"{API}/", {"plate": "a123"}).json()
    assert [v["id"] for v in by_plate["items"]] == [vehicle.pk]
    by_owner = api.get(f"{API}/", {"owner": vehicle.owner_id}).json()
    assert [v["id"] for v in by_owner["items"]] == [vehicle.pk]
    assert by_owner["items"][0]["owner_name"] == vehicle.owner.name


def test_get_other_dealers_vehicle_is_404(client_for, make_user, other_dealer, vehicle):
    stranger = client_for(make_user(Role.DEALER_MANAGER, dealer_=other_dealer))
    assert stranger.get(f"{API}/{vehicle.pk}").status_code == 404
    assert stranger.get(f"{API}/{vehicle.pk}/mileage").status_code == 404
    response = stranger.patch(
        f"{API}/{vehicle.pk}", {"version": 1, "colour": "黑"}, content_type="application/json"
    )
    assert response.status_code == 404
    vehicle.refresh_from_db()
    assert vehicle.colour != "黑"


def test_create_returns_the_vehicle_with_decoded_vin(api, dealer):
    owner = CustomerFactory(dealer=dealer)
    car_model = CarModelFactory()
    response = api.post(
        f"{API}/",
        {
            "owner_id": owner.pk,
            "vin": SAIC_VIN,
            "car_model_id": car_model.pk,
            "plate": "沪AF12345",
            "purchase_date": "2024-01-02",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["manufacturer"] == "SAIC Volkswagen"
    assert body["vin_model_year"] == 2022
    assert body["plate"] == "沪AF12345"
    assert body["car_model"]["id"] == car_model.pk
    assert body["owner_id"] == owner.pk


def test_create_with_bad_vin_or_plate_is_422_naming_the_fields(api, dealer):
    owner = CustomerFactory(dealer=dealer)
    response = api.post(
        f"{API}/",
        {"owner_id": owner.pk, "vin": "LSVAU033", "plate": "XX12345"},
        content_type="application/json",
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"vin", "plate"}
    assert not Vehicle.objects.exists()


def test_create_for_another_dealers_customer_is_404(api, other_dealer):
    stranger = CustomerFactory(dealer=other_dealer)
    response = api.post(
        f"{API}/", {"owner_id": stranger.pk, "vin": SAIC_VIN}, content_type="application/json"
    )
    assert response.status_code == 404
    assert not Vehicle.objects.exists()


def test_update_with_stale_version_is_409_and_changes_nothing(api, vehicle):
    ok = api.patch(
        f"{API}/{vehicle.pk}", {"version": 1, "colour": "红"}, content_type="application/json"
    )
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    stale = api.patch(
        f"{API}/{vehicle.pk}", {"version": 1, "colour": "蓝"}, content_type="application/json"
    )
    assert stale.status_code == 409
    assert stale.json()["detail"]
    vehicle.refresh_from_db()
    assert vehicle.colour == "红"


def test_transfer_and_ownership_history(api, vehicle):
    new_owner = CustomerFactory(dealer=vehicle.dealer)
    today = datetime.date.today()
    response = api.post(
        f"{API}/{vehicle.pk}/transfer",
        {"new_owner_id": new_owner.pk, "on": today.isoformat()},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["owner_id"] == new_owner.pk
    history = api.get(f"{API}/{vehicle.pk}/ownerships").json()
    assert [(h["customer_id"], h["ended_on"]) for h in history] == [
        (new_owner.pk, None),
        (vehicle.owner_id, today.isoformat()),
    ]


def test_mileage_add_and_list_and_backwards_refused(api, vehicle):
    first = api.post(
        f"{API}/{vehicle.pk}/mileage",
        {"km": 10000, "read_on": "2024-10-01", "source": "service"},
        content_type="application/json",
    )
    assert first.status_code == 201
    backwards = api.post(
        f"{API}/{vehicle.pk}/mileage",
        {"km": 9000, "read_on": "2024-12-01", "source": "service"},
        content_type="application/json",
    )
    assert backwards.status_code == 422
    assert "km" in backwards.json()["errors"]
    readings = api.get(f"{API}/{vehicle.pk}/mileage").json()
    assert [(r["km"], r["read_on"]) for r in readings] == [(10000, "2024-10-01")]
    assert MileageReading.objects.count() == 1


def test_catalogue_is_readable_by_any_signed_in_user(client_for, make_user):
    CarModelFactory(series="S9")
    response = client_for(make_user(Role.DEALER_ADMIN)).get(f"{API}/catalogue")
    assert response.status_code == 200
    assert [m["series"] for m in response.json()["items"]] == ["S9"]


def test_catalogue_writes_need_manage_catalogue(client_for, consultant, make_user, brand):
    payload = {
        "brand_id": brand.pk,
        "make": "极光",
        "series": "S7",
        "name": "Pro",
        "model_year": 2025,
        "body_type": "suv",
        "powertrain": "phev",
        "list_price": "199800",
    }
    denied = client_for(consultant).post(
        f"{API}/catalogue", payload, content_type="application/json"
    )
    assert denied.status_code == 403
    admin = client_for(make_user(Role.OEM_ADMIN))
    created = admin.post(f"{API}/catalogue", payload, content_type="application/json")
    assert created.status_code == 201, created.content
    model_id = created.json()["id"]
    updated = admin.patch(
        f"{API}/catalogue/{model_id}", {"seats": 7}, content_type="application/json"
    )
    assert updated.status_code == 200
    assert CarModel.objects.get(pk=model_id).seats == 7
    bad = admin.post(
        f"{API}/catalogue",
        {**payload, "series": "S8", "body_type": "tank"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert "body_type" in bad.json()["errors"]


def test_vehicle_endpoints_need_the_vehicle_permission(client_for, make_user, vehicle):
    admin = client_for(make_user(Role.DEALER_ADMIN))
    assert admin.get(f"{API}/").status_code == 403
    assert admin.get(f"{API}/{vehicle.pk}").status_code == 403
    analyst = client_for(make_user(Role.OEM_ANALYST))
    assert analyst.get(f"{API}/{vehicle.pk}").status_code == 200
    response = analyst.post(
        f"{API}/{vehicle.pk}/mileage",
        {"km": 1, "read_on": "2024-01-01"},
        content_type="application/json",
    )
    assert response.status_code == 403
