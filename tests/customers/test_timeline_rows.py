"""The timeline's first phase: the providers of one entry per row are asked only for their share
of the newest entries, and the result is what asking every provider for everything gives."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dealercrm.customers.models import Customer, Interaction
from dealercrm.customers.timeline import TimelineRows, customer_timeline, timeline_providers
from tests.customers.factories import CustomerFactory, InteractionFactory
from tests.messaging.factories import MessageFactory
from tests.service.factories import RepairOrderFactory
from tests.vehicles.factories import VehicleFactory
from tests.worklist.factories import TaskFactory

pytestmark = pytest.mark.django_db


def every_provider_for_everything(customer, *, limit, before):  # noqa: ANN001, ANN201
    """The timeline as it was before the first phase: each provider asked for `limit`."""
    entries = []
    for provider in timeline_providers():
        entries.extend(provider(customer, limit=limit, before=before))
    entries.sort(key=lambda entry: entry.occurred_at, reverse=True)
    return entries[:limit]


@pytest.fixture
def busy_customer(dealer, manager):  # noqa: ANN001, ANN201
    """Interactions, tasks, messages and repair orders at interleaved times, some at the same
    moment, and a car (its ownership and readings come from providers without rows)."""
    vehicle = VehicleFactory(dealer=dealer)
    customer = vehicle.owner
    start = timezone.now().replace(microsecond=0) - datetime.timedelta(days=30)
    for hour in range(12):
        at = start + datetime.timedelta(hours=7 * hour)
        InteractionFactory(customer=customer, author=manager, occurred_at=at)
        if hour % 2:
            TaskFactory(customer=customer, created_at=at)  # at the same moment as a note
        if hour % 3 == 0:
            MessageFactory(customer=customer, created_at=at + datetime.timedelta(minutes=5))
        if hour % 4 == 1:
            RepairOrderFactory(vehicle=vehicle, opened_at=at - datetime.timedelta(minutes=1))
    return customer


def test_the_timeline_is_what_every_provider_asked_for_everything_gives(busy_customer):
    everything = every_provider_for_everything(busy_customer, limit=100, before=None)
    assert {entry.source for entry in everything} >= {"customers", "worklist", "messaging"}
    for limit in (1, 3, 8, 21, 100):
        for before in (None, everything[5].occurred_at, everything[17].occurred_at):
            assert customer_timeline(
                busy_customer, limit=limit, before=before
            ) == every_provider_for_everything(busy_customer, limit=limit, before=before)


def test_providers_holding_none_of_the_newest_rows_are_not_asked(dealer, manager):
    customer = CustomerFactory(dealer=dealer)
    for hour in range(5):
        InteractionFactory(
            customer=customer,
            author=manager,
            occurred_at=timezone.now() - datetime.timedelta(hours=hour),
        )
    TaskFactory(customer=customer, created_at=timezone.now() - datetime.timedelta(days=9))

    with CaptureQueriesContext(connection) as queries:
        entries = customer_timeline(customer, limit=3)

    assert [entry.source for entry in entries] == ["customers"] * 3
    # The first phase reads every row provider's table in one UNION ALL; after it, the task
    # and message providers (none of the newest three) run no query of their own.
    own = [q["sql"] for q in queries.captured_queries if "UNION ALL" not in q["sql"]]
    assert not [sql for sql in own if '"worklist_task"' in sql or '"messaging_message"' in sql]
    assert len([sql for sql in own if '"customers_interaction"' in sql]) == 1


def test_a_row_provider_must_name_a_non_null_datetime_of_a_customers_model():
    with pytest.raises(ValueError, match="Interaction.body"):
        TimelineRows(Interaction, "body")
    with pytest.raises(ValueError, match="Customer: no dealer and customer"):
        TimelineRows(Customer, "created_at")
