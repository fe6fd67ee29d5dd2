"""Worklist services: closing a task, the completion hooks other apps register, handing out."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from dealercrm.core.permissions import Role
from dealercrm.worklist import services
from dealercrm.worklist.models import Task, TaskStatus
from dealercrm.worklist.outcomes import join_outcome, outcome_display, split_outcome
from tests.worklist.factories import TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hook_calls():
    """A hook registered for source kind "test.thing" that records what it saw."""
    calls = []

    def hook(task):
        calls.append((task.pk, task.status, task.outcome))

    services.register_task_completion_hook("test.thing", hook)
    yield calls
    services.unregister_task_completion_hook("test.thing", hook)


def test_completing_a_task_records_the_outcome_who_and_when(consultant, dealer):
    task = TaskFactory(customer__dealer=dealer, assignee=consultant)

    services.task_complete(actor=consultant, task=task, outcome="reached: 周六来店")

    task.refresh_from_db()
    assert task.status == TaskStatus.DONE
    assert task.outcome == "reached: 周六来店"
    assert task.completed_by == consultant
    assert task.completed_at is not None


def test_a_closed_task_cannot_be_closed_again(consultant, dealer):
    task = TaskFactory(customer__dealer=dealer, assignee=consultant)
    services.task_complete(actor=consultant, task=task, outcome="done")

    stale = Task.objects.get(pk=task.pk)
    stale.status = TaskStatus.OPEN  # as another tab read it before the first close
    with pytest.raises(ValidationError):
        services.task_complete(actor=consultant, task=stale, outcome="reached")
    with pytest.raises(ValidationError):
        services.task_cancel(actor=consultant, task=stale)


def test_the_hook_of_the_tasks_source_runs_on_completion_and_on_cancel(
    consultant, dealer, hook_calls
):
    mine = TaskFactory(customer__dealer=dealer, source_kind="test.thing", source_id="7")
    cancelled = TaskFactory(customer__dealer=dealer, source_kind="test.thing", source_id="8")
    other = TaskFactory(customer__dealer=dealer, source_kind="other.thing", source_id="9")

    services.task_complete(actor=consultant, task=mine, outcome="no_answer")
    services.task_cancel(actor=consultant, task=cancelled, outcome="客户已到店")
    services.task_complete(actor=consultant, task=other, outcome="done")

    assert hook_calls == [
        (mine.pk, TaskStatus.DONE, "no_answer"),
        (cancelled.pk, TaskStatus.CANCELLED, "客户已到店"),
    ]


def test_registering_the_same_hook_twice_runs_it_once(consultant, dealer, hook_calls):
    hook = services._completion_hooks["test.thing"][0]
    services.register_task_completion_hook("test.thing", hook)
    task = TaskFactory(customer__dealer=dealer, source_kind="test.thing")

    services.task_complete(actor=consultant, task=task)

    assert len(hook_calls) == 1


def test_a_failing_hook_leaves_the_task_open(consultant, dealer):
    def broken(task):
        raise RuntimeError("the source could not record it")

    services.register_task_completion_hook("test.broken", broken)
    task = TaskFactory(customer__dealer=dealer, source_kind="test.broken")
    try:
        with pytest.raises(RuntimeError):
            services.task_complete(actor=consultant, task=task, outcome="reached")
    finally:
        services.unregister_task_completion_hook("test.broken", broken)

    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN
    assert task.completed_at is None


def test_a_task_is_handed_only_to_staff_of_its_dealer(manager, make_user, dealer, other_dealer):
    colleague = make_user(Role.CARE_SPECIALIST)
    stranger = make_user(Role.CARE_SPECIALIST, dealer_=other_dealer)
    task = TaskFactory(customer__dealer=dealer)

    services.task_assign(actor=manager, task=task, assignee=colleague)
    assert Task.objects.get(pk=task.pk).assignee == colleague

    with pytest.raises(ValidationError) as refused:
        services.task_assign(actor=manager, task=task, assignee=stranger)
    assert "assignee" in refused.value.message_dict
    services.task_assign(actor=manager, task=task, assignee=None)
    assert Task.objects.get(pk=task.pk).assignee is None


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("reached: 周六来店", ("reached", "周六来店")),
        ("reached", ("reached", "")),
        ("客户说: 再联系", ("", "客户说: 再联系")),
        ("", ("", "")),
    ],
)
def test_an_outcome_splits_into_its_result_and_note(text, parts):
    assert split_outcome(text) == parts


def test_an_outcome_is_stored_and_shown_readably():
    assert join_outcome("no_answer", "  ") == "no_answer"
    assert join_outcome("", "只是备注") == "只是备注"
    assert len(join_outcome("reached", "很" * 500)) == 200
    with translation.override("en"):
        assert outcome_display("reached: 周六来店") == "Reached the customer · 周六来店"
        assert outcome_display("done") == "Done"
        assert outcome_display("客户说: 再联系") == "客户说: 再联系"
