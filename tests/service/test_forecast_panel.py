"""The vehicle page's "Next service" panel, the forecast API and the mileage table's flags."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.test import RequestFactory
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.service.forecast_panel import next_service_panel
from dealercrm.service.services.forecast import forecast_refresh
from dealercrm.vehicles.models import MileageReading
from tests.vehicles.factories import CarModelFactory, MileageReadingFactory, VehicleFactory

pytestmark = pytest.mark.django_db

DELIVERY = datetime.date(2026, 9, 2)


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(datetime.datetime(2027, 1, 5, 10, 0, tzinfo=datetime.UTC), tick=False):
        yield


@pytest.fixture
def car(dealer):
    """Delivered 2026-09-02; 42 km a day by five readings; one reading mistyped lower."""
    vehicle = VehicleFactory(
        dealer=dealer,
        car_model=CarModelFactory(series="星辰"),
        delivery_date=DELIVERY,
    )
    for days in (20, 40, 60, 80, 100):
        MileageReadingFactory(
            vehicle=vehicle, km=42 * days, read_on=DELIVERY + datetime.timedelta(days=days)
        )
    MileageReadingFactory(
        vehicle=vehicle,
        km=250,
        read_on=DELIVERY + datetime.timedelta(days=70),
        flag=MileageReading.Flag.LOWER,
    )
    forecast_refresh(vehicle_ids=[vehicle.pk])
    return vehicle


def why(page: str) -> str:
    match = re.search(r"data-forecast-why>(.*?)</p>", page, re.S)
    assert match, "no forecast explanation on the page"
    return " ".join(match.group(1).split())


def test_the_panel_says_when_and_why_in_english(client_for, make_user, car):
    user = make_user(Role.SERVICE_ADVISOR, language="en")

    page = client_for(user).get(reverse("vehicles:detail", args=[car.pk])).content.decode()

    # 5,000 km at 42 km/day from 4,200 km on day 100: day 119 (2026-12-30); 6 months: 2027-03-02.
    assert "data-next-service" in page
    assert "2026-12-30" in page
    assert why(page) == (
        "Forecast 42 km/day from 5 readings (1 ignored: lower than an earlier reading). "
        "First maintenance at 5,000 km or 6 months after delivery, whichever comes first: "
        "5,000 km is expected on 2026-12-30, before the 6 months on 2027-03-02."
    )
    assert "Overdue" in page  # 2026-12-30 is before today (2027-01-05)


def test_the_panel_says_when_and_why_in_chinese(client_for, make_user, car):
    user = make_user(Role.SERVICE_ADVISOR, language="zh-hans")

    page = client_for(user).get(reverse("vehicles:detail", args=[car.pk])).content.decode()

    assert why(page) == (
        "预测每天行驶 42 公里，依据 5 条读数（忽略 1 条：低于更早的读数）。"
        "首保在 5,000 公里或交车后 6 个月，以先到者为准：预计 2026-12-30 达到 5,000 公里，"
        "早于 2027-03-02 满 6 个月。"
    )


def test_the_time_limit_explained_when_it_comes_first(client_for, make_user, dealer):
    vehicle = VehicleFactory(dealer=dealer, delivery_date=DELIVERY)
    MileageReadingFactory(vehicle=vehicle, km=600, read_on=DELIVERY + datetime.timedelta(days=60))
    forecast_refresh(vehicle_ids=[vehicle.pk])
    user = make_user(Role.SERVICE_ADVISOR, language="en")

    page = client_for(user).get(reverse("vehicles:detail", args=[vehicle.pk])).content.decode()

    assert why(page).endswith(
        "whichever comes first: the 6 months end on 2027-03-02, before 5,000 km is expected "
        "on 2028-01-15."
    )


def test_a_vehicle_not_yet_forecast_says_so(client_for, make_user, dealer):
    vehicle = VehicleFactory(dealer=dealer)
    user = make_user(Role.SERVICE_ADVISOR, language="en")

    page = client_for(user).get(reverse("vehicles:detail", args=[vehicle.pk])).content.decode()

    assert "No forecast yet" in page


def test_no_panel_without_the_service_permission(make_user, car):
    request = RequestFactory().get("/")
    request.user = make_user(Role.DEALER_ADMIN)

    assert next_service_panel(request, car) is None


def test_the_panel_runs_a_fixed_number_of_queries(make_user, car, django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user = make_user(Role.SERVICE_ADVISOR)

    with django_assert_num_queries(3):
        next_service_panel(request, car)


def test_flagged_readings_are_struck_through_with_the_reason(client_for, make_user, car):
    user = make_user(Role.SERVICE_ADVISOR, language="en")

    page = client_for(user).get(reverse("vehicles:detail", args=[car.pk])).content.decode()

    assert "<del>250</del>" in page
    assert "Lower than an earlier reading" in page
    assert "<del>4,200</del>" not in page
    chart = page.split('id="mileage-data"')[1].split("</script>")[0]
    assert "4200]" in chart
    assert "250]" not in chart


def test_the_api_gives_the_forecast_and_why(client_for, make_user, car):
    user = make_user(Role.SERVICE_ADVISOR, language="en")

    body = client_for(user).get(f"/api/service/vehicles/{car.pk}/forecast").json()

    assert body["computed"] is True
    assert body["next_service_on"] == "2026-12-30"
    assert (body["next_service_km"], body["due_reason"], body["basis"]) == (
        5000,
        "distance",
        "readings",
    )
    assert body["readings_ignored"] == {"lower": 1}
    assert body["why"][0].startswith("Forecast 42 km/day from 5 readings")


def test_the_api_says_when_there_is_no_forecast_yet(client_for, make_user, dealer):
    vehicle = VehicleFactory(dealer=dealer)
    user = make_user(Role.SERVICE_ADVISOR, language="en")

    body = client_for(user).get(f"/api/service/vehicles/{vehicle.pk}/forecast").json()

    assert body["computed"] is False
    assert body["next_service_on"] is None
