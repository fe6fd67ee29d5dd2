"""The care worklist, one care task's page with its outcome form, the calendar, the workspace
panel and the care task API: a consultant sees only their own care tasks, a manager anyone's,
another dealer's answers 404."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from dealercrm.care.models import CareOccurrence, CareOutcome, CareRuleCode, OccurrenceStatus
from dealercrm.core.permissions import Role
from dealercrm.service.models import Appointment
from dealercrm.worklist.models import Task, TaskStatus
from tests.care.factories import make_care_task
from tests.customers.factories import CustomerPhoneFactory
from tests.service.factories import ServiceBayFactory
from tests.vehicles.factories import VehicleFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)
API = "/api/care/tasks"


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def consultant_en(make_user):
    return make_user(Role.SALES_CONSULTANT, language="en")


@pytest.fixture
def colleague(make_user):
    return make_user(Role.SALES_CONSULTANT)


@pytest.fixture
def manager_en(make_user):
    return make_user(Role.DEALER_MANAGER, language="en")


def _task(dealer, assignee, *, name="张伟", due_at=NOW, rule=CareRuleCode.MAINTENANCE_DUE):  # noqa: ANN001, ANN202
    vehicle = VehicleFactory(dealer=dealer, owner__name=name)
    CustomerPhoneFactory(customer=vehicle.owner, number="+8613912345678")
    return make_care_task(vehicle=vehicle, assignee=assignee, due_at=due_at, rule=rule)


def test_a_consultant_sees_only_their_own_care_tasks(
    client_for, dealer, consultant_en, colleague, django_assert_max_num_queries
):
    # Given two of mine and one of a colleague …
    _task(dealer, consultant_en, name="我的客户甲")
    _task(dealer, consultant_en, name="我的客户乙")
    theirs = _task(dealer, colleague, name="同事的客户")
    client = client_for(consultant_en)

    # … when I open the care worklist (in a fixed number of queries) …
    with django_assert_max_num_queries(12):
        response = client.get(reverse("care:worklist"))

    # … then it lists mine, with masked phones, and not my colleague's …
    body = response.content.decode()
    assert response.status_code == 200
    assert "我的客户甲" in body and "我的客户乙" in body
    assert "同事的客户" not in body
    assert "139****5678" in body and "13912345678" not in body
    # … and my colleague's task page answers 404, as another dealer's would.
    assert client.get(reverse("care:task", args=[theirs.pk])).status_code == 404


def test_another_dealers_care_task_answers_404(client_for, other_dealer, make_user):
    theirs = _task(other_dealer, make_user(Role.CARE_SPECIALIST, dealer_=other_dealer))
    client = client_for(make_user(Role.DEALER_MANAGER))

    assert client.get(reverse("care:task", args=[theirs.pk])).status_code == 404
    response = client.post(
        f"{API}/{theirs.pk}/outcome", {"outcome": "reached"}, content_type="application/json"
    )
    assert response.status_code == 404


def test_a_manager_picks_whose_tasks_and_the_unassigned_ones(
    client_for, dealer, manager_en, colleague
):
    _task(dealer, colleague, name="同事的客户")
    _task(dealer, None, name="没人管的客户")
    client = client_for(manager_en)

    everyone = client.get(reverse("care:worklist"), {"assignee": "all"}).content.decode()
    unassigned = client.get(reverse("care:worklist"), {"assignee": "none"}).content.decode()
    theirs = client.get(reverse("care:worklist"), {"assignee": colleague.pk}).content.decode()

    assert "同事的客户" in everyone and "没人管的客户" in everyone
    assert "没人管的客户" in unassigned and "同事的客户" not in unassigned
    assert "同事的客户" in theirs and "没人管的客户" not in theirs


def test_filters_by_rule_due_and_customer(client_for, dealer, consultant_en):
    _task(dealer, consultant_en, name="逾期客户", due_at=NOW - datetime.timedelta(days=2))
    _task(
        dealer,
        consultant_en,
        name="下周客户",
        due_at=NOW + datetime.timedelta(days=8),
        rule=CareRuleCode.INSURANCE_RENEWAL,
    )
    client = client_for(consultant_en)
    url = reverse("care:worklist")

    overdue = client.get(url, {"due": "overdue"}).content.decode()
    later = client.get(url, {"due": "later"}).content.decode()
    insurance = client.get(url, {"rule": CareRuleCode.INSURANCE_RENEWAL}).content.decode()
    searched = client.get(url, {"q": "逾期"}).content.decode()

    assert "逾期客户" in overdue and "下周客户" not in overdue
    assert "下周客户" in later and "逾期客户" not in later
    assert "下周客户" in insurance and "逾期客户" not in insurance
    assert "逾期客户" in searched and "下周客户" not in searched


def test_the_task_page_shows_the_script_and_records_an_outcome_over_htmx(
    client_for, dealer, consultant_en
):
    occurrence = _task(dealer, consultant_en)
    client = client_for(consultant_en)
    url = reverse("care:task", args=[occurrence.pk])

    page = client.get(url).content.decode()
    assert "保养快到期" in page and "Record outcome" in page

    response = client.post(
        url, {"outcome": "reached", "note": "下周来", "seen_attempts": "0"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert "Outcome recorded." in response.content.decode()
    occurrence.refresh_from_db()
    assert (occurrence.status, occurrence.outcome) == (OccurrenceStatus.DONE, CareOutcome.REACHED)


def test_no_answer_on_the_page_keeps_the_task_open_for_later(client_for, dealer, consultant_en):
    occurrence = _task(dealer, consultant_en)
    client = client_for(consultant_en)
    url = reverse("care:task", args=[occurrence.pk])

    # A double click sends the same form twice.
    for _click in range(2):
        client.post(url, {"outcome": "no_answer", "seen_attempts": "0"}, HTTP_HX_REQUEST="true")

    occurrence.refresh_from_db()
    assert occurrence.attempts == 1
    assert Task.objects.get(pk=occurrence.task_id).status == TaskStatus.OPEN


def test_a_refused_appointment_comes_back_to_the_form_with_nothing_saved(
    client_for, dealer, consultant_en
):
    # Given no service bay at all, when an appointment is booked on the call …
    occurrence = _task(dealer, consultant_en)
    client = client_for(consultant_en)
    response = client.post(
        reverse("care:task", args=[occurrence.pk]),
        {"outcome": "appointment_booked", "starts_at": "2026-03-11T10:00", "kind": "maintenance"},
        HTTP_HX_REQUEST="true",
    )

    # … then the form comes back with the workshop's reason, and nothing is recorded.
    assert response.status_code == 200
    assert "Record outcome" in response.content.decode()
    occurrence.refresh_from_db()
    assert occurrence.status == OccurrenceStatus.OPEN
    assert not Appointment.objects.exists()


def test_an_appointment_booked_on_the_page_is_in_the_workshop(client_for, dealer, consultant_en):
    ServiceBayFactory(dealer=dealer)
    occurrence = _task(dealer, consultant_en)
    client = client_for(consultant_en)

    response = client.post(
        reverse("care:task", args=[occurrence.pk]),
        {"outcome": "appointment_booked", "starts_at": "2026-03-11T10:00", "kind": "maintenance"},
    )

    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert appointment.source_id == str(occurrence.pk)


def test_the_calendar_counts_open_tasks_per_day_and_links_to_the_worklist(
    client_for, dealer, consultant_en, colleague
):
    _task(dealer, consultant_en, due_at=NOW + datetime.timedelta(days=2))
    _task(dealer, consultant_en, due_at=NOW + datetime.timedelta(days=2, hours=1))
    _task(dealer, colleague, due_at=NOW + datetime.timedelta(days=2))
    client = client_for(consultant_en)

    body = client.get(reverse("care:calendar")).content.decode()

    assert 'data-day-count="2"' in body
    assert "?day=2026-03-12" in body


def test_the_workspace_shows_my_care_tasks_due_today(client_for, dealer, consultant_en):
    _task(dealer, consultant_en, name="今天要打的")
    _task(dealer, consultant_en, name="下周才打的", due_at=NOW + datetime.timedelta(days=7))

    body = client_for(consultant_en).get("/").content.decode()

    assert "Care tasks due today or overdue" in body
    assert "今天要打的" in body and "下周才打的" not in body


def test_the_api_lists_my_care_tasks_and_records_an_outcome(
    client_for, dealer, consultant_en, colleague
):
    mine = _task(dealer, consultant_en, name="我的客户")
    _task(dealer, colleague, name="同事的客户")
    client = client_for(consultant_en)

    rows = client.get(API).json()
    assert [row["customer_name"] for row in rows] == ["我的客户"]
    assert rows[0]["customer_phone"] == "139****5678"

    answer = client.post(
        f"{API}/{mine.pk}/outcome",
        {"outcome": "not_interested", "note": "已换车"},
        content_type="application/json",
    )
    assert answer.status_code == 200
    assert answer.json()["outcome"] == "not_interested"
    assert CareOccurrence.objects.get(pk=mine.pk).status == OccurrenceStatus.DONE

    refused = client.post(
        f"{API}/{mine.pk}/outcome", {"outcome": "reached"}, content_type="application/json"
    )
    assert refused.status_code == 422
