"""The complaints API: list with filters, one with its steps, intake (the hotline too), the
handling steps through the same services, 404 for another dealer's, 422 with field messages."""

from __future__ import annotations

import pytest

from dealercrm.core.permissions import Role
from dealercrm.feedback.models import Complaint, ComplaintStatus
from tests.customers.factories import CustomerFactory
from tests.feedback.factories import ComplaintFactory

pytestmark = pytest.mark.django_db

API = "/api/feedback/complaints"


def _post(client, url, data):  # noqa: ANN001, ANN202
    return client.post(url, data, content_type="application/json")


def test_the_list_filters_and_masks_the_phone(client_for, make_user, dealer, other_dealer):
    from dealercrm.customers.models import CustomerPhone

    price = ComplaintFactory(customer__dealer=dealer, category="price")
    CustomerPhone.objects.create(
        dealer=dealer, customer=price.customer, number="+8613812341234", is_primary=True
    )
    ComplaintFactory(customer__dealer=dealer, category="parts")
    ComplaintFactory(customer__dealer=other_dealer, category="price")
    client = client_for(make_user(Role.CARE_SPECIALIST))

    rows = client.get(API, {"category": "price"}).json()

    assert [r["id"] for r in rows] == [price.pk]
    assert rows[0]["customer_phone"] == "138****1234"


def test_get_has_the_steps_and_another_dealers_answers_404(
    client_for, make_user, dealer, other_dealer
):
    mine = ComplaintFactory(customer__dealer=dealer)
    theirs = ComplaintFactory(customer__dealer=other_dealer)
    client = client_for(make_user(Role.CARE_SPECIALIST))
    _post(client, f"{API}/{mine.pk}/contact", {"channel": "phone", "note": "已致电"})

    body = client.get(f"{API}/{mine.pk}").json()
    assert [e["kind"] for e in body["events"]] == ["contact", "responded"]
    assert body["status"] == "in_progress" and body["version"] == 2
    assert client.get(f"{API}/{theirs.pk}").status_code == 404
    assert (
        _post(client, f"{API}/{theirs.pk}/contact", {"channel": "phone", "note": "x"}).status_code
        == 404
    )


def test_create_and_field_errors(client_for, make_user, dealer, other_dealer):
    client = client_for(make_user(Role.SERVICE_ADVISOR))
    customer = CustomerFactory(dealer=dealer)

    created = _post(
        client,
        API,
        {"customer_id": customer.pk, "channel": "wechat", "description": "配件等太久"},
    )
    assert created.status_code == 201
    assert created.json()["events"][0]["kind"] == "received"

    refused = _post(
        client,
        API,
        {"customer_id": CustomerFactory(dealer=other_dealer).pk, "description": "x"},
    )
    assert refused.status_code == 422
    assert "customer_id" in refused.json()["errors"]
    assert Complaint.objects.count() == 1


def test_the_hotline_routes_through_the_api(client_for, make_user, dealer):
    client = client_for(make_user(Role.OEM_ADMIN))
    customer = CustomerFactory(dealer=dealer)
    response = _post(
        client,
        API,
        {"dealer_id": dealer.pk, "customer_id": customer.pk, "description": "热线投诉"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["channel"] == "oem_hotline"
    assert [e["kind"] for e in body["events"]] == ["received", "routed"]


def test_the_whole_handling_through_the_api(client_for, make_user, dealer):
    complaint = ComplaintFactory(customer__dealer=dealer)
    specialist = make_user(Role.CARE_SPECIALIST)
    manager = make_user(Role.DEALER_MANAGER)
    client = client_for(manager)
    url = f"{API}/{complaint.pk}"

    assert _post(client, f"{url}/assign", {"handler_id": specialist.pk}).status_code == 200
    assert (
        _post(client, f"{url}/contact", {"channel": "phone", "note": "已致电"}).status_code == 200
    )
    analysis = _post(
        client, f"{url}/analysis", {"root_cause": "workmanship", "corrective_action": "返工"}
    )
    assert analysis.status_code == 200
    solved = _post(client, f"{url}/solution", {"solution": "免费返工", "accepted": True})
    assert solved.json()["status"] == "solved"
    reopened = _post(client, f"{url}/follow-up", {"satisfied": False, "note": "仍有问题"})
    assert reopened.json()["status"] == "in_progress" and reopened.json()["reopen_count"] == 1
    _post(client, f"{url}/solution", {"solution": "更换总成", "accepted": True})
    closed = _post(client, f"{url}/follow-up", {"satisfied": True})
    assert closed.json()["status"] == "closed"
    kinds = [e["kind"] for e in closed.json()["events"]]
    assert kinds[-2:] == ["follow_up", "closed"] and "reopened" in kinds


@pytest.mark.usefixtures("english")
def test_the_status_cannot_be_set_and_a_stale_version_is_refused(client_for, make_user, dealer):
    complaint = ComplaintFactory(customer__dealer=dealer)
    client = client_for(make_user(Role.CARE_SPECIALIST, language="en"))
    url = f"{API}/{complaint.pk}"

    patched = client.patch(url, {"status": "closed"}, content_type="application/json")
    assert patched.status_code == 422
    assert patched.json()["errors"]["status"] == [
        "A complaint closes only after the follow-up with the customer."
    ]
    early = _post(client, f"{url}/follow-up", {"satisfied": True})
    assert early.status_code == 422

    stale = _post(client, f"{url}/contact", {"channel": "phone", "note": "x", "version": 9})
    assert stale.status_code == 422
    assert "Someone else changed this complaint" in stale.json()["errors"]["__all__"][0]
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.OPEN and complaint.version == 1


def test_the_brand_reads_but_does_not_handle(client_for, oem_analyst, dealer):
    complaint = ComplaintFactory(customer__dealer=dealer)
    client = client_for(oem_analyst)
    assert client.get(f"{API}/{complaint.pk}").status_code == 200
    assert (
        _post(
            client, f"{API}/{complaint.pk}/contact", {"channel": "phone", "note": "x"}
        ).status_code
        == 403
    )
