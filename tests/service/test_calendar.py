"""The service calendar page: bays × slots with who holds them, the capacity used, booking a
free slot, the week view; the appointment pages (create, actions); the settings page."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.service.models import Appointment, AppointmentStatus, ServicePolicy
from dealercrm.service.services.appointments import appointment_create
from tests.customers.factories import CustomerPhoneFactory
from tests.service.factories import WORKSHOP_NOW, ServiceBayFactory, workshop_at
from tests.vehicles.factories import VehicleFactory

at = workshop_at
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(WORKSHOP_NOW, tick=False):
        yield


@pytest.fixture
def advisor(make_user):
    return make_user(Role.SERVICE_ADVISOR, language="en")


@pytest.fixture
def bay(dealer):
    return ServiceBayFactory(dealer=dealer, name="工位1")


@pytest.fixture
def car(dealer):
    vehicle = VehicleFactory(dealer=dealer)
    CustomerPhoneFactory(customer=vehicle.owner, number="+8613812341234", is_primary=True)
    return vehicle


def test_the_day_shows_who_holds_each_bay_and_the_capacity_used(client_for, advisor, bay, car):
    appointment_create(
        actor=None, customer=car.owner, vehicle=car, starts_at=at(9, 30), channel="phone"
    )
    response = client_for(advisor).get(reverse("service:calendar"), {"day": "2026-03-11"})
    page = response.content.decode()
    assert response.status_code == 200
    assert car.owner.name in page
    assert "138****1234" in page and "+8613812341234" not in page
    assert car.plate in page
    assert "Maintenance" in page
    assert "1 / 40" in page
    assert page.count("data-free") == 8  # 9 slots of 08:30–17:30, one booked


def test_a_free_slot_books_in_one_post(client_for, advisor, bay, car):
    response = client_for(advisor).post(
        reverse("service:calendar"),
        {
            "day": "2026-03-11",
            "car": car.plate,
            "starts_at": "2026-03-11T14:30",
            "bay": bay.pk,
            "channel": "phone",
            "kind": "repair",
        },
    )
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response.url == reverse(
        "service:appointment_detail", kwargs={"appointment_id": appointment.pk}
    )
    assert appointment.starts_at == at(14, 30)
    assert appointment.customer_id == car.owner_id
    assert appointment.bay_booking.resource == bay


def test_a_refused_booking_shows_why(client_for, advisor, bay, car):
    response = client_for(advisor).post(
        reverse("service:calendar"),
        {
            "day": "2026-03-11",
            "car": car.plate,
            "starts_at": "2026-03-11T07:00",
            "channel": "phone",
            "kind": "repair",
        },
    )
    assert response.status_code == 400
    assert "outside these hours" in response.content.decode()
    assert not Appointment.objects.exists()


def test_the_week_view_and_htmx_grid_render(client_for, advisor, bay, car):
    appointment_create(
        actor=None, customer=car.owner, vehicle=car, starts_at=at(10), channel="phone"
    )
    client = client_for(advisor)
    week = client.get(reverse("service:calendar"), {"day": "2026-03-11", "view": "week"})
    assert week.status_code == 200 and car.owner.name in week.content.decode()
    grid = client.get(reverse("service:calendar"), {"day": "2026-03-12"}, HTTP_HX_REQUEST="true")
    assert grid.status_code == 200
    assert "<html" not in grid.content.decode()


def test_the_calendar_query_count_does_not_grow_with_bookings(
    client_for, advisor, dealer, bay, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ServiceBayFactory(dealer=dealer, name="工位2")
    client = client_for(advisor)
    url = reverse("service:calendar") + "?day=2026-03-11"
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    appointment_create(
        actor=None, customer=VehicleFactory(dealer=dealer).owner, starts_at=at(9), channel="phone"
    )
    few = count()
    for hour in (10, 11, 12, 13):
        vehicle = VehicleFactory(dealer=dealer)
        appointment_create(
            actor=None, customer=vehicle.owner, vehicle=vehicle, starts_at=at(hour), channel="phone"
        )
    assert count() == few


def test_a_closed_day_says_so(client_for, advisor, dealer, bay):
    ServicePolicy.objects.create(dealer=dealer, open_weekdays=[0, 1, 2, 3, 4])
    page = client_for(advisor).get(reverse("service:calendar"), {"day": "2026-03-14"})
    assert "closed on this day" in page.content.decode()


def test_create_page_books_for_the_customer_given(client_for, advisor, bay, car):
    client = client_for(advisor)
    url = reverse("service:appointment_create")
    form = client.get(url, {"customer": car.owner_id, "vehicle": car.pk})
    assert form.status_code == 200 and car.plate in form.content.decode()
    response = client.post(
        url,
        {
            "customer": car.owner_id,
            "vehicle": car.pk,
            "starts_at": "2026-03-11T09:30",
            "minutes": 90,
            "channel": "online",
            "kind": "maintenance",
        },
    )
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert (appointment.starts_at, appointment.ends_at) == (at(9, 30), at(11))
    assert appointment.channel == "online"


def test_detail_actions_cancel_and_arrive(client_for, advisor, dealer, bay, car):
    first = appointment_create(
        actor=None, customer=car.owner, vehicle=car, starts_at=at(10), channel="phone"
    )
    client = client_for(advisor)
    url = reverse("service:appointment_detail", kwargs={"appointment_id": first.pk})
    assert client.get(url).status_code == 200
    assert client.post(url, {"action": "cancel", "reason": "下雨"}).status_code == 302
    first.refresh_from_db()
    assert first.status == AppointmentStatus.CANCELLED
    second = appointment_create(
        actor=None, customer=car.owner, vehicle=car, starts_at=at(10), channel="phone"
    )
    url = reverse("service:appointment_detail", kwargs={"appointment_id": second.pk})
    with time_machine.travel(at(9, 55), tick=False):
        response = client.post(url, {"action": "arrive", "mileage_km": "8000"})
    assert response.status_code == 302
    assert "/repair-orders/" in response.url


def test_appointment_list_shows_todays_and_filters(client_for, advisor, bay, car):
    appointment_create(
        actor=None, customer=car.owner, vehicle=car, starts_at=at(10), channel="phone"
    )
    client = client_for(advisor)
    assert (
        car.owner.name
        not in client.get(
            reverse("service:appointment_list"), {"day_from": "2026-03-12"}
        ).content.decode()
    )
    page = client.get(reverse("service:appointment_list")).content.decode()
    assert car.owner.name in page and "138****1234" in page


def test_the_settings_page_saves_for_a_manager(client_for, make_user, dealer):
    manager = make_user(Role.DEALER_MANAGER, language="en")
    client = client_for(manager)
    assert client.get(reverse("service:policy")).status_code == 200
    response = client.post(
        reverse("service:policy"),
        {
            "opens_at": "08:00",
            "closes_at": "18:00",
            "open_weekdays": ["0", "1", "2", "3", "4", "5"],
            "slot_minutes": "30",
            "daily_capacity": "25",
        },
    )
    assert response.status_code == 302
    policy = ServicePolicy.objects.get(dealer=dealer)
    assert (policy.slot_minutes, policy.daily_capacity, policy.open_weekdays) == (
        30,
        25,
        [0, 1, 2, 3, 4, 5],
    )
    refused = client.post(
        reverse("service:policy"),
        {
            "opens_at": "18:00",
            "closes_at": "08:00",
            "open_weekdays": ["0"],
            "slot_minutes": "30",
            "daily_capacity": "25",
        },
    )
    assert refused.status_code == 400
    assert "must close after it opens" in refused.content.decode()


def test_the_appointment_list_query_count_does_not_grow_with_rows(
    client_for, advisor, dealer, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(3):
        ServiceBayFactory(dealer=dealer, name=f"B{n}")
    client = client_for(advisor)
    url = reverse("service:appointment_list") + "?day_from=2026-03-11"
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    def book_one(hour: int) -> None:
        vehicle = VehicleFactory(dealer=dealer)
        CustomerPhoneFactory(customer=vehicle.owner)
        appointment_create(
            actor=None, customer=vehicle.owner, vehicle=vehicle, starts_at=at(hour), channel="phone"
        )

    book_one(9)
    few = count()
    for hour in (10, 11, 12, 13, 14):
        book_one(hour)
    assert count() == few
    with django_assert_max_num_queries(12):
        page = client.get(url).content.decode()
    assert page.count("data-appointment=") == 6


def test_the_api_books_gets_and_cancels(client_for, advisor, bay, car):
    client = client_for(advisor)
    payload = {
        "customer_id": car.owner_id,
        "vehicle_id": car.pk,
        "starts_at": "2026-03-11T10:00:00",
        "source_kind": "care.occurrence",
        "source_id": "7",
    }
    created = client.post("/api/service/appointments", payload, content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["bay"] == "工位1" and body["customer_phone"] == "138****1234"
    again = client.post("/api/service/appointments", payload, content_type="application/json")
    assert again.json()["id"] == body["id"]
    slots = client.get("/api/service/appointments/free-slots", {"day": "2026-03-11"}).json()
    assert {s["free_bays"] for s in slots} == {0, 1}
    cancelled = client.post(
        f"/api/service/appointments/{body['id']}/cancel",
        {"reason": "改期"},
        content_type="application/json",
    )
    assert cancelled.json()["status"] == "cancelled"
    listed = client.get("/api/service/appointments", {"status": "cancelled"}).json()
    assert listed["count"] == 1


def test_the_api_refuses_a_full_slot_with_422(client_for, advisor, dealer, bay, car):
    other = VehicleFactory(dealer=dealer)
    appointment_create(
        actor=None, customer=other.owner, vehicle=other, starts_at=at(10), channel="phone"
    )
    response = client_for(advisor).post(
        "/api/service/appointments",
        {"customer_id": car.owner_id, "vehicle_id": car.pk, "starts_at": "2026-03-11T10:00:00"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "starts_at" in response.json()["detail"] or "starts_at" in str(response.json())
