"""The quotes API: create a version with lines, get it, list a lead's versions, calculate
without saving; refusals keyed by field with nothing saved; scoped like the pages."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from dealercrm.core.permissions import Role
from dealercrm.sales.models import Quote, QuoteLine

pytestmark = pytest.mark.django_db
API = "/api/sales"


def _post(client, path, payload):
    return client.post(f"{API}{path}", json.dumps(payload), content_type="application/json")


def _payload(lead, **overrides):
    payload = {
        "lead_id": lead.pk,
        "car_model_id": lead.car_model_id,
        "vehicle_price": "150000.00",
        "compulsory_insurance": "950",
        "lines": [{"kind": "accessory", "description": "脚垫", "amount": "800"}],
        "term_months": 36,
        "annual_rate": "0.048",
        "down_payment": "50800",
        "notes": "内部",
    }
    payload.update(overrides)
    return payload


def test_create_quote_with_lines(client_for, consultant, lead):
    response = _post(client_for(consultant), "/quotes", _payload(lead))
    assert response.status_code == 201, response.content
    body = response.json()
    quote = Quote.objects.get(lead=lead)
    assert body["id"] == quote.pk and body["version"] == 1 and body["status"] == "current"
    assert Decimal(body["loan_amount"]) == Decimal("100000.00")
    assert Decimal(body["monthly_payment"]) == Decimal("2988.12")
    assert Decimal(body["purchase_tax"]) == Decimal("13274.34")  # 150,000 / 1.13 × 10 %
    assert body["lines"] == [{"kind": "accessory", "description": "脚垫", "amount": "800.00"}]
    assert body["share_url"].endswith(f"/p/q/{quote.share_token}/")
    assert body["tax_rule_name"]


def test_negative_price_answers_422_by_field_and_saves_nothing(client_for, consultant, lead):
    response = _post(client_for(consultant), "/quotes", _payload(lead, vehicle_price="-1"))
    assert response.status_code == 422
    assert "vehicle_price" in response.json()["errors"]
    assert not Quote.objects.exists() and not QuoteLine.objects.exists()


def test_unknown_model_answers_422(client_for, consultant, lead):
    response = _post(client_for(consultant), "/quotes", _payload(lead, car_model_id=999999))
    assert response.status_code == 422
    assert "car_model_id" in response.json()["errors"]


def test_get_and_list_versions(client_for, consultant, lead):
    client = client_for(consultant)
    first = _post(client, "/quotes", _payload(lead)).json()
    second = _post(client, "/quotes", _payload(lead, discount="1000")).json()
    got = client.get(f"{API}/quotes/{first['id']}").json()
    assert got["status"] == "superseded" and got["notes"] == "内部"
    listed = client.get(f"{API}/leads/{lead.pk}/quotes").json()
    assert [q["version"] for q in listed] == [2, 1]
    assert listed[0]["id"] == second["id"]


def test_calculate_saves_nothing(client_for, consultant, lead, bev_model):
    response = _post(
        client_for(consultant),
        "/quotes/calculate",
        {"car_model_id": bev_model.pk, "vehicle_price": "452000", "quote_date": "2026-06-30"},
    )
    body = response.json()
    assert response.status_code == 200, body
    assert Decimal(body["full_tax"]) == Decimal("40000.00")
    assert Decimal(body["tax_relief"]) == Decimal("15000.00")
    assert Decimal(body["purchase_tax"]) == Decimal("25000.00")
    assert not Quote.objects.exists()


def test_another_consultant_gets_404(client_for, make_user, consultant, lead):
    quote_id = _post(client_for(consultant), "/quotes", _payload(lead)).json()["id"]
    other = client_for(make_user(Role.SALES_CONSULTANT))
    assert other.get(f"{API}/quotes/{quote_id}").status_code == 404
    assert other.get(f"{API}/leads/{lead.pk}/quotes").status_code == 404
    assert _post(other, "/quotes", _payload(lead)).status_code == 404
