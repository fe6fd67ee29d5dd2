"""The merge API: merge two customers, list and read merges, undo; another dealer's ids answer
404, refusals 422 with the reason, and the same services as the pages."""

from __future__ import annotations

import pytest

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, Interaction
from dealercrm.dataquality.models import MergeRecord
from tests.customers.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db

API = "/api/dataquality/merges"


def _post(client, url, data):  # noqa: ANN001, ANN202
    return client.post(url, data, content_type="application/json")


@pytest.fixture
def boss_client(client_for, make_user):
    return client_for(make_user(Role.DEALER_MANAGER, language="en"))


def test_merge_read_list_and_undo_through_the_api(boss_client, dealer):
    survivor = CustomerFactory(dealer=dealer, email="")
    merged = CustomerFactory(dealer=dealer, email="m@example.com")
    note = InteractionFactory(customer=merged)

    created = _post(
        boss_client,
        API,
        {
            "survivor_id": survivor.pk,
            "merged_id": merged.pk,
            "survivor_version": survivor.version,
            "merged_version": merged.version,
            "rule": "most_complete",
            "choices": {"name": "merged"},
        },
    )

    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["survivor_id"], body["merged_id"]) == (survivor.pk, merged.pk)
    assert body["moved"]["customers.Interaction.customer"] == 1
    assert body["choices"]["name"] == "merged" and body["undo_refused"] == ""
    survivor.refresh_from_db()
    assert (survivor.name, survivor.email) == (merged.name, "m@example.com")
    assert Interaction.objects.get(pk=note.pk).customer_id == survivor.pk

    assert [m["id"] for m in boss_client.get(API).json()] == [body["id"]]
    assert boss_client.get(f"{API}/{body['id']}").json()["merged_name"] == merged.name

    undone = _post(boss_client, f"{API}/{body['id']}/undo", {"confirm": True})
    assert undone.status_code == 200
    assert undone.json()["undone_at"] is not None
    assert Interaction.objects.get(pk=note.pk).customer_id == merged.pk
    assert not Customer.objects.get(pk=merged.pk).is_deleted

    again = _post(boss_client, f"{API}/{body['id']}/undo", {"confirm": True})
    assert again.status_code == 422
    assert "already undone" in again.json()["errors"]["__all__"][0]


def test_another_dealers_customer_or_merge_answers_404(boss_client, dealer, other_dealer):
    mine = CustomerFactory(dealer=dealer)
    theirs = CustomerFactory(dealer=other_dealer)
    other_merge = MergeRecord.objects.create(
        dealer=other_dealer,
        survivor=theirs,
        merged=CustomerFactory(dealer=other_dealer),
        snapshot={},
    )

    response = _post(boss_client, API, {"survivor_id": mine.pk, "merged_id": theirs.pk})

    assert response.status_code == 404
    assert not Customer._base_manager.get(pk=theirs.pk).is_deleted
    assert boss_client.get(f"{API}/{other_merge.pk}").status_code == 404
    assert _post(boss_client, f"{API}/{other_merge.pk}/undo", {"confirm": True}).status_code == 404
    assert boss_client.get(API).json() == []


def test_refusals_answer_422_with_the_reason(boss_client, dealer):
    a, b = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)

    stale = _post(boss_client, API, {"survivor_id": a.pk, "merged_id": b.pk, "merged_version": 99})
    bad_choice = _post(
        boss_client, API, {"survivor_id": a.pk, "merged_id": b.pk, "choices": {"name": "both"}}
    )
    itself = _post(boss_client, API, {"survivor_id": a.pk, "merged_id": a.pk})
    empty = _post(boss_client, API, {})

    assert stale.status_code == 422 and "changed by someone else" in str(stale.json())
    assert bad_choice.status_code == 422 and "choices" in bad_choice.json()["errors"]
    assert itself.status_code == 422
    assert empty.status_code == 422
    assert not MergeRecord.objects.exists()


def test_undo_needs_confirming(boss_client, dealer):
    a, b = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    merge_id = _post(boss_client, API, {"survivor_id": a.pk, "merged_id": b.pk}).json()["id"]

    assert _post(boss_client, f"{API}/{merge_id}/undo", {}).status_code == 422
    assert _post(boss_client, f"{API}/{merge_id}/undo", {"confirm": False}).status_code == 422
    assert MergeRecord.objects.get().undone_at is None


def test_a_consultant_may_not_merge(client_for, make_user, dealer):
    a, b = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    client = client_for(make_user(Role.SALES_CONSULTANT))
    assert _post(client, API, {"survivor_id": a.pk, "merged_id": b.pk}).status_code == 403
