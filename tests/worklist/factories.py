"""Factories for the worklist (other apps' tests import them)."""

from __future__ import annotations

import factory
from django.utils import timezone

from dealercrm.worklist.models import Task, TaskKind, TaskStatus
from tests.customers.factories import CustomerFactory


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    customer = factory.SubFactory(CustomerFactory)
    dealer = factory.SelfAttribute("customer.dealer")
    assignee = None
    kind = TaskKind.CALL
    title = factory.Sequence(lambda n: f"回访电话{n}")
    body = "您好，我是极光4S店的顾问，想了解一下您的用车情况。"
    due_at = factory.LazyFunction(timezone.now)
    status = TaskStatus.OPEN
