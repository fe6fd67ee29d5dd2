"""A phone-channel message is a call task; closing the task tells the message how it went.

The worklist cannot import messaging, so messaging registers `message_task_closed` as the
completion hook of source kind "messaging.message"; here it is registered as the app does."""

from __future__ import annotations

import pytest
from django.utils import translation

from dealercrm.messaging.models import MessageStatus
from dealercrm.messaging.task_hooks import TASK_SOURCE_KIND, message_task_closed
from dealercrm.worklist import services
from dealercrm.worklist.models import TaskKind
from tests.messaging.factories import MessageFactory
from tests.worklist.factories import TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _hook_registered():
    services.register_task_completion_hook(TASK_SOURCE_KIND, message_task_closed)


@pytest.fixture
def call(dealer, consultant):
    """A phone message the outbox handed to a person: sent, with its call task."""
    message = MessageFactory(
        customer__dealer=dealer, channel="phone", status=MessageStatus.SENT, body="提醒首保"
    )
    task = TaskFactory(
        customer=message.customer,
        assignee=consultant,
        kind=TaskKind.CALL,
        body=message.body,
        source_kind=TASK_SOURCE_KIND,
        source_id=str(message.pk),
    )
    return message, task


@pytest.mark.parametrize("outcome", ["reached", "reached: 客户确认到店", "call_back", "done", ""])
def test_a_call_that_reached_the_customer_delivers_the_message(consultant, call, outcome):
    message, task = call

    services.task_complete(actor=consultant, task=task, outcome=outcome)

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.delivered_at is not None


def test_an_unanswered_call_fails_the_message_saying_why(consultant, call):
    message, task = call

    with translation.override("en"):
        services.task_complete(actor=consultant, task=task, outcome="no_answer: 打了两次")

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.status_reason == "Call: No answer 打了两次"
    assert message.delivered_at is None


def test_a_wrong_number_makes_the_message_undeliverable(consultant, call):
    message, task = call

    services.task_complete(actor=consultant, task=task, outcome="wrong_number")

    message.refresh_from_db()
    assert message.status == MessageStatus.UNDELIVERABLE


def test_a_cancelled_call_task_fails_the_message(consultant, call):
    message, task = call

    with translation.override("en"):
        services.task_cancel(actor=consultant, task=task)

    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.status_reason == "The call task was cancelled."


def test_a_message_already_settled_is_not_moved(consultant, call):
    message, task = call
    message.status = MessageStatus.CANCELLED
    message.save(update_fields=["status"])

    services.task_complete(actor=consultant, task=task, outcome="reached")

    message.refresh_from_db()
    assert message.status == MessageStatus.CANCELLED


def test_tasks_of_other_sources_leave_messages_alone(consultant, dealer, call):
    message, _ = call
    other = TaskFactory(
        customer=message.customer, source_kind="care.task", source_id=str(message.pk)
    )

    services.task_complete(actor=consultant, task=other, outcome="no_answer")

    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def test_completing_a_call_task_costs_a_fixed_few_queries(
    consultant, call, django_assert_max_num_queries
):
    _, task = call

    with django_assert_max_num_queries(5):  # lock, save, the message's update (+ savepoint)
        services.task_complete(actor=consultant, task=task, outcome="reached")
