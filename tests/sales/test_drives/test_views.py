"""The test-drive pages: the calendar (fixed queries, masked phones, what a consultant may see),
booking from a free slot or from a lead, and a test drive's page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from dealercrm.bookings.models import Booking
from dealercrm.core.permissions import Role
from dealercrm.sales.models import LeadStage, TestDrive, TestDriveStatus
from dealercrm.sales.services import test_drives as svc
from tests.customers.factories import CustomerPhoneFactory
from tests.sales.factories import DemoCarFactory, LeadFactory
from tests.sales.test_drives.conftest import TOMORROW, at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def colleague(make_user):
    return make_user(Role.SALES_CONSULTANT, display_name="李娜")


def calendar_url(**params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("sales:test_drives") + (f"?{query}" if query else "")


def test_day_calendar_shows_bookings_with_masked_phone_in_fixed_queries(
    client_for, consultant, lead, car, dealer, colleague, django_assert_max_num_queries
):
    # Given three demo cars, the consultant's test drive and a colleague's
    DemoCarFactory(dealer=dealer, name="试驾车 2", plate="沪A22222")
    DemoCarFactory(dealer=dealer, name="试驾车 3", plate="沪A33333")
    svc.test_drive_book(actor=consultant, lead=lead, demo_car=car, starts_at=at(10))
    theirs = LeadFactory(dealer=dealer, consultant=colleague)
    theirs.customer.name = "王芳"
    theirs.customer.save()
    CustomerPhoneFactory(customer=theirs.customer, number="+8613987654321")
    svc.test_drive_book(actor=colleague, lead=theirs, demo_car=car, starts_at=at(14))
    client = client_for(consultant)
    # When the consultant opens tomorrow's day view
    with django_assert_max_num_queries(14):
        response = client.get(calendar_url(day=TOMORROW.isoformat()))
    assert response.status_code == 200
    body = response.content.decode()
    # Then their own booking shows the customer with the phone masked, never in full
    assert "张伟" in body and "138****5678" in body and "13812345678" not in body
    # … the colleague's shows as taken, with the colleague, but not who the customer is
    assert "王芳" not in body and "139****4321" not in body
    assert "李娜" in body
    # … and free slots are offered (09:00 of car 2 is free)
    assert body.count("data-free") > 20
    assert body.count("data-booked") == 2


def test_htmx_navigation_gets_only_the_grid(client_for, consultant, car):
    response = client_for(consultant).get(
        calendar_url(day=TOMORROW.isoformat()), headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div class="card" id="test-drive-grid">')
    assert "<html" not in body


def test_week_calendar_lists_the_days_bookings(client_for, consultant, lead, car):
    svc.test_drive_book(actor=consultant, lead=lead, demo_car=car, starts_at=at(10))
    response = client_for(consultant).get(calendar_url(day=TOMORROW.isoformat(), view="week"))
    assert response.status_code == 200
    assert "10:00–11:00" in response.content.decode()


def test_booking_a_free_slot_from_the_calendar(client_for, consultant, lead, car):
    response = client_for(consultant).post(
        reverse("sales:test_drives"),
        {"lead": lead.pk, "demo_car": car.pk, "starts_at": "2026-03-11T10:00", "minutes": "60"},
    )
    assert response.status_code == 302
    test_drive = TestDrive.objects.get()
    assert response["Location"] == reverse(
        "sales:test_drive", kwargs={"test_drive_id": test_drive.pk}
    )
    assert test_drive.starts_at == at(10)


def test_a_taken_slot_is_refused_on_the_calendar_with_the_reason(
    client_for, consultant, lead, car, dealer
):
    svc.test_drive_book(actor=consultant, lead=lead, demo_car=car, starts_at=at(10))
    second = LeadFactory(dealer=dealer, consultant=consultant)
    response = client_for(consultant).post(
        reverse("sales:test_drives"),
        {"lead": second.pk, "demo_car": car.pk, "starts_at": "2026-03-11T10:30"},
    )
    assert response.status_code == 400
    assert "试驾车 1 is booked 10:00–11:00 on 2026-03-11" in response.content.decode()
    assert TestDrive.objects.count() == 1 and Booking.objects.count() == 1


def test_a_consultant_cannot_book_for_a_colleagues_lead(
    client_for, consultant, colleague, car, dealer
):
    theirs = LeadFactory(dealer=dealer, consultant=colleague)
    response = client_for(consultant).post(
        reverse("sales:test_drives"),
        {"lead": theirs.pk, "demo_car": car.pk, "starts_at": "2026-03-11T10:00"},
    )
    assert response.status_code == 400
    assert not TestDrive.objects.exists()
    url = reverse("sales:test_drive_book", kwargs={"lead_id": theirs.pk})
    assert client_for(consultant).get(url).status_code == 404


def test_booking_page_of_a_lead(
    client_for, consultant, lead, car, dealer, django_assert_max_num_queries
):
    for n in range(2, 6):
        DemoCarFactory(dealer=dealer, name=f"试驾车 {n}", plate=f"沪A1111{n}")
    url = reverse("sales:test_drive_book", kwargs={"lead_id": lead.pk})
    client = client_for(consultant)
    with django_assert_max_num_queries(9):
        assert client.get(url).status_code == 200
    response = client_for(consultant).post(
        url,
        {
            "demo_car": car.pk,
            "starts_at": "2026-03-11T15:00",
            "pickup": "on",
            "pickup_address": "世纪大道100号",
        },
    )
    assert response.status_code == 302
    test_drive = TestDrive.objects.get()
    assert (test_drive.starts_at, test_drive.pickup_address) == (at(15), "世纪大道100号")


def test_booking_page_refuses_the_past_and_another_dealers_car(
    client_for, consultant, lead, car, other_dealer
):
    url = reverse("sales:test_drive_book", kwargs={"lead_id": lead.pk})
    past = client_for(consultant).post(url, {"demo_car": car.pk, "starts_at": "2026-03-10T07:00"})
    assert "in the past" in past.content.decode()
    foreign = DemoCarFactory(dealer=other_dealer, plate="京A12345")
    response = client_for(consultant).post(
        url, {"demo_car": foreign.pk, "starts_at": "2026-03-11T10:00"}
    )
    assert response.context["form"].errors["demo_car"]
    assert not TestDrive.objects.exists()


def test_detail_page_records_licence_then_outcome_and_advances_the_lead(
    client_for, consultant, lead, car, clock, django_assert_max_num_queries
):
    test_drive = svc.test_drive_book(actor=consultant, lead=lead, demo_car=car, starts_at=at(10))
    url = reverse("sales:test_drive", kwargs={"test_drive_id": test_drive.pk})
    client = client_for(consultant)
    with django_assert_max_num_queries(10):
        page = client.get(url)
    assert "138****5678" in page.content.decode()
    clock.move_to(at(10))
    expired = client.post(url, {"action": "licence", "valid_until": "2026-03-01"})
    assert expired.status_code == 400 and "expired on 2026-03-01" in expired.content.decode()
    too_early = client.post(url, {"action": "complete", "rating": "5"})
    assert "Check the driving licence" in too_early.content.decode()
    assert client.post(url, {"action": "licence", "valid_until": "2031-06-30"}).status_code == 302
    done = client.post(url, {"action": "complete", "rating": "5", "feedback": "很满意"})
    assert done.status_code == 302
    test_drive.refresh_from_db()
    assert (test_drive.status, test_drive.rating) == (TestDriveStatus.COMPLETED, 5)
    lead.refresh_from_db()
    assert lead.stage == LeadStage.TEST_DRIVE


def test_detail_page_cancels(client_for, consultant, lead, car):
    test_drive = svc.test_drive_book(actor=consultant, lead=lead, demo_car=car, starts_at=at(10))
    url = reverse("sales:test_drive", kwargs={"test_drive_id": test_drive.pk})
    response = client_for(consultant).post(url, {"action": "cancel", "reason": "改天"})
    assert response.status_code == 302
    test_drive.refresh_from_db()
    assert test_drive.status == TestDriveStatus.CANCELLED


def test_a_colleagues_test_drive_is_404_for_a_consultant_but_open_to_the_manager(
    client_for, colleague, manager, consultant, car, dealer
):
    theirs = LeadFactory(dealer=dealer, consultant=colleague)
    test_drive = svc.test_drive_book(actor=colleague, lead=theirs, demo_car=car, starts_at=at(10))
    url = reverse("sales:test_drive", kwargs={"test_drive_id": test_drive.pk})
    assert client_for(consultant).get(url).status_code == 404
    assert client_for(manager).get(url).status_code == 200


def test_lead_section_lists_the_leads_test_drives(rf, consultant, lead, car):
    from django.template.loader import render_to_string

    from dealercrm.sales.selectors import test_drives as selectors

    svc.test_drive_book(actor=consultant, lead=lead, demo_car=car, starts_at=at(10))
    request = rf.get("/")
    request.user = consultant
    html = render_to_string(
        "sales/test_drives/_lead_section.html",
        {"lead": lead, "lead_test_drives": selectors.lead_test_drives(lead)},
        request=request,
    )
    assert "试驾车 1" in html
    assert reverse("sales:test_drive_book", kwargs={"lead_id": lead.pk}) in html
