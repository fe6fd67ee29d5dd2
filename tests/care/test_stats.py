"""The managers' care figures: per person and per rule, on hand-made tasks; a fixed number of
queries."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dealercrm.care.models import CareOccurrence, CareRuleCode, OccurrenceStatus
from dealercrm.care.selectors.stats import care_stats
from dealercrm.core.permissions import Role
from tests.care.factories import make_care_task

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
TODAY = datetime.date(2026, 3, 10)


def at(month: int, day: int, hour: int = 10) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(at(3, 10, 12), tick=False):
        yield


def _made(dealer, assignee, due, *, rule, closed=None, status=None):  # noqa: ANN001, ANN202
    occurrence = make_care_task(dealer=dealer, assignee=assignee, due_at=due, rule=rule)
    if closed is not None or status is not None:
        CareOccurrence.objects.filter(pk=occurrence.pk).update(
            status=status or OccurrenceStatus.DONE, closed_at=closed
        )
    return occurrence


@pytest.fixture
def team(dealer, make_user):
    anna = make_user(Role.CARE_SPECIALIST, display_name="安娜")
    bo = make_user(Role.SALES_CONSULTANT, display_name="博文")
    due, ins, bday = (
        CareRuleCode.MAINTENANCE_DUE,
        CareRuleCode.INSURANCE_RENEWAL,
        CareRuleCode.BIRTHDAY,
    )
    _made(dealer, anna, at(3, 2), rule=due, closed=at(3, 2, 20))  # on time (evening, same day)
    _made(dealer, anna, at(3, 3), rule=due, closed=at(3, 5))  # late
    _made(dealer, anna, at(3, 4), rule=ins)  # overdue, open
    _made(dealer, anna, at(3, 20), rule=ins)  # open, not yet due
    _made(dealer, bo, at(3, 5), rule=ins, closed=at(3, 4))  # early
    _made(dealer, None, at(3, 8), rule=bday)  # nobody's, overdue
    _made(dealer, anna, at(2, 20), rule=due, closed=at(2, 20))  # before the period
    _made(dealer, anna, at(3, 6), rule=due, status=OccurrenceStatus.CANCELLED)  # not counted
    return anna, bo


def test_figures_per_person_and_per_rule(dealer, team):
    anna, bo = team

    stats = care_stats(
        dealer.pk, start=datetime.date(2026, 3, 1), end=datetime.date(2026, 3, 31), today=TODAY
    )

    people = {f.key: f for f in stats.by_person}
    assert (people[str(anna.pk)].due, people[str(anna.pk)].completed) == (4, 2)
    assert (people[str(anna.pk)].on_time, people[str(anna.pk)].overdue_open) == (1, 1)
    assert people[str(anna.pk)].completion_rate == 50.0
    assert people[str(anna.pk)].overdue_rate == 25.0
    assert (people[str(bo.pk)].completion_rate, people[str(bo.pk)].overdue_rate) == (100.0, 0.0)
    assert (people["none"].due, people["none"].overdue_open, people["none"].overdue_rate) == (
        1,
        1,
        100.0,
    )
    rules = {f.key: f for f in stats.by_rule}
    assert (rules["maintenance_due"].due, rules["maintenance_due"].on_time) == (2, 1)
    assert (rules["insurance_renewal"].due, rules["insurance_renewal"].completed) == (3, 1)
    assert rules["insurance_renewal"].overdue_open == 1
    total = stats.total
    assert (total.due, total.completed, total.on_time, total.overdue_open) == (6, 3, 2, 2)
    assert total.overdue_rate == 33.3


def test_an_empty_period_has_no_rates(dealer, team):
    stats = care_stats(
        dealer.pk, start=datetime.date(2025, 1, 1), end=datetime.date(2025, 1, 31), today=TODAY
    )
    assert stats.by_person == [] and stats.total.completion_rate is None


def _page_queries(client) -> int:  # noqa: ANN001
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("care:stats"), {"period": "this_month"})
    assert response.status_code == 200
    return len(queries)


def test_the_stats_page_shows_the_figures_in_a_fixed_number_of_queries(
    client_for, make_user, dealer, team
):
    manager = make_user(Role.DEALER_MANAGER, language="en")
    client = client_for(manager)

    body = client.get(reverse("care:stats"), {"period": "this_month"}).content.decode()
    assert "安娜" in body and "50.0%" in body and "care-stats-chart" in body

    before = _page_queries(client)
    for day in (11, 12, 13):
        _made(dealer, make_user(Role.CARE_SPECIALIST), at(3, day), rule=CareRuleCode.FESTIVAL)
    assert _page_queries(client) == before


def test_a_care_specialist_without_manage_care_gets_403(client_for, make_user):
    specialist = make_user(Role.CARE_SPECIALIST)
    assert client_for(specialist).get(reverse("care:stats")).status_code == 403
