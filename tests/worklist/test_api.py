"""The worklist API: my tasks due first, a manager's view of everyone's, completing a task; a
colleague's or another dealer's task answers 404."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone

from dealercrm.core.permissions import Role
from dealercrm.worklist.models import Task, TaskStatus
from tests.customers.factories import CustomerFactory
from tests.worklist.factories import TaskFactory

pytestmark = pytest.mark.django_db

API = "/api/worklist/tasks"
NOW = datetime.datetime(2026, 3, 10, 2, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def task(dealer, consultant):
    return TaskFactory(
        customer=CustomerFactory(dealer=dealer, name="王芳"),
        assignee=consultant,
        title="交车后三日回访",
        due_at=NOW + datetime.timedelta(hours=3),
    )


def complete(client, task_id, outcome=""):  # noqa: ANN001, ANN201
    return client.post(
        f"{API}/{task_id}/complete", {"outcome": outcome}, content_type="application/json"
    )


def test_anonymous_gets_401(client, task):
    assert client.get(API).status_code == 401


def test_my_open_tasks_come_due_first_with_the_overdue_flagged(
    client_for, consultant, make_user, dealer, task, django_assert_max_num_queries
):
    # Given an overdue task of mine, a done one, and a colleague's
    overdue = TaskFactory(
        customer=task.customer, assignee=consultant, due_at=NOW - datetime.timedelta(days=1)
    )
    TaskFactory(customer=task.customer, assignee=consultant, status=TaskStatus.DONE)
    TaskFactory(customer=task.customer, assignee=make_user(Role.SALES_CONSULTANT))
    api = client_for(consultant)

    # When I list my tasks
    with django_assert_max_num_queries(5):
        data = api.get(API).json()

    # Then my open ones, the overdue first and flagged
    assert data["count"] == 2
    assert [(t["id"], t["is_overdue"]) for t in data["items"]] == [
        (overdue.pk, True),
        (task.pk, False),
    ]
    assert data["items"][1]["customer_name"] == "王芳"
    done = api.get(API, {"status": "done"}).json()
    assert done["count"] == 1


def test_a_manager_lists_everyones_and_the_unassigned_but_a_consultant_may_not(
    client_for, consultant, manager, task
):
    unassigned = TaskFactory(customer=task.customer, assignee=None)

    everyone = client_for(manager).get(API, {"assignee": "all"}).json()
    nobodys = client_for(manager).get(API, {"assignee": "none"}).json()
    theirs = client_for(manager).get(API, {"assignee": str(consultant.pk)}).json()

    assert {t["id"] for t in everyone["items"]} == {task.pk, unassigned.pk}
    assert [t["id"] for t in nobodys["items"]] == [unassigned.pk]
    assert [t["id"] for t in theirs["items"]] == [task.pk]
    assert client_for(consultant).get(API, {"assignee": "all"}).status_code == 403


def test_completing_my_task_records_the_outcome_once(client_for, consultant, task):
    api = client_for(consultant)

    response = complete(api, task.pk, "客户满意，无问题")

    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["outcome"]) == ("done", "客户满意，无问题")
    assert data["completed_by"]["id"] == consultant.pk
    task.refresh_from_db()
    assert task.completed_at == timezone.now()
    # A second completion is refused, naming the status
    again = complete(api, task.pk)
    assert again.status_code == 422 and "status" in again.json()["errors"]


def test_a_colleagues_or_another_dealers_task_is_404(client_for, make_user, other_dealer, task):
    colleague = client_for(make_user(Role.SALES_CONSULTANT))
    stranger = client_for(make_user(Role.DEALER_MANAGER, dealer_=other_dealer))

    for api in (colleague, stranger):
        assert api.get(f"{API}/{task.pk}").status_code == 404
        assert complete(api, task.pk).status_code == 404
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_a_role_without_tasks_gets_403(client_for, make_user, task):
    admin = client_for(make_user(Role.DEALER_ADMIN))
    assert admin.get(API).status_code == 403
    assert complete(admin, task.pk).status_code == 403
    assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN
