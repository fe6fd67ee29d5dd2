"""Maintenance schedules: the OEM's pages and API, the rules of a schedule, and the forecasts
that follow a change."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.service.models import MaintenanceSchedule, VehicleServiceState
from dealercrm.service.services.forecast import forecast_refresh
from dealercrm.service.services.schedules import (
    maintenance_schedule_reset,
    maintenance_schedule_save,
)
from tests.core.factories import BrandFactory
from tests.vehicles.factories import CarModelFactory, MileageReadingFactory, VehicleFactory

# The messages are read in English (the UI default is Chinese).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

NUMBERS = {"first_km": 3000, "first_months": 3, "interval_km": 7500, "interval_months": 6}


@pytest.fixture
def oem_admin(make_user):
    return make_user(Role.OEM_ADMIN, language="en")


@pytest.fixture
def car_model(brand):
    return CarModelFactory(brand=brand)


def test_a_schedule_saved_recomputes_the_models_forecasts_after_commit(
    dealer, car_model, oem_admin, django_capture_on_commit_callbacks
):
    vehicle = VehicleFactory(
        dealer=dealer, car_model=car_model, delivery_date=datetime.date(2025, 1, 1)
    )
    MileageReadingFactory(vehicle=vehicle, km=600, read_on=datetime.date(2025, 3, 2))
    forecast_refresh(full=True)
    assert VehicleServiceState.objects.get(vehicle=vehicle).next_service_km == 5000

    with django_capture_on_commit_callbacks(execute=True):
        maintenance_schedule_save(actor=oem_admin, car_model=car_model, **NUMBERS)

    state = VehicleServiceState.objects.get(vehicle=vehicle)
    assert state.next_service_km == 3000
    assert state.due_by_time_on == datetime.date(2025, 4, 1)


def test_saving_again_changes_the_same_row(car_model, oem_admin):
    first = maintenance_schedule_save(actor=oem_admin, car_model=car_model, **NUMBERS)
    second = maintenance_schedule_save(
        actor=oem_admin, car_model=car_model, **{**NUMBERS, "interval_km": 10_000}
    )

    assert first.pk == second.pk
    assert MaintenanceSchedule.objects.get().interval_km == 10_000


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_km", 0, "First maintenance at (km) must be at least 1, not 0."),
        ("interval_months", 0, "Then every (months) must be at least 1, not 0."),
        ("interval_km", -5, "Then every (km) must be at least 1, not -5."),
        ("first_months", 61, "First maintenance after (months) cannot be more than 60."),
        ("first_km", None, "First maintenance at (km): give a number."),
    ],
)
def test_a_schedule_needs_whole_numbers_from_one(car_model, oem_admin, field, value, message):
    with pytest.raises(ValidationError) as error:
        maintenance_schedule_save(actor=oem_admin, car_model=car_model, **{**NUMBERS, field: value})

    assert error.value.message_dict == {field: [message]}
    assert not MaintenanceSchedule.objects.exists()


def test_the_network_default_cannot_be_removed(oem_admin):
    default = maintenance_schedule_save(actor=oem_admin, car_model=None, **NUMBERS)

    with pytest.raises(ValidationError):
        maintenance_schedule_reset(actor=oem_admin, schedule=default)


def test_a_model_reset_follows_the_network_default(car_model, oem_admin):
    own = maintenance_schedule_save(actor=oem_admin, car_model=car_model, **NUMBERS)

    maintenance_schedule_reset(actor=oem_admin, schedule=own)

    assert not MaintenanceSchedule.objects.filter(car_model=car_model).exists()


def test_the_list_shows_every_model_with_its_schedule_or_the_default(
    client_for, oem_admin, car_model, django_assert_max_num_queries
):
    other = CarModelFactory(brand=car_model.brand, series="另一款")
    maintenance_schedule_save(actor=oem_admin, car_model=car_model, **NUMBERS)
    client = client_for(oem_admin)

    with django_assert_max_num_queries(12):
        page = client.get(reverse("service:schedules")).content.decode()

    assert f'data-model="{car_model.pk}"' in page
    assert f'data-model="{other.pk}"' in page
    assert "7,500" in page
    assert "network default" in page
    assert reverse("service:schedule_create", kwargs={"car_model_id": other.pk}) in page


def test_the_form_saves_and_shows_the_services_message(client_for, oem_admin, car_model):
    client = client_for(oem_admin)
    url = reverse("service:schedule_create", kwargs={"car_model_id": car_model.pk})

    bad = client.post(url, {**NUMBERS, "interval_months": 0})
    good = client.post(url, NUMBERS)

    assert bad.status_code == 200
    assert "Then every (months) must be at least 1, not 0." in bad.content.decode()
    assert good.status_code == 302
    schedule = MaintenanceSchedule.objects.get(car_model=car_model)
    assert client.get(reverse("service:schedule_create", kwargs={"car_model_id": car_model.pk}))[
        "Location"
    ] == reverse("service:schedule_edit", kwargs={"schedule_id": schedule.pk})


def test_the_default_page_creates_the_network_default(client_for, oem_admin):
    response = client_for(oem_admin).post(reverse("service:schedule_default"), NUMBERS)

    assert response.status_code == 302
    assert MaintenanceSchedule.objects.get(car_model=None).first_km == 3000


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.OEM_ADMIN, 200),
        (Role.SYSTEM_ADMIN, 200),
        (Role.OEM_ANALYST, 403),
        (Role.DEALER_MANAGER, 403),
        (Role.SERVICE_ADVISOR, 403),
    ],
)
def test_only_schedule_managers_open_the_schedules(client_for, make_user, role, status):
    response = client_for(make_user(role)).get(reverse("service:schedules"))

    assert response.status_code == status


def test_another_brands_model_is_not_found(client_for, oem_admin):
    foreign = CarModelFactory(brand=BrandFactory(code="other", name="别的品牌"))

    response = client_for(oem_admin).get(
        reverse("service:schedule_create", kwargs={"car_model_id": foreign.pk})
    )

    assert response.status_code == 404


def test_the_api_lists_and_changes_schedules(client_for, oem_admin, car_model):
    own = maintenance_schedule_save(actor=oem_admin, car_model=car_model, **NUMBERS)
    client = client_for(oem_admin)

    listed = client.get("/api/service/schedules").json()
    changed = client.put(
        f"/api/service/schedules/{own.pk}",
        {**NUMBERS, "first_km": 4000},
        content_type="application/json",
    )
    refused = client.put(
        f"/api/service/schedules/{own.pk}",
        {**NUMBERS, "interval_km": 0},
        content_type="application/json",
    )
    created = client.put(
        f"/api/service/schedules/models/{CarModelFactory(brand=car_model.brand).pk}",
        NUMBERS,
        content_type="application/json",
    )

    assert [row["car_model_id"] for row in listed] == [car_model.pk]
    assert changed.status_code == 200
    assert changed.json()["first_km"] == 4000
    assert refused.status_code == 422
    assert "Then every (km) must be at least 1, not 0." in refused.content.decode()
    assert created.status_code == 200
    assert MaintenanceSchedule.objects.count() == 2
