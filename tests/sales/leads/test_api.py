"""The leads API and the inbound lead endpoint (token, idempotency, field errors)."""

from __future__ import annotations

import datetime
import json

import pytest
from django.utils import translation

from dealercrm.core.models import ApiToken
from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer
from dealercrm.sales.models import Lead
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.sales.factories import LeadFactory

pytestmark = pytest.mark.django_db
INBOUND = "/api/sales/inbound/leads"


def token_for(user) -> dict[str, str]:  # noqa: ANN001
    key = ApiToken.generate_key()
    ApiToken.objects.create(
        user=user, name="form", prefix=key[5:13], key_hash=ApiToken.hash_key(key)
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def post(client, path, data, **headers):  # noqa: ANN001, ANN201
    return client.post(path, json.dumps(data), content_type="application/json", **headers)


@pytest.fixture
def website(make_user):
    """The integration user the brand website's form posts as (a dealer manager's token)."""
    return make_user(Role.DEALER_MANAGER, username="website-form")


FORM = {"name": "赵敏", "phone": "13900001234", "channel": "website", "message": "想试驾"}


# --- inbound --------------------------------------------------------------------------------


def test_inbound_post_creates_a_lead_and_a_retry_returns_it_with_200(
    client, dealer, website, consultant
):
    auth = token_for(website)
    first = post(client, INBOUND, FORM, HTTP_IDEMPOTENCY_KEY="web-001", **auth)
    assert first.status_code == 201, first.content
    again = post(client, INBOUND, FORM, HTTP_IDEMPOTENCY_KEY="web-001", **auth)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created"] is False
    lead = Lead.objects.get()
    assert lead.channel == "website" and lead.notes == "想试驾"
    assert lead.consultant == consultant and lead.first_response_due_at is not None


def test_inbound_key_may_come_in_the_body(client, dealer, website):
    auth = token_for(website)
    assert post(client, INBOUND, {**FORM, "idempotency_key": "b-1"}, **auth).status_code == 201
    assert post(client, INBOUND, {**FORM, "idempotency_key": "b-1"}, **auth).status_code == 200
    assert Lead.objects.count() == 1


def test_inbound_without_a_key_is_refused(client, dealer, website):
    with translation.override("en"):
        answer = post(client, INBOUND, FORM, **token_for(website))
    assert answer.status_code == 422
    assert "Idempotency-Key" in answer.json()["errors"]["idempotency_key"][0]
    assert not Lead.objects.exists()


def test_inbound_names_each_bad_field_once(client, dealer, website):
    answer = post(
        client,
        INBOUND,
        {"name": "", "phone": "12345", "channel": "fax", "model_id": "abc"},
        HTTP_IDEMPOTENCY_KEY="bad-1",
        **token_for(website),
    )
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert set(errors) == {"name", "phone", "channel", "model_id"}
    assert all(len(messages) == 1 for messages in errors.values())
    assert not Lead.objects.exists() and not Customer.objects.exists()


def test_a_network_token_must_name_the_dealer(client, dealer, make_user):
    oem = make_user(Role.OEM_ADMIN)
    auth = token_for(oem)
    answer = post(client, INBOUND, FORM, HTTP_IDEMPOTENCY_KEY="oem-1", **auth)
    assert answer.status_code == 422 and "dealer" in answer.json()["errors"]
    ok = post(
        client, INBOUND, {**FORM, "dealer": dealer.code}, HTTP_IDEMPOTENCY_KEY="oem-1", **auth
    )
    assert ok.status_code == 201
    assert Lead.objects.get().dealer_id == dealer.pk


def test_a_dealer_token_cannot_post_to_another_dealer(client, dealer, other_dealer, website):
    answer = post(
        client,
        INBOUND,
        {**FORM, "dealer": other_dealer.code},
        HTTP_IDEMPOTENCY_KEY="x",
        **token_for(website),
    )
    assert answer.status_code == 422 and "dealer" in answer.json()["errors"]


def test_the_same_key_at_another_dealer_is_another_lead(client, dealer, other_dealer, make_user):
    mine = token_for(make_user(Role.DEALER_MANAGER))
    theirs = token_for(make_user(Role.DEALER_MANAGER, dealer_=other_dealer))
    assert post(client, INBOUND, FORM, HTTP_IDEMPOTENCY_KEY="k", **mine).status_code == 201
    assert post(client, INBOUND, FORM, HTTP_IDEMPOTENCY_KEY="k", **theirs).status_code == 201
    assert Lead.objects.count() == 2


def test_a_known_phone_attaches_to_the_customer_and_an_open_lead_is_answered(
    client, dealer, website
):
    known = CustomerFactory(dealer=dealer, name="赵敏")
    CustomerPhoneFactory(customer=known, number="+8613900001234")
    auth = token_for(website)
    first = post(client, INBOUND, FORM, HTTP_IDEMPOTENCY_KEY="a", **auth)
    assert first.status_code == 201
    assert Lead.objects.get().customer == known
    second = post(client, INBOUND, FORM, HTTP_IDEMPOTENCY_KEY="b", **auth)
    assert second.status_code == 200 and second.json()["duplicate_of_open_lead"] is True
    assert Lead.objects.count() == 1 and Customer.objects.count() == 1


def test_a_user_without_submit_permission_gets_403(client, dealer, make_user):
    advisor = make_user(Role.SERVICE_ADVISOR)
    answer = post(client, INBOUND, FORM, HTTP_IDEMPOTENCY_KEY="s", **token_for(advisor))
    assert answer.status_code == 403


def test_anonymous_gets_401(client, dealer):
    assert post(client, INBOUND, FORM, HTTP_IDEMPOTENCY_KEY="s").status_code == 401


# --- the leads API --------------------------------------------------------------------------


def test_a_consultant_lists_only_their_own_leads_with_masked_phones(
    client, dealer, consultant, make_user
):
    other = make_user(Role.SALES_CONSULTANT)
    mine = LeadFactory(dealer=dealer, consultant=consultant)
    CustomerPhoneFactory(customer=mine.customer, number="+8613812345678")
    LeadFactory(dealer=dealer, consultant=other)
    client.force_login(consultant)
    answer = client.get("/api/sales/leads")
    assert answer.status_code == 200
    body = answer.json()
    assert [row["id"] for row in body["results"]] == [mine.pk]
    assert body["results"][0]["phone"] in ("+8613812345678", "138****5678")


def test_an_oem_analyst_sees_masked_phones(client, dealer, oem_analyst):
    lead = LeadFactory(dealer=dealer)
    CustomerPhoneFactory(customer=lead.customer, number="+8613812345678")
    client.force_login(oem_analyst)
    answer = client.get(f"/api/sales/leads/{lead.pk}")
    assert answer.status_code == 200
    assert answer.json()["phone"] == "138****5678"


def test_another_consultants_lead_answers_404(client, dealer, consultant, make_user):
    lead = LeadFactory(dealer=dealer, consultant=make_user(Role.SALES_CONSULTANT))
    client.force_login(consultant)
    assert client.get(f"/api/sales/leads/{lead.pk}").status_code == 404


def test_create_log_stage_and_loss_through_the_api(client, dealer, consultant, manager):
    client.force_login(consultant)
    created = post(
        client, "/api/sales/leads", {"channel": "phone", "name": "孙丽", "phone": "13700004444"}
    )
    assert created.status_code == 201, created.content
    lead_id = created.json()["id"]
    assert created.json()["consultant"]["id"] == consultant.pk
    due = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
    logged = post(
        client,
        f"/api/sales/leads/{lead_id}/activities",
        {"kind": "call", "result": "reached", "next_action": "约试驾", "next_action_due": due},
    )
    assert logged.status_code == 201
    assert client.get(f"/api/sales/leads/{lead_id}").json()["stage"] == "contacted"
    moved = post(client, f"/api/sales/leads/{lead_id}/stage", {"stage": "negotiation"})
    assert moved.json()["stage"] == "negotiation"
    asked = post(client, f"/api/sales/leads/{lead_id}/loss-request", {"reason": "price"})
    assert asked.json()["loss_pending"] is True
    refused = post(client, f"/api/sales/leads/{lead_id}/loss-decision", {"decision": "approve"})
    assert refused.status_code == 403
    client.force_login(manager)
    decided = post(client, f"/api/sales/leads/{lead_id}/loss-decision", {"decision": "approve"})
    assert decided.json()["stage"] == "lost"


def test_api_field_errors_name_the_field(client, dealer, consultant):
    client.force_login(consultant)
    answer = post(client, "/api/sales/leads", {"channel": "carrier_pigeon", "name": ""})
    assert answer.status_code == 422
    assert {"channel", "name"} <= set(answer.json()["errors"])


def test_the_matches_endpoint_names_the_known_customer_with_masked_phones(
    client, dealer, consultant
):
    known = CustomerFactory(dealer=dealer, name="韩梅梅", assigned_consultant=consultant)
    CustomerPhoneFactory(customer=known, number="+8613911113333")
    lead = LeadFactory(dealer=dealer, customer=known, consultant=consultant)
    client.force_login(consultant)
    answer = client.get("/api/sales/leads/matches", {"name": "韩梅梅", "phone": "13911113333"})
    assert answer.status_code == 200
    assert answer.json() == [
        {
            "customer_id": known.pk,
            "name": "韩梅梅",
            "phones": ["139****3333"],
            "reasons": ["phone"],
            "open_lead_ids": [lead.pk],
        }
    ]
