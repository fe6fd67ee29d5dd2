"""Appointments and repair orders on the customer 360 timeline (one query each), the vehicle
page's service history panel, the advisor's workspace panel."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from dealercrm.core.permissions import Role
from dealercrm.customers.timeline import customer_timeline, timeline_providers
from dealercrm.service.models import AppointmentStatus, RepairKind
from dealercrm.service.timeline import appointment_timeline, repair_order_timeline
from dealercrm.service.workspace import advisor_panel
from tests.service.factories import (
    WORKSHOP_NOW,
    AppointmentFactory,
    RepairOrderFactory,
    workshop_at,
)
from tests.vehicles.factories import VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock_in_english():
    with time_machine.travel(WORKSHOP_NOW, tick=False), translation.override("en"):
        yield


@pytest.fixture
def car(dealer):
    return VehicleFactory(dealer=dealer)


def test_both_providers_are_registered():
    providers = timeline_providers()
    assert appointment_timeline in providers and repair_order_timeline in providers


def test_appointments_and_repair_orders_are_on_the_timeline_newest_first(car):
    AppointmentFactory(vehicle=car, starts_at=workshop_at(10), ends_at=workshop_at(11))
    RepairOrderFactory(
        vehicle=car,
        number="R20260301001",
        kind=RepairKind.REPAIR,
        opened_at=WORKSHOP_NOW - datetime.timedelta(days=9),
        total_amount=880,
    )
    entries = [e for e in customer_timeline(car.owner) if e.source == "service"]
    assert [e.kind for e in entries] == ["service_appointment", "repair_order"]
    assert entries[0].title == "Service appointment (Booked): Maintenance"
    assert entries[1].title == "Repair order R20260301001 (Open): Repair"
    assert "¥880.00" in entries[1].body
    assert entries[1].url.endswith(
        f"/repair-orders/{RepairOrderFactory._meta.model.objects.get().pk}/"
    )


def test_each_provider_runs_one_query_whatever_the_history(car, django_assert_num_queries):
    for n in range(5):
        AppointmentFactory(
            vehicle=car,
            starts_at=workshop_at(9 + n),
            ends_at=workshop_at(10 + n),
            status=AppointmentStatus.CANCELLED if n % 2 else AppointmentStatus.BOOKED,
        )
        RepairOrderFactory(vehicle=car, opened_at=WORKSHOP_NOW - datetime.timedelta(days=n + 1))
    with django_assert_num_queries(1):
        assert len(appointment_timeline(car.owner, limit=50, before=None)) == 5
    with django_assert_num_queries(1):
        assert len(repair_order_timeline(car.owner, limit=3, before=None)) == 3


def test_the_timeline_pages_older_entries_with_before(car):
    RepairOrderFactory(vehicle=car, number="NEW", opened_at=WORKSHOP_NOW)
    RepairOrderFactory(
        vehicle=car, number="OLD", opened_at=WORKSHOP_NOW - datetime.timedelta(days=30)
    )
    older = repair_order_timeline(car.owner, limit=10, before=WORKSHOP_NOW)
    assert [e.title.split()[2] for e in older] == ["OLD"]


def test_the_vehicle_page_shows_its_service_history(client_for, make_user, car):
    advisor = make_user(Role.SERVICE_ADVISOR, language="en")
    RepairOrderFactory(vehicle=car, number="R-HISTORY-1", mileage_km=23456)
    page = client_for(advisor).get(reverse("vehicles:detail", args=[car.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "data-service-history" in text and "R-HISTORY-1" in text and "23456" in text


def test_the_advisor_workspace_panel_lists_today_and_open_orders(make_user, dealer, car):
    advisor = make_user(Role.SERVICE_ADVISOR)
    AppointmentFactory(
        vehicle=car,
        starts_at=workshop_at(15, day=WORKSHOP_NOW.date()),
        ends_at=workshop_at(16, day=WORKSHOP_NOW.date()),
    )
    AppointmentFactory(vehicle=car)  # tomorrow: not today's
    RepairOrderFactory(vehicle=car, number="R-OPEN")
    panel = advisor_panel(advisor, today=WORKSHOP_NOW.date())
    assert len(panel.context["appointments"]) == 1
    assert [ro.number for ro in panel.context["repair_orders"]] == ["R-OPEN"]
    consultant = make_user(Role.SALES_CONSULTANT)
    assert advisor_panel(consultant, today=WORKSHOP_NOW.date()) is None


def test_the_workspace_shows_the_panel(client_for, make_user, car):
    advisor = make_user(Role.SERVICE_ADVISOR, language="en")
    RepairOrderFactory(vehicle=car, number="R-ON-WORKSPACE")
    page = client_for(advisor).get("/").content.decode()
    assert "Workshop today" in page and "R-ON-WORKSPACE" in page
