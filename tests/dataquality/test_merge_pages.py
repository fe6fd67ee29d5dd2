"""The merge pages: the form in the pair's page, merging from it, the merge history and undo."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, Interaction
from dealercrm.dataquality.models import DuplicateCandidate, DuplicateStatus, MergeRecord
from dealercrm.dataquality.services.merges import customer_merge
from dealercrm.dataquality.views.merges import merge_form_context
from tests.customers.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db

T0 = timezone.make_aware(dt.datetime(2025, 3, 1, 10, 0))


@pytest.fixture
def boss(make_user):
    return make_user(Role.DEALER_MANAGER, language="en")


@pytest.fixture
def pair(dealer):
    with time_machine.travel(T0, tick=False):
        older = CustomerFactory(dealer=dealer, name="陈静", email="")
    with time_machine.travel(T0 + dt.timedelta(days=3), tick=False):
        newer = CustomerFactory(dealer=dealer, name="陈晶", email="chen@example.com")
    InteractionFactory(customer=newer)
    low, high = sorted([older.pk, newer.pk])
    candidate = DuplicateCandidate.objects.create(
        dealer=dealer,
        customer_a_id=low,
        customer_b_id=high,
        other_dealer=dealer,
        score=0.9,
        reasons={"blocks": ["phone"]},
    )
    return candidate, older, newer


def _post_merge(client, candidate, survivor, merged, **extra):
    data = {
        "survivor_id": survivor.pk,
        "survivor_version": survivor.version,
        "merged_version": merged.version,
        "rule": "most_recent",
        "confirm": "1",
        **extra,
    }
    return client.post(
        reverse("dataquality:duplicate_merge", kwargs={"candidate_id": candidate.pk}), data
    )


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_form_keeps_the_older_record_and_preselects_by_the_rule(pair, boss):
    candidate, older, newer = pair
    request = RequestFactory().get("/")
    request.user = boss

    context = merge_form_context(request, candidate)
    html = render_to_string("dataquality/merges/_merge_form.html", context, request=request)

    assert (context["survivor"], context["merged"]) == (older, newer)
    assert f'name="survivor_id" value="{older.pk}"' in html
    # The newer record was updated later: its name is pre-selected, with the reason.
    name_line = next(line for line in context["plan"] if line.name == "name")
    assert name_line.choice == "merged"
    assert 'name="choice_name" value="merged" checked' in html
    assert 'name="confirm"' in html and 'data-rule="most_complete"' in html


def test_the_survivor_and_the_rule_can_be_switched(pair, boss):
    candidate, older, newer = pair
    request = RequestFactory().get("/", {"survivor": newer.pk, "rule": "most_complete"})
    request.user = boss
    context = merge_form_context(request, candidate)
    assert (context["survivor"], context["merged"], context["rule"]) == (
        newer,
        older,
        "most_complete",
    )


def test_merging_from_the_form_applies_the_choices_and_offers_undo(pair, boss, client_for):
    candidate, older, newer = pair
    client = client_for(boss)

    response = _post_merge(client, candidate, older, newer, choice_name="survivor")

    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", kwargs={"customer_id": older.pk})
    merge = MergeRecord.objects.get()
    older.refresh_from_db()
    assert older.name == "陈静"  # chosen over the rule
    assert older.email == "chen@example.com"
    assert Customer._base_manager.get(pk=newer.pk).is_deleted
    assert merge.merged_by == boss and merge.candidate == candidate
    [message] = _messages(response)
    assert "was merged into this customer" in message
    assert reverse("dataquality:merge_detail", kwargs={"merge_id": merge.pk}) in message


def test_a_merge_without_confirming_or_with_an_empty_form_changes_nothing(pair, boss, client_for):
    candidate, older, newer = pair
    client = client_for(boss)
    url = reverse("dataquality:duplicate_merge", kwargs={"candidate_id": candidate.pk})

    unconfirmed = _post_merge(client, candidate, older, newer, confirm="")
    empty = client.post(url, {})
    wrong_survivor = _post_merge(client, candidate, CustomerFactory(dealer=older.dealer), newer)

    for response in (unconfirmed, empty, wrong_survivor):
        assert response.status_code == 302
        assert response["Location"].startswith(
            reverse("dataquality:duplicate_detail", kwargs={"candidate_id": candidate.pk})
        )
    assert "Tick “These are the same customer”" in _messages(unconfirmed)[0]
    assert not MergeRecord.objects.exists()
    assert client.get(url).status_code == 405


def test_a_record_changed_since_the_form_opened_refuses_the_merge(pair, boss, client_for):
    candidate, older, newer = pair
    client = client_for(boss)
    Customer.objects.filter(pk=newer.pk).update(version=newer.version + 1)

    response = _post_merge(client, candidate, older, newer)

    assert response.status_code == 302
    assert "changed by someone else" in _messages(response)[0]
    assert not MergeRecord.objects.exists()


def test_a_decided_pair_is_not_merged(pair, boss, client_for):
    candidate, older, newer = pair
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(status=DuplicateStatus.NOT_DUPLICATE)
    response = _post_merge(client_for(boss), candidate, older, newer)
    assert "already decided" in _messages(response)[0]
    assert not MergeRecord.objects.exists()


def test_the_merge_list_shows_merges_newest_first_with_undo_while_possible(
    dealer, boss, client_for, django_assert_max_num_queries
):
    merges = []
    for days_ago in (40, 2, 1):
        survivor, merged = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
        with time_machine.travel(timezone.now() - dt.timedelta(days=days_ago), tick=False):
            merges.append(customer_merge(actor=boss, survivor=survivor, merged=merged))
    client = client_for(boss)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("dataquality:merge_list"))

    html = response.content.decode()
    old, middle, newest = merges
    assert html.index(f'data-merge="{newest.pk}"') < html.index(f'data-merge="{middle.pk}"')
    undo = reverse("dataquality:merge_undo", kwargs={"merge_id": old.pk})
    assert undo not in html  # older than 30 days
    assert reverse("dataquality:merge_undo", kwargs={"merge_id": newest.pk}) in html


def test_the_merge_page_shows_what_moved_and_undo_needs_confirming(pair, boss, client_for):
    candidate, older, newer = pair
    merge = customer_merge(actor=boss, survivor=older, merged=newer, candidate=candidate)
    client = client_for(boss)
    detail = reverse("dataquality:merge_detail", kwargs={"merge_id": merge.pk})
    undo = reverse("dataquality:merge_undo", kwargs={"merge_id": merge.pk})

    page = client.get(detail).content.decode()
    assert "data-moved" in page and "interaction" in page.lower()

    refused = client.post(undo, {})
    assert refused.status_code == 302 and "Confirm" in _messages(refused)[0]
    assert MergeRecord.objects.get().undone_at is None

    done = client.post(undo, {"confirm": "1"})
    assert done.status_code == 302
    assert "undone" in _messages(done)[-1]
    assert not Customer.objects.get(pk=newer.pk).is_deleted
    assert Interaction.objects.filter(customer=newer, kind="note").count() == 1
    again = client.post(undo, {"confirm": "1"})
    assert "already undone" in _messages(again)[-1]


def test_another_dealers_merge_is_not_found(pair, boss, client_for, other_dealer, make_user):
    candidate, older, newer = pair
    merge = customer_merge(actor=boss, survivor=older, merged=newer)
    outsider = make_user(Role.DEALER_MANAGER, dealer_=other_dealer)
    client = client_for(outsider)
    detail = reverse("dataquality:merge_detail", kwargs={"merge_id": merge.pk})
    assert client.get(detail).status_code == 404
    assert (
        client.post(
            reverse("dataquality:merge_undo", kwargs={"merge_id": merge.pk}), {"confirm": "1"}
        ).status_code
        == 404
    )
    assert MergeRecord.objects.get().undone_at is None


def test_the_pairs_page_carries_the_merge_form_and_its_rule_switcher(pair, boss, client_for):
    candidate, older, newer = pair
    client = client_for(boss)
    url = reverse("dataquality:duplicate_detail", kwargs={"candidate_id": candidate.pk})

    page = client.get(url, {"rule": "most_complete", "survivor": newer.pk}).content.decode()

    assert "data-merge-form" in page
    assert f'name="survivor_id" value="{newer.pk}"' in page
    assert 'name="rule" value="most_complete"' in page
