"""The timeline's first phase: the providers that say when their entries happened are asked only
for their share of the newest entries, and the result is what asking every provider for
everything gives: also for the providers of dates (ownership, mileage), of several entries per
row (surveys, ownerships) and of joined rows (lead events), and in a time zone with summer time,
where the providers of dates are always asked."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dealercrm.customers.models import Customer, Interaction
from dealercrm.customers.timeline import (
    TimelineRows,
    customer_timeline,
    fixed_utc_offset,
    timeline_providers,
)
from dealercrm.feedback.models import SurveyResponse
from dealercrm.sales.models import LeadEvent, LeadStage
from dealercrm.service.models import RecallCampaign, RecallVehicle
from dealercrm.vehicles.models import VehicleOwnership
from tests.customers.factories import CustomerFactory, InteractionFactory
from tests.feedback.factories import make_invitation, make_questionnaire
from tests.messaging.factories import MessageFactory
from tests.sales.factories import LeadFactory
from tests.service.factories import RepairOrderFactory
from tests.vehicles.factories import MileageReadingFactory, VehicleFactory
from tests.worklist.factories import TaskFactory

pytestmark = pytest.mark.django_db


def every_provider_for_everything(customer, *, limit, before):  # noqa: ANN001, ANN201
    """The timeline as it was before the first phase: each provider asked for `limit`."""
    entries = []
    for provider in timeline_providers():
        entries.extend(provider(customer, limit=limit, before=before))
    entries.sort(key=lambda entry: entry.occurred_at, reverse=True)
    return entries[:limit]


def local_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


@pytest.fixture
def busy_customer(dealer, manager):  # noqa: ANN001, ANN201
    """Entries of every kind of first-phase provider at interleaved times, some at the same
    moment: interactions, tasks, messages, repair orders (rows); lead events (joined to their
    lead); recalls (a time of three columns); surveys sent and answered (two per invitation);
    a car bought, delivered and handed on, and another bought, with readings (dates)."""
    vehicle = VehicleFactory(dealer=dealer)
    customer = vehicle.owner
    start = timezone.now().replace(microsecond=0) - datetime.timedelta(days=30)
    lead = LeadFactory(dealer=dealer, customer=customer)
    questionnaire = make_questionnaire(brand=dealer.brand, title="回访")
    campaign = RecallCampaign.objects.create(
        brand=dealer.brand, code="RC-T", title="召回", vin_from="A", vin_to="Z"
    )
    for hour in range(12):
        at = start + datetime.timedelta(hours=7 * hour)
        InteractionFactory(customer=customer, author=manager, occurred_at=at)
        if hour % 2:
            TaskFactory(customer=customer, created_at=at)  # at the same moment as a note
        if hour % 3 == 0:
            MessageFactory(customer=customer, created_at=at + datetime.timedelta(minutes=5))
        if hour % 4 == 1:
            RepairOrderFactory(vehicle=vehicle, opened_at=at - datetime.timedelta(minutes=1))
        for kind in (LeadEvent.Kind.STAGE, LeadEvent.Kind.ASSIGNED):  # assignments not shown
            LeadEvent.objects.create(
                dealer=dealer, lead=lead, kind=kind, to_value=LeadStage.CONTACTED, at=at
            )
        if hour % 5 == 2:
            invitation, _token = make_invitation(
                questionnaire=questionnaire, customer=customer, sent_at=at, source_id=str(hour)
            )
            SurveyResponse.objects.create(
                dealer_id=dealer.pk,
                invitation=invitation,
                version_id=invitation.version_id,
                kind=invitation.kind,
                customer_id=customer.pk,
                channel="web",
                answered_at=at + datetime.timedelta(hours=9),
                nps=8,
            )
        day = timezone.localdate(at)
        MileageReadingFactory(vehicle=vehicle, read_on=day, km=1000 * hour)  # a midnight
    # A second car, whose recall was notified, bought on the day of some reading (a tie).
    second = VehicleFactory(dealer=dealer, owner=customer, purchase_date=timezone.localdate(start))
    RecallVehicle.objects.create(
        dealer=dealer,
        campaign=campaign,
        vehicle=second,
        customer=customer,
        vin=second.vin,
        notified_at=start + datetime.timedelta(hours=40),
    )
    # The first car: bought long ago, delivered, handed on a week ago (to nobody here).
    VehicleOwnership.objects.filter(vehicle=vehicle).update(
        started_on=timezone.localdate(start) - datetime.timedelta(days=400),
        ended_on=timezone.localdate(start) + datetime.timedelta(days=23),
    )
    vehicle.delivery_date = timezone.localdate(start) - datetime.timedelta(days=390)
    vehicle.save(update_fields=["delivery_date"])
    return customer


def assert_same_as_every_provider_for_everything(customer) -> None:  # noqa: ANN001
    everything = every_provider_for_everything(customer, limit=200, before=None)
    kinds = {entry.kind for entry in everything}
    assert kinds >= {
        "note",
        "mileage",
        "lead_stage",
        "survey_sent",
        "survey_answered",
        "vehicle_purchase",
        "vehicle_delivery",
        "vehicle_owner_end",
    }
    assert any(kind.startswith("recall_") for kind in kinds)
    assert {entry.source for entry in everything} >= {"customers", "worklist", "messaging"}
    cuts = [None] + [everything[n].occurred_at for n in (5, 17, 30, 44, len(everything) - 3)]
    for limit in (1, 3, 8, 21, 200):
        for before in cuts:
            assert customer_timeline(
                customer, limit=limit, before=before
            ) == every_provider_for_everything(customer, limit=limit, before=before)


def test_the_timeline_is_what_every_provider_asked_for_everything_gives(busy_customer):
    assert fixed_utc_offset() == datetime.timedelta(hours=8)  # the providers of dates take part
    assert_same_as_every_provider_for_everything(busy_customer)


def test_in_a_time_zone_with_summer_time_the_providers_of_dates_are_always_asked(busy_customer):
    with timezone.override("Europe/Berlin"):
        assert fixed_utc_offset() is None
        assert_same_as_every_provider_for_everything(busy_customer)
        with CaptureQueriesContext(connection) as queries:
            customer_timeline(busy_customer, limit=1)
    mileage = [q for q in queries.captured_queries if '"vehicles_mileagereading"' in q["sql"]]
    assert len(mileage) == 1 and "UNION ALL" not in mileage[0]["sql"]


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
    # The first phase reads every provider's table in one UNION ALL; after it, the task and
    # message providers (none of the newest three) run no query of their own.
    own = [q["sql"] for q in queries.captured_queries if "UNION ALL" not in q["sql"]]
    assert not [sql for sql in own if '"worklist_task"' in sql or '"messaging_message"' in sql]
    assert len([sql for sql in own if '"customers_interaction"' in sql]) == 1


def test_a_row_provider_must_name_a_non_null_datetime_of_a_customers_model():
    with pytest.raises(ValueError, match="Interaction.body"):
        TimelineRows(Interaction, "body")
    with pytest.raises(ValueError, match="Customer: no dealer and customer"):
        TimelineRows(Customer, "created_at")
