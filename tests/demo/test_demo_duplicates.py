"""The demo's duplicates: second records at the same dealer, households and owners at a second
dealer are made (in place: the demo keeps the number of customers asked for), and the finishing
scan finds them in the review queue."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from dealercrm.customers.models import Customer, CustomerPhone
from dealercrm.dataquality.models import DuplicateCandidate, DuplicateStatus
from dealercrm.search.models import SearchKey
from tests.demo.conftest import demo_fixture

TODAY = dt.date(2026, 6, 30)
CUSTOMERS = 1500


demo = demo_fixture(customers=CUSTOMERS, seed=5, today=TODAY)


def test_the_demo_keeps_the_number_of_customers_asked_for(db_demo):
    assert Customer.objects.count() == CUSTOMERS


def test_the_scan_finds_open_pairs_households_and_pairs_across_dealers(db_demo):
    by_kind = Counter(
        (c.cross_dealer, c.status)
        for c in DuplicateCandidate.objects.only("cross_dealer", "status")
    )
    assert by_kind[(False, DuplicateStatus.OPEN)] >= 0.02 * CUSTOMERS
    assert by_kind[(False, DuplicateStatus.HOUSEHOLD)] >= 0.005 * CUSTOMERS
    assert by_kind[(True, DuplicateStatus.OPEN)] >= 0.003 * CUSTOMERS


def test_second_records_share_a_key_with_a_similar_name(db_demo):
    pairs = DuplicateCandidate.objects.filter(cross_dealer=False, status=DuplicateStatus.OPEN)
    assert all(p.reasons["blocks"] for p in pairs)
    assert sum(p.reasons["name"] >= 0.85 for p in pairs) >= 0.8 * pairs.count()
    # Some second records are found through the e-mail or the WeChat id, not the phone.
    assert any({"email", "wechat"} & set(p.reasons["blocks"]) for p in pairs)


def test_owners_at_another_dealer_share_phone_and_name(db_demo):
    cross = DuplicateCandidate.objects.filter(cross_dealer=True)
    assert all(c.dealer_id != c.other_dealer_id for c in cross)
    assert sum("phone" in c.reasons["blocks"] and c.reasons["name"] >= 0.9 for c in cross) >= (
        0.5 * cross.count()
    )
    assert any("id_number" in c.reasons["blocks"] for c in cross)


def test_households_share_a_home_phone_and_the_address(db_demo):
    # The generated households (by their home phone), not a car sold on between two customers
    # of the dealer: the scan calls that a household too, through the car.
    household = next(
        pair
        for pair in DuplicateCandidate.objects.filter(status=DuplicateStatus.HOUSEHOLD).order_by(
            "id"
        )
        if "phone" in pair.reasons["blocks"]
    )
    a = Customer.objects.get(pk=household.customer_a_id)
    b = Customer.objects.get(pk=household.customer_b_id)
    assert (a.city, a.street) == (b.city, b.street)
    assert a.name != b.name
    shared = set(CustomerPhone.objects.filter(customer=a).values_list("number", flat=True)) & set(
        CustomerPhone.objects.filter(customer=b).values_list("number", flat=True)
    )
    assert shared


def test_second_records_are_found_by_their_new_name(db_demo):
    from dealercrm.search.keys import customer_keys

    pair = DuplicateCandidate.objects.filter(cross_dealer=False, status="open").first()
    second = Customer.objects.get(pk=pair.customer_b_id)
    terms = {term for _kind, term in customer_keys(name=second.name, latin_name="")}
    assert SearchKey.objects.filter(customer_id=second.pk, term__in=terms).exists()
