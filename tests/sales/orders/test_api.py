"""The orders API: create (and its refusals, 422 by field), get, list, milestones, customer told,
deliver, the delay-notice rate."""

from __future__ import annotations

import datetime

import pytest

from dealercrm.customers.models import Customer, LifecycleStage
from dealercrm.sales.models import Order
from dealercrm.worklist.models import Task
from tests.sales.factories import LeadFactory
from tests.vehicles.factories import VehicleFactory, make_vin

from .conftest import TODAY

pytestmark = pytest.mark.django_db

BASE = "/api/sales/orders"


def _post(client, url, payload):
    return client.post(url, payload, content_type="application/json")


def _new(client, lead, **extra):
    payload = {
        "lead_id": lead.pk,
        "car_model_id": lead.car_model_id,
        "price": "199800.00",
        "deposit": "5000.00",
        "promised_delivery_on": (TODAY + datetime.timedelta(days=30)).isoformat(),
        "colour": "珍珠白",
        **extra,
    }
    return _post(client, BASE, payload)


def test_create_get_and_list_an_order(client_for, consultant, lead):
    client = client_for(consultant)
    created = _new(client, lead)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["number"] == "SO20260302001"
    assert [m["stage"] for m in body["milestones"]][0] == "ordered"
    assert body["tracking_url"].endswith(f"/p/t/{Order.objects.get().tracking_token}/")

    got = client.get(f"{BASE}/{body['id']}")
    assert got.status_code == 200 and got.json()["number"] == body["number"]
    listed = client.get(BASE).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == body["id"]


def test_order_for_a_sold_vehicle_answers_422_naming_the_field_and_saves_nothing(
    client_for, consultant, lead, dealer
):
    sold = VehicleFactory(dealer=dealer)
    response = _new(client_for(consultant), lead, vehicle_id=sold.pk)
    assert response.status_code == 422
    assert "vehicle_id" in response.json()["errors"]
    assert not Order.objects.exists()
    assert Customer.objects.get(pk=lead.customer_id).lifecycle_stage == LifecycleStage.PROSPECT


def test_deposit_above_the_price_and_a_past_promise_answer_422(client_for, consultant, lead):
    response = _new(
        client_for(consultant),
        lead,
        deposit="300000",
        promised_delivery_on=(TODAY - datetime.timedelta(days=1)).isoformat(),
    )
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"deposit", "promised_delivery_on"}


def test_another_consultants_lead_is_not_found(client_for, consultant, make_user, dealer, lead):
    colleague = make_user("sales_consultant")
    theirs = LeadFactory(dealer=dealer, consultant=colleague, car_model=lead.car_model)
    response = _new(client_for(consultant), theirs)
    assert response.status_code == 422
    assert "lead_id" in response.json()["errors"]


def test_milestone_delay_customer_told_and_the_rate(client_for, consultant, manager, lead):
    client = client_for(consultant)
    order_id = _new(client, lead).json()["id"]
    late = (TODAY + datetime.timedelta(days=45)).isoformat()

    moved = _post(
        client, f"{BASE}/{order_id}/milestones", {"stage": "delivered", "expected_on": late}
    )
    assert moved.status_code == 200
    assert moved.json()["expected_delivery_on"] == late
    assert moved.json()["delay_detected_at"] is not None
    assert Task.objects.filter(source_id=f"{order_id}:delay").count() == 1

    told = _post(client, f"{BASE}/{order_id}/customer-told", {})
    assert told.status_code == 200
    assert told.json()["told_in_time"] is True

    rates = client_for(manager).get(f"{BASE}/delay-notice-rate").json()
    assert rates == [
        {
            "dealer_id": lead.dealer_id,
            "delayed": 1,
            "decided": 1,
            "told": 1,
            "told_in_time": 1,
            "pending": 0,
            "rate": "1.000",
        }
    ]


def test_deliver_through_the_api(client_for, consultant, lead, frozen):
    client = client_for(consultant)
    order_id = _new(client, lead).json()["id"]
    vin = make_vin(9001)
    response = _post(
        client,
        f"{BASE}/{order_id}/deliver",
        {"vin": vin, "plate": "沪A66666", "delivered_on": TODAY.isoformat()},
    )
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == "delivered"
    assert response.json()["vin"] == vin
    assert Customer.objects.get(pk=lead.customer_id).lifecycle_stage == LifecycleStage.OWNER
    bad = _post(client, f"{BASE}/{order_id}/deliver", {"vin": vin})
    assert bad.status_code == 422
