"""Vehicle pages: access (anonymous, other dealer, not-my-customer, no permission), forms with
field errors that save nothing, optimistic lock, transfer, HTMX mileage, catalogue."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer
from dealercrm.search.services import search_keys_refresh
from dealercrm.vehicles.models import CarModel, MileageReading, Vehicle, VehicleOwnership
from dealercrm.vehicles.services import mileage_reading_add, vehicle_update
from dealercrm.vehicles.validators import with_check_digit
from tests.vehicles.factories import (
    CarModelFactory,
    CustomerFactory,
    MileageReadingFactory,
    VehicleFactory,
)

pytestmark = pytest.mark.django_db

SAIC_VIN = with_check_digit("LSVAU0330N1234567")


@pytest.fixture
def vehicle(dealer):
    return VehicleFactory(dealer=dealer, plate="沪AD12345")


def test_anonymous_is_sent_to_login(client, vehicle):
    response = client.get(reverse("vehicles:detail", args=[vehicle.pk]))
    assert response.status_code == 302
    assert reverse("core:login") in response["Location"]


def test_vehicle_page_shows_the_car_its_owner_and_history(client_for, manager, vehicle):
    # Given a vehicle with two readings and a previous owner
    MileageReadingFactory(vehicle=vehicle, km=1000, read_on=datetime.date(2024, 4, 1))
    MileageReadingFactory(vehicle=vehicle, km=6000, read_on=datetime.date(2024, 10, 1))
    # When the manager opens it
    response = client_for(manager).get(reverse("vehicles:detail", args=[vehicle.pk]))
    # Then model, VIN, plate (new energy), owner link and the chart data are on the page
    assert response.status_code == 200
    html = response.content.decode()
    assert vehicle.vin in html
    assert "沪AD12345" in html
    assert reverse("customers:detail", args=[vehicle.owner_id]) in html
    assert vehicle.car_model.series in html
    data = json.loads(re.search(r'id="mileage-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert data == [["2024-04-01", 1000], ["2024-10-01", 6000]]


def test_vehicle_page_query_count_does_not_grow_with_readings(
    client_for, manager, vehicle, other_dealer, django_assert_max_num_queries
):
    client = client_for(manager)
    url = reverse("vehicles:detail", args=[vehicle.pk])
    client.get(url)  # warm the session and caches
    for day in range(1, 4):
        MileageReadingFactory(vehicle=vehicle, km=day * 100, read_on=datetime.date(2024, 4, day))
    with django_assert_max_num_queries(12) as few:
        client.get(url)
    for day in range(4, 40):
        MileageReadingFactory(
            vehicle=vehicle,
            km=day * 100,
            read_on=datetime.date(2024, 4, 1) + datetime.timedelta(day),
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200


def test_another_dealers_vehicle_is_404(client_for, make_user, other_dealer, vehicle):
    stranger = make_user(Role.DEALER_MANAGER, dealer_=other_dealer)
    client = client_for(stranger)
    for name in ("detail", "edit", "transfer", "mileage_add"):
        assert client.get(reverse(f"vehicles:{name}", args=[vehicle.pk])).status_code == 404


def test_missing_vehicle_is_404(client_for, manager):
    assert client_for(manager).get(reverse("vehicles:detail", args=[999999])).status_code == 404


def test_consultant_sees_only_vehicles_of_their_own_customers(client_for, consultant, dealer):
    mine = VehicleFactory(
        dealer=dealer, owner=CustomerFactory(dealer=dealer, assigned_consultant=consultant)
    )
    theirs = VehicleFactory(dealer=dealer)
    client = client_for(consultant)
    assert client.get(reverse("vehicles:detail", args=[mine.pk])).status_code == 200
    assert client.get(reverse("vehicles:detail", args=[theirs.pk])).status_code == 404


def test_oem_analyst_reads_any_dealer_of_the_brand_but_cannot_change(
    client_for, oem_analyst, vehicle
):
    client = client_for(oem_analyst)
    assert client.get(reverse("vehicles:detail", args=[vehicle.pk])).status_code == 200
    assert client.get(reverse("vehicles:edit", args=[vehicle.pk])).status_code == 403


def test_dealer_admin_without_vehicle_permission_gets_403(client_for, make_user, vehicle):
    admin = make_user(Role.DEALER_ADMIN)
    assert client_for(admin).get(reverse("vehicles:detail", args=[vehicle.pk])).status_code == 403


def test_owner_name_with_markup_is_shown_as_text(client_for, manager, dealer):
    vehicle = VehicleFactory(dealer=dealer, owner=CustomerFactory(dealer=dealer, name="<b>坏</b>"))
    html = client_for(manager).get(reverse("vehicles:detail", args=[vehicle.pk])).content.decode()
    assert "<b>坏</b>" not in html
    assert "&lt;b&gt;坏&lt;/b&gt;" in html


def test_create_form_adds_a_vehicle_for_the_customer(client_for, manager, dealer):
    owner = CustomerFactory(dealer=dealer)
    car_model = CarModelFactory()
    client = client_for(manager)
    url = reverse("vehicles:create") + f"?customer={owner.pk}"
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "customer": owner.pk,
            "car_model": car_model.pk,
            "vin": SAIC_VIN,
            "plate": "沪A 12345",
            "purchase_date": "2024-05-01",
            "mileage_km": "15",
        },
    )
    vehicle = Vehicle.objects.get(vin=SAIC_VIN)
    assert response.status_code == 302
    assert response["Location"] == reverse("vehicles:detail", args=[vehicle.pk])
    assert (vehicle.owner_id, vehicle.plate, vehicle.manufacturer) == (
        owner.pk,
        "沪A12345",
        "SAIC Volkswagen",
    )
    assert VehicleOwnership.objects.filter(vehicle=vehicle, customer=owner).exists()


def test_create_with_invalid_vin_and_plate_shows_field_errors_and_saves_nothing(
    client_for, manager, dealer
):
    owner = CustomerFactory(dealer=dealer)
    wrong = SAIC_VIN[:8] + ("0" if SAIC_VIN[8] != "0" else "1") + SAIC_VIN[9:]
    response = client_for(manager).post(
        reverse("vehicles:create"), {"customer": owner.pk, "vin": wrong, "plate": "沪A1234"}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "vin" in form.errors and "plate" in form.errors
    assert f"{SAIC_VIN[8]}" in form.errors["vin"][0]
    assert not Vehicle.objects.exists()


def test_create_for_another_dealers_customer_is_404(client_for, manager, other_dealer):
    stranger = CustomerFactory(dealer=other_dealer)
    client = client_for(manager)
    assert client.get(reverse("vehicles:create") + f"?customer={stranger.pk}").status_code == 404
    response = client.post(reverse("vehicles:create"), {"customer": stranger.pk, "vin": SAIC_VIN})
    assert response.status_code == 404
    assert not Vehicle.objects.exists()


def test_edit_saves_and_a_stale_form_is_refused_with_409(client_for, manager, make_user, vehicle):
    client = client_for(manager)
    url = reverse("vehicles:edit", args=[vehicle.pk])
    form = client.get(url).context["form"]
    assert form.initial["version"] == 1
    # Someone else saves in between
    vehicle_update(actor=make_user(Role.SERVICE_ADVISOR), vehicle=vehicle, version=1, colour="红")
    data = {"vin": vehicle.vin, "plate": vehicle.plate, "colour": "蓝", "version": 1}
    response = client.post(url, data)
    assert response.status_code == 409
    assert (
        "Nothing was saved" in response.content.decode() or "没有保存" in response.content.decode()
    )
    vehicle.refresh_from_db()
    assert vehicle.colour == "红"
    # With the fresh version it saves
    response = client.post(url, {**data, "version": 2})
    assert response.status_code == 302
    vehicle.refresh_from_db()
    assert (vehicle.colour, vehicle.version) == ("蓝", 3)


def test_transfer_page_moves_the_vehicle_to_the_new_owner(client_for, manager, vehicle):
    new_owner = CustomerFactory(dealer=vehicle.dealer, name="王五")
    client = client_for(manager)
    url = reverse("vehicles:transfer", args=[vehicle.pk])
    assert client.get(url + f"?customer={new_owner.pk}").status_code == 200
    today = datetime.date.today().isoformat()
    response = client.post(url, {"new_owner": new_owner.pk, "on": today, "version": 1})
    assert response.status_code == 302
    vehicle.refresh_from_db()
    assert vehicle.owner_id == new_owner.pk
    html = client.get(reverse("vehicles:detail", args=[vehicle.pk])).content.decode()
    assert "王五" in html


def test_transfer_to_another_dealers_customer_is_a_field_error(
    client_for, manager, vehicle, other_dealer
):
    stranger = CustomerFactory(dealer=other_dealer)
    response = client_for(manager).post(
        reverse("vehicles:transfer", args=[vehicle.pk]),
        {"new_owner": stranger.pk, "on": datetime.date.today().isoformat(), "version": 1},
    )
    assert response.status_code == 200
    assert "new_owner" in response.context["form"].errors
    vehicle.refresh_from_db()
    assert vehicle.owner_id != stranger.pk


def test_mileage_add_over_htmx_returns_the_mileage_card(client_for, manager, vehicle):
    response = client_for(manager).post(
        reverse("vehicles:mileage_add", args=[vehicle.pk]),
        {"km": "4321", "read_on": "2024-12-01", "source": "service"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="mileage"' in html
    assert "<html" not in html
    assert 'id="current-mileage" hx-swap-oob="true"' in html
    assert "4,321" in html or "4321" in html
    assert MileageReading.objects.get(vehicle=vehicle).km == 4321


def test_mileage_going_backwards_is_refused_on_the_page(client_for, manager, vehicle):
    mileage_reading_add(actor=manager, vehicle=vehicle, km=9000, read_on=datetime.date(2024, 6, 1))
    response = client_for(manager).post(
        reverse("vehicles:mileage_add", args=[vehicle.pk]),
        {"km": "100", "read_on": "2024-12-01", "source": "service"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "km" in response.context["mileage_form"].errors
    assert MileageReading.objects.filter(vehicle=vehicle).count() == 1


def test_mileage_add_without_htmx_redirects_to_the_vehicle(client_for, manager, vehicle):
    response = client_for(manager).post(
        reverse("vehicles:mileage_add", args=[vehicle.pk]),
        {"km": "100", "read_on": "2024-12-01", "source": "customer"},
    )
    assert response.status_code == 302


def test_catalogue_is_open_to_staff_but_managed_by_oem_admins(
    client_for, consultant, make_user, brand
):
    CarModelFactory(series="S9")
    response = client_for(consultant).get(reverse("vehicles:catalogue"))
    assert response.status_code == 200
    assert "S9" in response.content.decode()
    assert client_for(consultant).get(reverse("vehicles:car_model_create")).status_code == 403


def test_oem_admin_adds_and_edits_a_model_through_the_forms(client_for, make_user, brand):
    client = client_for(make_user(Role.OEM_ADMIN))
    data = {
        "brand": brand.pk,
        "make": "极光",
        "series": "S7",
        "name": "长续航版",
        "model_year": "2025",
        "body_type": "suv",
        "powertrain": "bev",
        "seats": "5",
        "list_price": "259800",
        "is_active": "on",
    }
    assert client.post(reverse("vehicles:car_model_create"), data).status_code == 302
    car_model = CarModel.objects.get(series="S7")
    url = reverse("vehicles:car_model_edit", args=[car_model.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {**data, "list_price": "239800"}).status_code == 302
    car_model.refresh_from_db()
    assert str(car_model.list_price) == "239800.00"


def test_catalogue_form_errors_name_the_field(client_for, make_user):
    client = client_for(make_user(Role.OEM_ADMIN))
    response = client.post(
        reverse("vehicles:car_model_create"),
        {
            "make": "极光",
            "series": "S7",
            "name": "X",
            "model_year": "2025",
            "body_type": "suv",
            "powertrain": "bev",
            "seats": "0",
            "list_price": "100",
        },
    )
    assert response.status_code == 200
    assert "seats" in response.context["form"].errors
    assert not CarModel.objects.filter(series="S7").exists()


def test_owner_lookup_lists_visible_customers_only(client_for, manager, dealer, other_dealer):
    CustomerFactory(dealer=dealer, name="欧阳娜娜")
    CustomerFactory(dealer=other_dealer, name="欧阳锋")
    for c in Customer.objects.all():
        search_keys_refresh(dealer_id=c.dealer_id, customer_ids=[c.pk])
    html = client_for(manager).get(reverse("vehicles:owner_lookup"), {"q": "欧阳"}).content.decode()
    assert "欧阳娜娜" in html
    assert "欧阳锋" not in html


def test_vehicle_page_is_in_chinese_by_default(client_for, manager, vehicle):
    html = client_for(manager).get(reverse("vehicles:detail", args=[vehicle.pk])).content.decode()
    assert "车主历史" in html
    assert "里程" in html


def test_create_without_an_owner_asks_for_one_and_saves_nothing(client_for, manager):
    client = client_for(manager)
    assert client.get(reverse("vehicles:create")).status_code == 200
    response = client.post(reverse("vehicles:create"), {"vin": SAIC_VIN})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Vehicle.objects.exists()
