"""The customers API: scoped like the pages, masked unless revealed, 409 on stale versions."""

from __future__ import annotations

import pytest

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, Interaction
from tests.customers.factories import (
    CustomerFactory,
    CustomerPhoneFactory,
    InteractionFactory,
    valid_id_number,
)

pytestmark = pytest.mark.django_db

API = "/api/customers/"


@pytest.fixture
def customer(dealer, consultant):
    customer = CustomerFactory(
        dealer=dealer, assigned_consultant=consultant, name="张三", id_number=valid_id_number(3)
    )
    CustomerPhoneFactory(customer=customer, number="+8613812341234")
    return customer


def test_the_list_is_paginated_filtered_and_masked(client_for, manager, dealer, customer):
    CustomerFactory(dealer=dealer, lifecycle_stage="owner", name="车主")

    everything = client_for(manager).get(API, {"limit": 1}).json()
    owners = client_for(manager).get(API, {"stage": "owner"}).json()

    assert everything["count"] == 2 and len(everything["items"]) == 1
    assert [c["name"] for c in owners["items"]] == ["车主"]
    body = client_for(manager).get(API).content.decode()
    assert "138****1234" in body and "13812341234" not in body


def test_a_consultant_lists_only_their_customers(client_for, make_user, dealer, customer):
    CustomerFactory(dealer=dealer, assigned_consultant=make_user(Role.SALES_CONSULTANT))

    items = client_for(customer.assigned_consultant).get(API).json()["items"]

    assert [c["id"] for c in items] == [customer.pk]


def test_one_customer_masked_and_another_dealers_is_404(
    client_for, consultant, make_user, other_dealer, customer
):
    data = client_for(consultant).get(f"{API}{customer.pk}").json()
    assert data["phones"] == [{"number": "138****1234", "label": "mobile", "is_primary": True}]
    assert data["id_number_masked"] == customer.id_number_masked
    assert "id_number_encrypted" not in data and "id_number_hash" not in data

    stranger = make_user(Role.DEALER_MANAGER, dealer_=other_dealer)
    for method, path in (
        ("get", f"{API}{customer.pk}"),
        ("get", f"{API}{customer.pk}/timeline"),
        ("post", f"{API}{customer.pk}/reveal"),
        ("delete", f"{API}{customer.pk}"),
    ):
        response = getattr(client_for(stranger), method)(path)
        assert response.status_code == 404, path


def test_anonymous_requests_are_refused(client, customer):
    assert client.get(f"{API}{customer.pk}").status_code == 401


def test_create_returns_201_with_masked_phones_and_same_phone_customers(
    client_for, consultant, customer
):
    response = client_for(consultant).post(
        API,
        {
            "name": "李四",
            "phones": ["13812341234", "139 1234 5678"],
            "tags": ["VIP"],
            "consents": {"sms": True},
        },
        content_type="application/json",
    )

    assert response.status_code == 201
    data = response.json()
    assert [p["number"] for p in data["phones"]] == ["138****1234", "139****5678"]
    assert data["same_phone_customer_ids"] == [customer.pk]
    assert data["assigned_consultant"]["id"] == consultant.pk
    assert data["tags"] == ["VIP"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "李四", "phones": ["12345"]}, "phones"),
        ({"name": "李四", "id_number": "110105194912310021"}, "id_number"),
        ({"name": "李四", "lifecycle_stage": "nonsense"}, "lifecycle_stage"),
    ],
)
def test_bad_input_answers_422_naming_the_field_and_saves_nothing(
    client_for, consultant, payload, field
):
    response = client_for(consultant).post(API, payload, content_type="application/json")

    assert response.status_code == 422
    assert field in response.json()["errors"]
    assert not Customer.objects.exists()


def test_a_malformed_body_answers_422_naming_the_field(client_for, consultant):
    response = client_for(consultant).post(
        API, {"name": "李四", "birthday": "not a date"}, content_type="application/json"
    )

    assert response.status_code == 422
    assert "birthday" in str(response.json()["detail"])


def test_update_with_the_current_version_saves_and_a_stale_one_answers_409(
    client_for, consultant, customer
):
    client = client_for(consultant)

    saved = client.patch(
        f"{API}{customer.pk}",
        {"version": 1, "email": "zs@example.com"},
        content_type="application/json",
    )
    assert saved.status_code == 200
    assert (saved.json()["email"], saved.json()["version"]) == ("zs@example.com", 2)

    stale = client.patch(
        f"{API}{customer.pk}", {"version": 1, "name": "张小三"}, content_type="application/json"
    )
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 2
    assert str(consultant) in stale.json()["detail"]
    customer.refresh_from_db()
    assert customer.name == "张三"


def test_delete_answers_204_and_the_customer_is_gone(client_for, manager, customer):
    client = client_for(manager)

    assert client.delete(f"{API}{customer.pk}").status_code == 204
    assert client.get(f"{API}{customer.pk}").status_code == 404


def test_a_consultant_may_not_delete(client_for, consultant, customer):
    assert client_for(consultant).delete(f"{API}{customer.pk}").status_code == 403


def test_interactions_are_added_and_read_back_on_the_timeline(client_for, consultant, customer):
    client = client_for(consultant)
    InteractionFactory(customer=customer, body="早先的备注")

    added = client.post(
        f"{API}{customer.pk}/interactions",
        {"kind": "call", "outcome": "reached", "duration_seconds": 60, "body": "约了周六试驾"},
        content_type="application/json",
    )
    timeline = client.get(f"{API}{customer.pk}/timeline").json()

    assert added.status_code == 201
    assert added.json()["kind"] == "call"
    assert [e["body"] for e in timeline] == ["约了周六试驾", "早先的备注"]
    assert Interaction.objects.get(kind="call").author == consultant


def test_reveal_returns_full_contact_and_logs_it(client_for, consultant, customer):
    data = client_for(consultant).post(f"{API}{customer.pk}/reveal").json()

    assert data["phones"] == ["+8613812341234"]
    assert data["id_number"] == valid_id_number(3)
    assert AuditEvent.objects.filter(action="unmask", actor=consultant).count() == 1


def test_an_oem_analyst_reads_but_may_not_reveal(client_for, oem_analyst, customer):
    client = client_for(oem_analyst)

    assert client.get(f"{API}{customer.pk}").status_code == 200
    assert client.post(f"{API}{customer.pk}/reveal").status_code == 403
    assert not AuditEvent.objects.filter(action="unmask").exists()
