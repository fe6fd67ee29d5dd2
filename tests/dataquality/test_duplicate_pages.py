"""The duplicate review pages and API: the queue per dealer and for the OEM, the two records side
by side (masked, revealed with an audit event), decisions, scans, the auto-merge policy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.dataquality.models import DedupSettings, DuplicateCandidate, DuplicateStatus
from dealercrm.dataquality.services.duplicates import duplicates_scan
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.vehicles.factories import VehicleFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613912345678"


def _within(dealer, name="张伟", phone=PHONE):
    a = CustomerFactory(dealer=dealer, name=name, city="上海市", street="世纪大道1号")
    b = CustomerFactory(dealer=dealer, name=name)
    CustomerPhoneFactory(customer=a, number=phone)
    CustomerPhoneFactory(customer=b, number=phone)
    duplicates_scan(dealer_id=dealer.pk)
    return DuplicateCandidate.objects.get(customer_a=min(a, b, key=lambda c: c.pk))


def _across(brand, dealer, other_dealer):
    a = CustomerFactory(dealer=dealer, name="李娜")
    b = CustomerFactory(dealer=other_dealer, name="李娜")
    CustomerPhoneFactory(customer=a, number="+8613700001111")
    CustomerPhoneFactory(customer=b, number="+8613700001111")
    duplicates_scan(brand_id=brand.pk)
    return DuplicateCandidate.objects.get(cross_dealer=True)


def _body(response) -> str:
    return response.content.decode()


# --- the queue --------------------------------------------------------------------------------


def test_a_dealer_sees_its_own_pairs_never_a_pair_across_dealers(
    client_for, make_user, brand, dealer, other_dealer, django_assert_max_num_queries
):
    for n in range(3):
        _within(dealer, name=f"王芳{n}", phone=f"+861390000000{n}")
    across = _across(brand, dealer, other_dealer)
    assert across.dealer_id == dealer.pk  # stored under this dealer, still not shown to it
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))

    with django_assert_max_num_queries(12):
        body = _body(client.get(reverse("dataquality:duplicate_list")))

    assert body.count("data-candidate=") == 3
    assert "李娜" not in body
    assert client.get(reverse("dataquality:duplicate_detail", args=[across.pk])).status_code == 404


def test_the_oem_sees_the_pairs_across_dealers_in_their_own_tab(
    client_for, make_user, brand, dealer, other_dealer
):
    within = _within(dealer)
    across = _across(brand, dealer, other_dealer)
    client = client_for(make_user(Role.OEM_ANALYST, language="en"))

    body = _body(client.get(reverse("dataquality:duplicate_list")))
    within_tab = _body(client.get(reverse("dataquality:duplicate_list") + "?tab=within"))

    assert f'data-candidate="{across.pk}"' in body and f'data-candidate="{within.pk}"' not in body
    assert f'data-candidate="{within.pk}"' in within_tab
    assert "Across dealers" in body


def test_the_queue_filters_by_status_and_minimum_score(client_for, make_user, dealer, manager):
    sure = _within(dealer)
    decided = _within(dealer, name="赵敏", phone="+8613900002222")
    decided.status = DuplicateStatus.NOT_DUPLICATE
    decided.save()
    client = client_for(manager)
    url = reverse("dataquality:duplicate_list")

    open_ = _body(client.get(url))
    not_dup = _body(client.get(url + "?status=not_duplicate"))
    too_high = _body(client.get(url + f"?min_score={sure.score + 0.01:.2f}"))

    assert f'data-candidate="{sure.pk}"' in open_ and f'data-candidate="{decided.pk}"' not in open_
    assert f'data-candidate="{decided.pk}"' in not_dup
    assert "data-candidate=" not in too_high


# --- one pair ---------------------------------------------------------------------------------


def test_the_pair_side_by_side_masks_contact_details(
    client_for, make_user, dealer, django_assert_max_num_queries
):
    pair = _within(dealer)
    VehicleFactory(dealer=dealer, owner=pair.customer_a, plate="沪A12345")
    client = client_for(make_user(Role.CARE_SPECIALIST, language="en"))

    with django_assert_max_num_queries(25):
        body = _body(client.get(reverse("dataquality:duplicate_detail", args=[pair.pk])))

    assert "139****5678" in body and "13912345678" not in body
    assert "沪A12345" in body
    assert 'data-block="phone"' in body
    assert 'data-count="repair_orders"' in body


def test_revealing_the_full_phones_is_audit_logged(client_for, dealer, manager):
    pair = _within(dealer)
    client = client_for(manager)

    body = _body(
        client.post(reverse("dataquality:duplicate_detail", args=[pair.pk]), {"reveal": "1"})
    )

    assert PHONE in body
    assert AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK).count() == 2


def test_a_within_dealer_pair_offers_the_merge_form_to_who_may_merge(
    client_for, make_user, dealer, manager
):
    pair = _within(dealer)
    may_merge = _body(
        client_for(manager).get(reverse("dataquality:duplicate_detail", args=[pair.pk]))
    )
    reviewer = _body(
        client_for(make_user(Role.CARE_SPECIALIST)).get(
            reverse("dataquality:duplicate_detail", args=[pair.pk])
        )
    )

    assert "data-merge-form" in may_merge
    assert "data-merge-form" not in reviewer


def test_deciding_a_pair_closes_it_and_an_empty_post_changes_nothing(
    client_for, make_user, dealer, manager
):
    pair = _within(dealer)
    client = client_for(manager)
    url = reverse("dataquality:duplicate_decide", args=[pair.pk])

    empty = client.post(url, {})
    pair.refresh_from_db()
    assert empty.status_code == 302 and pair.status == DuplicateStatus.OPEN

    client.post(url, {"status": DuplicateStatus.NOT_DUPLICATE})
    pair.refresh_from_db()
    assert pair.status == DuplicateStatus.NOT_DUPLICATE
    assert pair.decided_by == manager


def test_the_oem_links_a_pair_across_dealers_but_cannot_decide_a_dealers_own(
    client_for, make_user, brand, dealer, other_dealer
):
    within = _within(dealer)
    across = _across(brand, dealer, other_dealer)
    client = client_for(make_user(Role.OEM_ADMIN, language="en"))

    client.post(reverse("dataquality:duplicate_decide", args=[across.pk]), {"status": "linked"})
    refused = client.post(
        reverse("dataquality:duplicate_decide", args=[within.pk]), {"status": "not_duplicate"}
    )

    across.refresh_from_db()
    within.refresh_from_db()
    assert across.status == DuplicateStatus.LINKED
    assert refused.status_code == 403 and within.status == DuplicateStatus.OPEN


# --- scans and the policy --------------------------------------------------------------------


def test_scan_now_finds_the_dealers_pairs(client_for, dealer, manager):
    a = CustomerFactory(dealer=dealer, name="周杰")
    b = CustomerFactory(dealer=dealer, name="周杰")
    CustomerPhoneFactory(customer=a, number=PHONE)
    CustomerPhoneFactory(customer=b, number=PHONE)

    response = client_for(manager).post(reverse("dataquality:duplicate_scan"))

    assert response.status_code == 302
    assert DuplicateCandidate.objects.filter(dealer=dealer, status="open").count() == 1


def test_the_policy_refuses_a_threshold_out_of_range_and_saves_a_good_one(
    client_for, make_user, dealer
):
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))
    url = reverse("dataquality:dedup_settings")

    bad = client.post(url, {"auto_merge_above": "0.3"})
    text = client.post(url, {"auto_merge_above": "high"})
    good = client.post(url, {"auto_merge_above": "0.95"})

    assert bad.status_code == 400 and "between 0.5 and 1.0" in _body(bad)
    assert text.status_code == 400 and "Merge automatically above" in _body(text)
    assert good.status_code == 302
    assert DedupSettings.objects.get(dealer=dealer).auto_merge_above == 0.95


# --- the API ----------------------------------------------------------------------------------


def test_the_api_lists_shows_and_decides_pairs(client_for, dealer, manager):
    pair = _within(dealer)
    client = client_for(manager)

    listed = client.get("/api/dataquality/duplicates").json()
    shown = client.get(f"/api/dataquality/duplicates/{pair.pk}").json()
    decided = client.post(
        f"/api/dataquality/duplicates/{pair.pk}/decide",
        {"status": "household"},
        content_type="application/json",
    )
    refused = client.post(
        f"/api/dataquality/duplicates/{pair.pk}/decide",
        {"status": "linked"},
        content_type="application/json",
    )

    assert [p["id"] for p in listed] == [pair.pk]
    assert shown["sides"][0]["phones"] == ["139****5678"]
    assert decided.status_code == 200 and decided.json()["status"] == "household"
    assert refused.status_code == 422 and "status" in refused.json()["errors"]


def test_the_api_hides_pairs_across_dealers_from_a_dealer(
    client_for, brand, dealer, other_dealer, manager
):
    across = _across(brand, dealer, other_dealer)
    client = client_for(manager)

    assert client.get(f"/api/dataquality/duplicates/{across.pk}").status_code == 404
    assert client.get("/api/dataquality/duplicates?across=true").json() == []


def test_the_api_scan_answers_202(client_for, make_user, brand, dealer, other_dealer):
    _across_customers = [CustomerFactory(dealer=d, name="李娜") for d in (dealer, other_dealer)]
    for customer in _across_customers:
        CustomerPhoneFactory(customer=customer, number="+8613700009999")

    response = client_for(make_user(Role.OEM_ANALYST)).post("/api/dataquality/duplicates/scan")

    assert response.status_code == 202 and response.json()["brand_id"] == brand.pk
    assert DuplicateCandidate.objects.filter(cross_dealer=True).count() == 1
