"""core.bulk.BulkWriter: tuples into tables, on both engines (SQLite stages them in a TEMP table)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from dealercrm.core.bulk import BulkWriter, to_db
from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.models import Customer, CustomerPhone
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)
FIELDS = ("dealer_id", "customer_id", "number", "label", "is_primary")


def phones(dealer_id: int, customer_id: int, numbers: list[str]) -> list[tuple]:
    return [(dealer_id, customer_id, n, "mobile", i == 0) for i, n in enumerate(numbers)]


def test_rows_land_with_the_defaults_of_the_columns_not_given(dealer):
    with dealer_scope(dealer.pk):
        customer = CustomerFactory(dealer=dealer)
        bulk = BulkWriter(now=NOW)
        written = bulk.write(
            CustomerPhone,
            FIELDS,
            phones(dealer.pk, customer.pk, ["+8613800000001", "+8613800000002"]),
        )
        assert written == 2
        got = list(
            CustomerPhone.objects.filter(customer=customer)
            .order_by("number")
            .values_list("number", "is_primary", "wrong_number_reported_at")
        )
    assert got == [("+8613800000001", True, None), ("+8613800000002", False, None)]
    assert bulk.counts == {"customers.CustomerPhone": 2}


def test_a_refused_write_leaves_nothing_behind_for_the_next_one(dealer):
    with dealer_scope(dealer.pk):
        customer = CustomerFactory(dealer=dealer)
        bulk = BulkWriter(now=NOW)
        # The same number twice for one customer breaks the table's unique constraint.
        with pytest.raises(IntegrityError), transaction.atomic():
            bulk.write(
                CustomerPhone,
                FIELDS,
                phones(dealer.pk, customer.pk, ["+8613800000003", "+8613800000003"]),
            )
        bulk.write(CustomerPhone, FIELDS, phones(dealer.pk, customer.pk, ["+8613800000004"]))
        numbers = sorted(
            CustomerPhone.objects.filter(customer=customer).values_list("number", flat=True)
        )
    assert numbers == ["+8613800000004"]


def test_explicit_ids_are_kept(dealer):
    with dealer_scope(dealer.pk):
        top = (
            Customer._base_manager.order_by("-id").values_list("id", flat=True).first() or 0
        ) + 100
        bulk = BulkWriter(now=NOW)
        bulk.write(
            Customer,
            ("id", "dealer_id", "name", "created_at", "updated_at"),
            [(top, dealer.pk, "王五", to_db(NOW), to_db(NOW))],
        )
        customer = Customer.objects.get(pk=top)
    assert customer.name == "王五"
    assert customer.dealer_id == dealer.pk
