"""The mileage forecast and the next service of each vehicle (forecast_refresh)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealercrm.service.models import MaintenanceSchedule, VehicleServiceState
from dealercrm.service.models.forecast import ForecastRefresh
from dealercrm.service.models.records import RepairKind, RepairOrderStatus
from dealercrm.service.services.forecast import add_months, forecast_refresh
from dealercrm.vehicles.models import MileageReading
from tests.core.factories import DealerFactory
from tests.service.factories import RepairOrderFactory
from tests.vehicles.factories import CarModelFactory, MileageReadingFactory, VehicleFactory

pytestmark = pytest.mark.django_db

DELIVERY = datetime.date(2025, 1, 1)


def day(offset: int) -> datetime.date:
    return DELIVERY + datetime.timedelta(days=offset)


def at(d: datetime.date) -> datetime.datetime:
    return datetime.datetime(d.year, d.month, d.day, 10, 0, tzinfo=datetime.UTC)


def state_of(vehicle) -> VehicleServiceState:
    return VehicleServiceState.objects.get(vehicle=vehicle)


@pytest.fixture
def car_model():
    return CarModelFactory()


def a_vehicle(dealer, car_model, *, readings=(), delivery=DELIVERY):
    vehicle = VehicleFactory(dealer=dealer, car_model=car_model, delivery_date=delivery)
    for offset, km in readings:
        MileageReadingFactory(vehicle=vehicle, km=km, read_on=day(offset))
    return vehicle


def test_daily_distance_from_its_own_readings_counting_delivery_as_zero(dealer, car_model):
    vehicle = a_vehicle(dealer, car_model, readings=[(30, 1500), (60, 3000)])

    forecast_refresh(vehicle_ids=[vehicle.pk])

    state = state_of(vehicle)
    assert state.basis == "readings"
    assert state.daily_km == 50
    assert state.readings_used == 2
    assert (state.last_reading_on, state.last_reading_km) == (day(60), 3000)


def test_flagged_readings_are_not_used_and_are_counted(dealer, car_model):
    vehicle = a_vehicle(dealer, car_model, readings=[(30, 1500), (60, 3000)])
    MileageReadingFactory(vehicle=vehicle, km=300, read_on=day(45), flag=MileageReading.Flag.LOWER)

    forecast_refresh(vehicle_ids=[vehicle.pk])

    state = state_of(vehicle)
    assert (state.daily_km, state.readings_used, state.readings_flagged) == (50, 2, 1)


def test_a_mistyped_reading_does_not_derail_the_forecast(dealer, car_model):
    from dealercrm.service.services.forecast import readings_flag

    vehicle = a_vehicle(
        dealer, car_model, readings=[(100, 4000), (200, 40_000), (300, 12_000), (400, 16_000)]
    )

    readings_flag(vehicle_ids=[vehicle.pk])
    forecast_refresh(vehicle_ids=[vehicle.pk])

    state = state_of(vehicle)
    assert state.daily_km == 40
    assert state.readings_flagged == 1


def test_first_maintenance_by_distance_when_it_comes_before_the_months(dealer, car_model):
    # 50 km a day: 5,000 km on day 100, before the 6 months (1 July).
    vehicle = a_vehicle(dealer, car_model, readings=[(60, 3000)])

    forecast_refresh(vehicle_ids=[vehicle.pk])

    state = state_of(vehicle)
    assert state.next_service_kind == "first"
    assert state.next_service_km == 5000
    assert state.due_by_distance_on == day(100)
    assert state.due_by_time_on == datetime.date(2025, 7, 1)
    assert (state.next_service_on, state.due_reason) == (day(100), "distance")


def test_first_maintenance_by_time_when_the_car_is_driven_little(dealer, car_model):
    # 10 km a day: 5,000 km only on day 500, after the 6 months.
    vehicle = a_vehicle(dealer, car_model, readings=[(60, 600)])

    forecast_refresh(vehicle_ids=[vehicle.pk])

    state = state_of(vehicle)
    assert state.due_by_distance_on == day(500)
    assert (state.next_service_on, state.due_reason) == (datetime.date(2025, 7, 1), "time")


def test_regular_maintenance_counts_from_the_last_maintenance(dealer, car_model):
    vehicle = a_vehicle(dealer, car_model, readings=[(100, 5000), (200, 10_000)])
    RepairOrderFactory(
        vehicle=vehicle, kind=RepairKind.MAINTENANCE, opened_at=at(day(100)), mileage_km=5000
    )
    RepairOrderFactory(
        vehicle=vehicle, kind=RepairKind.REPAIR, opened_at=at(day(150)), mileage_km=7500
    )
    RepairOrderFactory(
        vehicle=vehicle,
        kind=RepairKind.MAINTENANCE,
        opened_at=at(day(180)),
        status=RepairOrderStatus.CANCELLED,
        mileage_km=9000,
    )

    forecast_refresh(vehicle_ids=[vehicle.pk])

    state = state_of(vehicle)
    assert (state.visits, state.last_visit_on) == (2, day(150))
    assert (state.maintenances, state.last_maintenance_on, state.last_maintenance_km) == (
        1,
        day(100),
        5000,
    )
    assert state.next_service_kind == "regular"
    # 50 km a day from 10,000 km on day 200: 15,000 km on day 300; 12 months → day 100 + 1 year.
    assert state.next_service_km == 15_000
    assert state.due_by_distance_on == day(300)
    assert state.due_by_time_on == add_months(day(100), 12)
    assert (state.next_service_on, state.due_reason) == (day(300), "distance")


def test_the_models_schedule_wins_over_the_network_default(dealer, car_model):
    MaintenanceSchedule.objects.create(car_model=None, first_km=3000, first_months=3)
    MaintenanceSchedule.objects.create(car_model=car_model, first_km=7500, first_months=12)
    other_model = CarModelFactory()
    own = a_vehicle(dealer, car_model, readings=[(60, 3000)])
    other = a_vehicle(dealer, other_model, readings=[(60, 3000)])

    forecast_refresh(full=True)

    assert state_of(own).next_service_km == 7500
    assert state_of(own).due_by_time_on == datetime.date(2026, 1, 1)
    assert state_of(other).next_service_km == 3000
    assert state_of(other).due_by_time_on == datetime.date(2025, 4, 1)


def test_too_few_readings_fall_back_to_the_model_in_the_region(dealer, car_model, other_dealer):
    for i in range(5):
        a_vehicle(dealer, car_model, readings=[(100, 3000 + i * 500)])  # 30…50 km a day
    for _ in range(5):
        a_vehicle(other_dealer, car_model, readings=[(100, 10_000)])  # another region
    lone = a_vehicle(dealer, car_model, readings=[(10, 100)])  # spans under 30 days

    forecast_refresh(full=True)

    state = state_of(lone)
    assert state.basis == "model_region"
    assert state.daily_km == 40


def test_fewer_than_five_in_the_region_fall_back_to_the_model(dealer, car_model, other_dealer):
    for _ in range(2):
        a_vehicle(dealer, car_model, readings=[(100, 2000)])
    for _ in range(3):
        a_vehicle(other_dealer, car_model, readings=[(100, 7000)])
    lone = a_vehicle(dealer, car_model)

    forecast_refresh(full=True)

    state = state_of(lone)
    assert state.basis == "model"
    assert state.daily_km == 50


def test_fewer_than_five_of_the_model_fall_back_to_the_network_default(dealer, car_model, settings):
    settings.SERVICE_DEFAULT_DAILY_KM = 40
    for _ in range(4):
        a_vehicle(dealer, car_model, readings=[(100, 9000)])
    lone = a_vehicle(dealer, car_model)

    forecast_refresh(full=True)

    state = state_of(lone)
    assert (state.basis, state.daily_km) == ("network", 40)
    # From delivery at 0 km: 5,000 km after 125 days, before the 6 months.
    assert state.due_by_distance_on == day(125)


def test_a_second_full_refresh_changes_nothing(dealer, car_model):
    vehicles = [a_vehicle(dealer, car_model, readings=[(60, 3000)]) for _ in range(3)]

    forecast_refresh(full=True)
    before = list(VehicleServiceState.objects.order_by("pk").values())
    forecast_refresh(full=True)
    after = list(VehicleServiceState.objects.order_by("pk").values())

    assert len(after) == len(vehicles)
    for row in before + after:
        row.pop("computed_at")
    assert before == after


def test_incremental_refresh_reads_only_what_changed_since_the_watermark(dealer, car_model):
    vehicles = [a_vehicle(dealer, car_model, readings=[(60, 3000)]) for _ in range(3)]
    assert forecast_refresh() == 3  # never refreshed: every vehicle
    assert forecast_refresh() == 0
    assert ForecastRefresh.objects.get(dealer=dealer).last_reading_id == (
        MileageReading.objects.order_by("-id").first().id
    )

    MileageReadingFactory(vehicle=vehicles[1], km=6000, read_on=day(120))
    RepairOrderFactory(vehicle=vehicles[2], opened_at=at(day(121)), mileage_km=6100)
    new_vehicle = a_vehicle(dealer, car_model)

    assert forecast_refresh() == 3
    assert state_of(vehicles[1]).last_reading_km == 6000
    assert state_of(vehicles[2]).visits == 1
    assert state_of(new_vehicle).basis == "network"
    assert forecast_refresh() == 0


def test_a_dealer_refresh_leaves_other_dealers_alone(dealer, other_dealer, car_model):
    mine = a_vehicle(dealer, car_model, readings=[(60, 3000)])
    theirs = a_vehicle(other_dealer, car_model, readings=[(60, 3000)])

    forecast_refresh(dealer_id=dealer.pk, full=True)

    assert VehicleServiceState.objects.filter(vehicle=mine).exists()
    assert not VehicleServiceState.objects.filter(vehicle=theirs).exists()
    assert not ForecastRefresh.objects.filter(dealer=other_dealer).exists()


def test_refresh_reports_progress_per_batch(dealer, car_model):
    for _ in range(3):
        a_vehicle(dealer, car_model)
    seen = []

    forecast_refresh(full=True, progress=lambda done, total: seen.append((done, total)))

    assert seen == [(3, 3)]


@pytest.mark.parametrize("full", [True, False])
def test_refresh_queries_do_not_grow_with_the_vehicles(car_model, full):
    def queries_for(n):
        dealer = DealerFactory()
        for i in range(n):
            v = a_vehicle(dealer, car_model, readings=[(60, 3000 + i)])
            RepairOrderFactory(vehicle=v, opened_at=at(day(61)))
        forecast_refresh(full=True)  # the network's averages, as the nightly job leaves them
        with CaptureQueriesContext(connection) as ctx:
            forecast_refresh(dealer_id=dealer.pk, full=full)
        return len(ctx)

    assert queries_for(6) == queries_for(30)


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(datetime.date(2025, 8, 31), 6) == datetime.date(2026, 2, 28)
    assert add_months(datetime.date(2023, 8, 31), 6) == datetime.date(2024, 2, 29)
    assert add_months(datetime.date(2025, 11, 15), 2) == datetime.date(2026, 1, 15)


def test_an_incremental_refresh_uses_the_averages_of_the_last_full_one(dealer, car_model):
    for _ in range(5):
        a_vehicle(dealer, car_model, readings=[(100, 4000)])
    forecast_refresh(full=True)
    newcomer = a_vehicle(dealer, car_model)

    assert forecast_refresh() == 1

    state = state_of(newcomer)
    assert (state.basis, state.daily_km) == ("model_region", 40)
