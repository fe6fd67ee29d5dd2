"""Worklist pages: my tasks, the managers' view, closing and handing out a task (HTMX)."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dealercrm.core.permissions import Role
from dealercrm.worklist.models import Task, TaskKind, TaskStatus
from tests.worklist.factories import TaskFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2025, 6, 10, 10, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


def _ids_in_order(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="task-(\d+)" data-status', html)]


# --- access ------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("worklist:mine"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_dealer_admin_has_no_worklist_and_a_consultant_no_managers_view(client_for, make_user):
    assert client_for(make_user(Role.DEALER_ADMIN)).get(reverse("worklist:mine")).status_code == 403
    assert (
        client_for(make_user(Role.SALES_CONSULTANT)).get(reverse("worklist:all")).status_code == 403
    )


def test_another_dealers_task_and_a_colleagues_task_are_404(
    client_for, consultant, make_user, dealer, other_dealer
):
    theirs = TaskFactory(customer__dealer=other_dealer)
    colleagues = TaskFactory(customer__dealer=dealer, assignee=make_user(Role.SALES_CONSULTANT))
    client = client_for(consultant)

    for task in (theirs, colleagues):
        assert client.get(reverse("worklist:detail", args=[task.pk])).status_code == 404
        response = client.post(reverse("worklist:complete", args=[task.pk]), {"result": "reached"})
        assert response.status_code == 404
        assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_a_manager_opens_a_colleagues_task_but_not_another_dealers(
    client_for, manager, consultant, other_dealer, dealer
):
    colleagues = TaskFactory(customer__dealer=dealer, assignee=consultant)
    theirs = TaskFactory(customer__dealer=other_dealer)
    client = client_for(manager)

    assert client.get(reverse("worklist:detail", args=[colleagues.pk])).status_code == 200
    assert client.get(reverse("worklist:detail", args=[theirs.pk])).status_code == 404


# --- my tasks ------------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_my_tasks_lists_my_open_tasks_due_first_with_overdue_ones_marked(
    client_for, consultant, make_user, dealer
):
    later = TaskFactory(customer__dealer=dealer, assignee=consultant, due_at=NOW + 5 * HOUR)
    overdue = TaskFactory(
        customer__dealer=dealer,
        assignee=consultant,
        due_at=NOW - 2 * HOUR,
        body="您好张先生，您的爱车该保养了，这周六方便来店吗？",
    )
    soon = TaskFactory(customer__dealer=dealer, assignee=consultant, due_at=NOW + HOUR)
    TaskFactory(customer__dealer=dealer, assignee=consultant, status=TaskStatus.DONE)
    TaskFactory(customer__dealer=dealer, assignee=make_user(Role.SALES_CONSULTANT))
    TaskFactory(customer__dealer=dealer, assignee=None)

    response = client_for(consultant).get(reverse("worklist:mine"))

    html = response.content.decode()
    assert response.status_code == 200
    assert _ids_in_order(html) == [overdue.pk, soon.pk, later.pk]
    row = re.search(rf'<div class="list-group-item task-row([^"]*)" id="task-{overdue.pk}"', html)
    assert "task-overdue" in row.group(1)
    assert f'class="list-group-item task-row" id="task-{soon.pk}"' in html
    # The call script is on the page, and the customer is a link away.
    assert "您的爱车该保养了，这周六方便来店吗？" in html
    assert reverse("customers:detail", args=[overdue.customer_id]) in html
    assert re.search(r"3\s*(个待办任务|open tasks)", html)


def test_my_done_tasks_show_their_outcome(client_for, make_user, dealer):
    consultant = make_user(Role.SALES_CONSULTANT, language="en")
    TaskFactory(
        customer__dealer=dealer,
        assignee=consultant,
        status=TaskStatus.DONE,
        outcome="reached: 周六来店",
        completed_by=consultant,
        completed_at=timezone.now(),
    )

    response = client_for(consultant).get(reverse("worklist:mine"), {"status": "done"})

    assert "Reached the customer · 周六来店" in response.content.decode()


def test_the_list_query_count_does_not_grow_with_the_tasks(client_for, manager, dealer):
    client = client_for(manager)
    client.get(reverse("worklist:mine"))  # warm the session

    def count(n: int) -> tuple[int, int]:
        Task.objects.all().delete()
        for _ in range(n):
            TaskFactory(customer__dealer=dealer, assignee=manager)
        with CaptureQueriesContext(connection) as mine:
            assert client.get(reverse("worklist:mine")).status_code == 200
        with CaptureQueriesContext(connection) as everyone:
            assert client.get(reverse("worklist:all")).status_code == 200
        return len(mine), len(everyone)

    few, many = count(2), count(30)
    assert few == many
    assert many[0] <= 6 and many[1] <= 7


# --- the managers' view --------------------------------------------------------------------------


def test_the_managers_view_shows_everyones_tasks_and_filters_by_assignee(
    client_for, manager, make_user, dealer, other_dealer
):
    ming, hong = make_user(Role.SALES_CONSULTANT), make_user(Role.CARE_SPECIALIST)
    for_ming = TaskFactory(customer__dealer=dealer, assignee=ming)
    for_hong = TaskFactory(customer__dealer=dealer, assignee=hong)
    nobodys = TaskFactory(customer__dealer=dealer, assignee=None)
    theirs = TaskFactory(customer__dealer=other_dealer)
    client = client_for(manager)

    everyone = _ids_in_order(client.get(reverse("worklist:all")).content.decode())
    only_hong = client.get(reverse("worklist:all"), {"assignee": hong.pk}, HTTP_HX_REQUEST="true")
    unassigned = client.get(reverse("worklist:all"), {"assignee": "none"})

    assert set(everyone) == {for_ming.pk, for_hong.pk, nobodys.pk}
    assert theirs.pk not in everyone
    assert _ids_in_order(only_hong.content.decode()) == [for_hong.pk]
    assert "<html" not in only_hong.content.decode()  # the HTMX answer is the results only
    assert _ids_in_order(unassigned.content.decode()) == [nobodys.pk]


def test_a_manager_hands_a_task_to_a_colleague(
    client_for, manager, make_user, dealer, other_dealer
):
    colleague = make_user(Role.CARE_SPECIALIST)
    stranger = make_user(Role.CARE_SPECIALIST, dealer_=other_dealer)
    task = TaskFactory(customer__dealer=dealer, assignee=None)
    client = client_for(manager)
    url = reverse("worklist:assign", args=[task.pk])

    response = client.post(url, {"assignee": colleague.pk, "managing": "1"}, HTTP_HX_REQUEST="true")
    refused = client.post(url, {"assignee": stranger.pk, "managing": "1"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert f'id="task-{task.pk}"' in response.content.decode()
    assert refused.status_code == 200
    assert Task.objects.get(pk=task.pk).assignee == colleague  # the stranger is not a choice


# --- closing a task ------------------------------------------------------------------------------


def test_the_completion_form_of_a_call_offers_the_call_outcomes(client_for, consultant, dealer):
    call = TaskFactory(customer__dealer=dealer, assignee=consultant, kind=TaskKind.CALL)
    other = TaskFactory(customer__dealer=dealer, assignee=consultant, kind=TaskKind.OTHER)
    client = client_for(consultant)

    call_form = client.get(reverse("worklist:complete", args=[call.pk]), HTTP_HX_REQUEST="true")
    other_form = client.get(reverse("worklist:complete", args=[other.pk]), HTTP_HX_REQUEST="true")

    assert 'value="no_answer"' in call_form.content.decode()
    assert 'value="done"' not in call_form.content.decode()
    assert 'value="done"' in other_form.content.decode()


def test_completing_with_htmx_answers_the_closed_row_in_place_of_the_open_one(
    client_for, consultant, dealer
):
    task = TaskFactory(customer__dealer=dealer, assignee=consultant)

    response = client_for(consultant).post(
        reverse("worklist:complete", args=[task.pk]),
        {"result": "reached", "note": "周六上午来店"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert response["HX-Retarget"] == f"#task-{task.pk}"
    assert response["HX-Reswap"] == "outerHTML"
    assert 'data-status="done"' in response.content.decode()
    assert "周六上午来店" in response.content.decode()
    task.refresh_from_db()
    assert (task.status, task.outcome, task.completed_by) == (
        TaskStatus.DONE,
        "reached: 周六上午来店",
        consultant,
    )


def test_a_result_that_is_not_offered_comes_back_as_the_form_with_an_error(
    client_for, consultant, dealer
):
    task = TaskFactory(customer__dealer=dealer, assignee=consultant, kind=TaskKind.CALL)

    response = client_for(consultant).post(
        reverse("worklist:complete", args=[task.pk]), {"result": "done"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert "task-complete-form" in response.content.decode()
    assert "is-invalid" in response.content.decode()
    assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_completing_without_htmx_goes_back_to_the_list(client_for, consultant, dealer):
    task = TaskFactory(customer__dealer=dealer, assignee=consultant, kind=TaskKind.OTHER)

    response = client_for(consultant).post(
        reverse("worklist:complete", args=[task.pk]),
        {"result": "done", "next": reverse("worklist:mine") + "?status=open"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("worklist:mine") + "?status=open"
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DONE


def test_a_next_address_elsewhere_is_not_followed(client_for, consultant, dealer):
    task = TaskFactory(customer__dealer=dealer, assignee=consultant, kind=TaskKind.OTHER)

    response = client_for(consultant).post(
        reverse("worklist:complete", args=[task.pk]),
        {"result": "done", "next": "https://evil.example/"},
    )

    assert response["Location"] == reverse("worklist:mine")


def test_a_task_page_shows_the_script_and_the_completion_form(client_for, consultant, dealer):
    task = TaskFactory(customer__dealer=dealer, assignee=consultant, body="请确认周六的保养预约")

    response = client_for(consultant).get(reverse("worklist:detail", args=[task.pk]))

    html = response.content.decode()
    assert "请确认周六的保养预约" in html
    assert reverse("worklist:complete", args=[task.pk]) in html
