"""Keeping search keys in step with customers and vehicles."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealercrm.core.tenancy import dealer_scope
from dealercrm.search.models import KeyKind, SearchKey
from dealercrm.search.services import (
    search_keys_bulk_insert,
    search_keys_rebuild_all,
    search_keys_refresh,
    search_keys_refresh_vehicles,
)
from tests.search.factories import (
    CustomerPhoneFactory,
    VehicleFactory,
    searchable_customer,
)

pytestmark = pytest.mark.django_db


def keys_of(customer):
    return set(
        SearchKey.objects.unscoped()
        .filter(customer_id=customer.pk)
        .values_list("kind", "term", "vehicle_id")
    )


def test_refresh_follows_a_changed_phone(dealer):
    customer = searchable_customer(dealer, "张三", phones=["+8613812341234"])
    phone = customer.phones.get()
    phone.number = "+8613900005678"
    phone.save()
    search_keys_refresh(dealer_id=dealer.pk, customer_ids=[customer.pk])
    terms = {term for kind, term, _ in keys_of(customer) if kind == KeyKind.PHONE}
    assert terms == {"13900005678"}


def test_refresh_of_a_deleted_customer_leaves_no_keys(dealer):
    customer = searchable_customer(dealer, "张三", vehicles=[("LSVAB2BX6P1234567", "沪A12345")])
    customer.is_deleted = True
    customer.save(update_fields=["is_deleted"])
    search_keys_refresh(dealer_id=dealer.pk, customer_ids=[customer.pk])
    assert keys_of(customer) == set()


def statements_of(fn) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        fn()
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_refresh_is_set_based_whatever_the_number_of_customers(dealer):
    customers = [
        searchable_customer(dealer, f"客户{i}", phones=[f"+861380000{i:04d}"]) for i in range(20)
    ]
    # reads: customers, phones, vehicles; then one delete and one insert
    one = statements_of(
        lambda: search_keys_refresh(dealer_id=dealer.pk, customer_ids=[customers[0].pk])
    )
    twenty = statements_of(
        lambda: search_keys_refresh(dealer_id=dealer.pk, customer_ids=[c.pk for c in customers])
    )
    assert len(one) == len(twenty) <= 5  # PostgreSQL writes by COPY, which is not counted


def test_a_vehicle_changing_hands_moves_its_keys_to_the_new_owner(dealer):
    seller = searchable_customer(dealer, "张三", vehicles=[("LSVAB2BX6P1234567", "沪A12345")])
    buyer = searchable_customer(dealer, "李四")
    vehicle = seller.vehicles.get()
    vehicle.owner = buyer
    vehicle.save()
    search_keys_refresh_vehicles(dealer_id=dealer.pk, vehicle_ids=[vehicle.pk])
    assert not any(v == vehicle.pk for _, _, v in keys_of(seller))
    assert (KeyKind.PLATE, "沪A12345", vehicle.pk) in keys_of(buyer)


def test_rebuild_all_gives_the_same_keys_as_refreshing_each_customer(dealer, other_dealer):
    a = searchable_customer(
        dealer, "张三", phones=["+8613812341234"], vehicles=[("LSVAB2BX6P1234567", "沪A12345")]
    )
    b = searchable_customer(other_dealer, "曾国藩", latin_name="Zeng")
    CustomerPhoneFactory(customer=b, number="+8613900001111", is_primary=True)  # keys not refreshed
    before_a = keys_of(a)
    SearchKey.objects.unscoped().all().delete()
    written = search_keys_rebuild_all()
    assert keys_of(a) == before_a
    assert (KeyKind.PHONE, "13900001111", None) in keys_of(b)
    assert written == SearchKey.objects.unscoped().count()


def test_rebuild_of_one_dealer_leaves_the_others_alone(dealer, other_dealer):
    searchable_customer(dealer, "张三")
    other = searchable_customer(other_dealer, "李四")
    before = keys_of(other)
    VehicleFactory(owner=other, vin="LSVAB2BX6P1234567", plate="京A12345")
    search_keys_rebuild_all(dealer_id=dealer.pk)
    assert keys_of(other) == before


def test_bulk_insert_writes_plain_tuples(dealer):
    customer = searchable_customer(dealer, "张三")
    SearchKey.objects.unscoped().all().delete()
    n = search_keys_bulk_insert(
        rows=[
            (dealer.pk, customer.pk, None, KeyKind.NAME, "张三"),
            (dealer.pk, customer.pk, None, KeyKind.PINYIN, "zhangsan"),
        ],
        batch_size=1,
    )
    assert n == 2
    assert keys_of(customer) == {(KeyKind.NAME, "张三", None), (KeyKind.PINYIN, "zhangsan", None)}


def test_a_dealer_user_cannot_refresh_another_dealers_keys(dealer, other_dealer):
    other = searchable_customer(other_dealer, "李四")
    with dealer_scope(dealer.pk), pytest.raises(PermissionDenied):
        search_keys_refresh(dealer_id=other_dealer.pk, customer_ids=[other.pk])


def test_refresh_works_inside_the_customers_own_dealer_scope(dealer):
    customer = searchable_customer(dealer, "张三")
    SearchKey.objects.unscoped().filter(customer_id=customer.pk).delete()
    with dealer_scope(dealer.pk):
        assert search_keys_refresh(dealer_id=dealer.pk, customer_ids=[customer.pk]) > 0
    assert (KeyKind.NAME, "张三", None) in keys_of(customer)
