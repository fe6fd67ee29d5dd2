"""Prepared queries: compiled once per shape, then run with new values; the same rows as the
ORM, converted as the ORM converts them, inside the tenancy rules."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import F
from django.db.models.functions import Upper
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dealercrm.core.prepared import PreparedQuery
from dealercrm.core.tenancy import DealerScope, DealerScopeMissing, dealer_scope
from dealercrm.customers.models import CustomerPhone, Interaction
from tests.customers.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db

PARAMS = {"dealer_id": int, "customer_id": int, "before": datetime.datetime}


def interactions(dealer_id, customer_id, before=None):  # noqa: ANN001, ANN201
    rows = (
        Interaction.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
        .select_related("author", "customer")
        .annotate(shouting=Upper("body"))
        .order_by("-occurred_at", "-id")
    )
    if before is not None:
        rows = rows.filter(occurred_at__lt=before)
    return rows


@pytest.fixture
def history(dealer, other_dealer, manager):  # noqa: ANN001, ANN201
    start = timezone.now().replace(microsecond=123456) - datetime.timedelta(days=3)
    customers = [CustomerFactory(dealer=dealer), CustomerFactory(dealer=other_dealer)]
    for customer in customers:
        for hour in range(6):
            InteractionFactory(
                customer=customer,
                author=manager if hour % 2 else None,
                occurred_at=start + datetime.timedelta(hours=hour),
            )
    return customers


def _fields(row: Interaction) -> tuple:
    return (
        row.pk,
        row.occurred_at,
        row.body,
        row.shouting,
        row.author.display_name if row.author_id else None,
        row.customer.name,
    )


def test_instances_are_the_orms_with_related_objects_annotations_and_aware_times(history):
    prepared = PreparedQuery(interactions, params=PARAMS)
    for customer in history:
        kwargs = {"dealer_id": customer.dealer_id, "customer_id": customer.pk}
        orm = list(interactions(**kwargs)[:4])
        rows = prepared(**kwargs, limit=4)
        assert [_fields(row) for row in rows] == [_fields(row) for row in orm]
        assert all(timezone.is_aware(row.occurred_at) for row in rows)
        before = orm[1].occurred_at
        assert [row.pk for row in prepared(**kwargs, before=before, limit=10)] == [
            row.pk for row in interactions(**kwargs, before=before)[:10]
        ]
        assert len(prepared(**kwargs)) == 6  # no limit: all


def test_it_is_built_and_compiled_once_per_shape_then_only_run(history):
    built = []

    def build(dealer_id, customer_id, before=None):  # noqa: ANN001, ANN202
        built.append(before is not None)
        return interactions(dealer_id, customer_id, before)

    prepared = PreparedQuery(build, params=PARAMS)
    customer = history[0]
    kwargs = {"dealer_id": customer.dealer_id, "customer_id": customer.pk}
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            prepared(**kwargs, limit=2)
        assert len(queries) == 1
        prepared(**kwargs, limit=3)
        prepared(**kwargs, limit=3, before=timezone.now())
    # The limit is a parameter: another limit is the same statement; a `before`, another.
    assert built == [False, True]


def test_values_rows_are_dicts_with_booleans_and_times_converted(dealer, manager):
    customer = CustomerFactory(dealer=dealer)
    reported = timezone.now().replace(microsecond=0)
    CustomerPhone.objects.create(
        dealer=dealer,
        customer=customer,
        number="+8613800000001",
        is_primary=True,
        wrong_number_reported_at=reported,
    )
    prepared = PreparedQuery(
        lambda dealer_id, customer_id: CustomerPhone.objects.filter(
            dealer_id=dealer_id, customer_id=customer_id
        ).values("is_primary", "wrong_number_reported_at", dealer_name=F("dealer__name")),
        params={"dealer_id": int, "customer_id": int},
    )
    assert prepared(dealer_id=dealer.pk, customer_id=customer.pk) == [
        {"is_primary": True, "wrong_number_reported_at": reported, "dealer_name": dealer.name}
    ]


def test_a_dealers_scope_is_never_compiled_into_the_query_and_is_checked_on_every_call(history):
    prepared = PreparedQuery(interactions, params=PARAMS)
    mine, theirs = history
    # Compiled first inside the first dealer's scope (a request of its user) …
    with dealer_scope(mine.dealer_id):
        assert len(prepared(dealer_id=mine.dealer_id, customer_id=mine.pk, limit=9)) == 6
        with pytest.raises(PermissionDenied):
            prepared(dealer_id=theirs.dealer_id, customer_id=theirs.pk, limit=9)
    # … the same compiled query serves the other dealer's user with their own rows.
    with dealer_scope(theirs.dealer_id):
        rows = prepared(dealer_id=theirs.dealer_id, customer_id=theirs.pk, limit=9)
        assert {row.dealer_id for row in rows} == {theirs.dealer_id} and len(rows) == 6
        # Another dealer's customer id under one's own dealer id finds nothing.
        assert prepared(dealer_id=theirs.dealer_id, customer_id=mine.pk, limit=9) == []


def test_without_a_scope_it_refuses_as_the_managers_do(history):
    prepared = PreparedQuery(interactions, params=PARAMS)
    with dealer_scope(DealerScope.nothing()), pytest.raises(PermissionDenied):
        prepared(dealer_id=history[0].dealer_id, customer_id=history[0].pk, limit=1)
    from dealercrm.core.tenancy import _current_scope

    reset = _current_scope.set(None)
    try:
        with pytest.raises(DealerScopeMissing):
            prepared(dealer_id=history[0].dealer_id, customer_id=history[0].pk, limit=1)
    finally:
        _current_scope.reset(reset)


def test_queries_it_cannot_prepare_are_refused_when_first_run(history):
    customer = history[0]
    kwargs = {"dealer_id": customer.dealer_id, "customer_id": customer.pk}
    with pytest.raises(ValueError, match="dealer_id parameter"):
        PreparedQuery(interactions, params={"customer_id": int})
    ignores_customer = PreparedQuery(
        lambda dealer_id, customer_id: Interaction.objects.filter(dealer_id=dealer_id).values("id"),
        params={"dealer_id": int, "customer_id": int},
    )
    with pytest.raises(ValueError, match=r"\['customer_id'\] are not plain values"):
        ignores_customer(**kwargs)
    writes_it_into_the_text = PreparedQuery(
        lambda dealer_id, customer_id: (
            Interaction.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
            .extra(where=[f"id <> {customer_id}"])  # noqa: S610
            .values("id")
        ),
        params={"dealer_id": int, "customer_id": int},
    )
    with pytest.raises(ValueError, match="written into the SQL text"):
        writes_it_into_the_text(**kwargs)
    prefetches = PreparedQuery(
        lambda dealer_id, customer_id: Interaction.objects.filter(
            dealer_id=dealer_id, customer_id=customer_id
        ).prefetch_related("customer"),
        params={"dealer_id": int, "customer_id": int},
    )
    with pytest.raises(TypeError, match="prefetch"):
        prefetches(**kwargs)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
@pytest.mark.parametrize("on", [True, False])
def test_on_postgresql_the_statement_is_prepared_on_the_server_unless_turned_off(
    history, settings, on
):
    settings.DB_PREPARED_STATEMENTS = on
    prepared = PreparedQuery(interactions, params=PARAMS)
    customer = history[0]
    for limit in (2, 5, 3):  # one statement whatever the limit
        rows = prepared(dealer_id=customer.dealer_id, customer_id=customer.pk, limit=limit)
        assert len(rows) == limit
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements"
            " WHERE statement LIKE %s AND statement LIKE %s",
            ['%"customers_interaction"%', "%UPPER%"],
        )
        assert cursor.fetchone()[0] == (1 if on else 0)


def test_a_builder_that_slices_is_refused(history):
    sliced = PreparedQuery(
        lambda dealer_id, customer_id: interactions(dealer_id, customer_id)[:3],
        params={"dealer_id": int, "customer_id": int},
    )
    with pytest.raises(TypeError, match="must not slice"):
        sliced(dealer_id=history[0].dealer_id, customer_id=history[0].pk)
