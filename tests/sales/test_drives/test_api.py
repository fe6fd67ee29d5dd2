"""The test-drive API: list by range, book (no double booking), licence check, complete, cancel."""

from __future__ import annotations

import pytest
from django.utils import translation

from dealercrm.bookings.models import Booking
from dealercrm.core.permissions import Role
from dealercrm.sales.models import LeadStage, TestDrive
from tests.sales.factories import DemoCarFactory, LeadFactory
from tests.sales.test_drives.conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


def test_book_list_and_work_a_test_drive(client_for, consultant, lead, car, clock):
    client = client_for(consultant)
    booked = post(
        client,
        "/api/sales/test-drives",
        {"lead_id": lead.pk, "demo_car_id": car.pk, "starts_at": "2026-03-11T10:00"},
    )
    assert booked.status_code == 201, booked.content
    data = booked.json()
    assert data["customer_phone"] == "138****5678"
    test_drive_id = data["id"]

    listed = client.get(
        "/api/sales/test-drives", {"start": "2026-03-11T00:00", "end": "2026-03-12T00:00"}
    ).json()
    assert [t["id"] for t in listed] == [test_drive_id]

    base = f"/api/sales/test-drives/{test_drive_id}"
    expired = post(client, f"{base}/licence-check", {"valid_until": "2026-01-01"})
    assert expired.status_code == 422
    assert "valid_until" in expired.json()["errors"]
    assert post(client, f"{base}/licence-check", {"valid_until": "2030-01-01"}).status_code == 200
    clock.move_to(at(11))
    done = post(client, f"{base}/complete", {"rating": 5, "feedback": "满意"})
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "completed"
    lead.refresh_from_db()
    assert lead.stage == LeadStage.TEST_DRIVE


def test_double_booking_is_refused_with_the_clash(client_for, consultant, lead, car, dealer):
    client = client_for(consultant)
    first = post(
        client,
        "/api/sales/test-drives",
        {"lead_id": lead.pk, "demo_car_id": car.pk, "starts_at": at(10).isoformat()},
    )
    assert first.status_code == 201
    other = LeadFactory(dealer=dealer, consultant=consultant)
    second = post(
        client,
        "/api/sales/test-drives",
        {"lead_id": other.pk, "demo_car_id": car.pk, "starts_at": at(10, 30).isoformat()},
    )
    assert second.status_code == 422
    assert "10:00–11:00" in second.json()["errors"]["starts_at"][0]
    assert TestDrive.objects.count() == 1


def test_past_and_another_dealers_car_are_refused(client_for, consultant, lead, other_dealer):
    foreign = DemoCarFactory(dealer=other_dealer, plate="京A12345")
    client = client_for(consultant)
    response = post(
        client,
        "/api/sales/test-drives",
        {"lead_id": lead.pk, "demo_car_id": foreign.pk, "starts_at": at(10).isoformat()},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {"demo_car_id": ["Choose one of the dealer's demo cars."]}
    assert not Booking.objects.exists()


def test_cancel_frees_the_car_and_outsiders_get_404(
    client_for, consultant, lead, car, make_user, other_dealer
):
    client = client_for(consultant)
    test_drive_id = post(
        client,
        "/api/sales/test-drives",
        {"lead_id": lead.pk, "demo_car_id": car.pk, "starts_at": at(10).isoformat()},
    ).json()["id"]
    outsider = make_user(Role.SALES_CONSULTANT, dealer_=other_dealer)
    assert (
        post(client_for(outsider), f"/api/sales/test-drives/{test_drive_id}/cancel").status_code
        == 404
    )
    response = post(
        client_for(consultant), f"/api/sales/test-drives/{test_drive_id}/cancel", {"reason": "改期"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert not Booking.objects.active().exists()
