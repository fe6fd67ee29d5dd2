"""Factories for care records (the ORM directly, no services)."""

from __future__ import annotations

import factory
from django.utils import timezone

from dealercrm.care.models import CareOccurrence, CareRuleCode, CareRuleSetting
from tests.vehicles.factories import VehicleFactory


class CareOccurrenceFactory(factory.django.DjangoModelFactory):
    """An occurrence of a vehicle rule (no task: the engine or the test makes one)."""

    class Meta:
        model = CareOccurrence

    vehicle = factory.SubFactory(VehicleFactory)
    dealer = factory.SelfAttribute("vehicle.dealer")
    customer = factory.SelfAttribute("vehicle.owner")
    rule = CareRuleCode.INSURANCE_RENEWAL
    subject_id = factory.SelfAttribute("vehicle.id")
    occasion = factory.Sequence(lambda n: f"test/{n}")
    due_on = factory.LazyFunction(timezone.localdate)


class CareRuleSettingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareRuleSetting

    dealer = factory.SubFactory("tests.core.factories.DealerFactory")
    rule = CareRuleCode.BIRTHDAY
    enabled = True


def make_care_task(
    *,
    dealer=None,  # noqa: ANN001
    assignee=None,  # noqa: ANN001
    rule: str = CareRuleCode.MAINTENANCE_DUE,
    due_at=None,  # noqa: ANN001
    vehicle=None,  # noqa: ANN001
    body: str = "您好，您的爱车保养快到期了，方便来店保养吗？",
    **occurrence_fields,  # noqa: ANN003
) -> CareOccurrence:
    """An open occurrence with its worklist task (what the engine makes), for the given
    assignee. The task's source points back at the occurrence."""
    from dealercrm.worklist.models import Task, TaskKind

    if vehicle is None:
        vehicle = VehicleFactory(**({"dealer": dealer} if dealer is not None else {}))
    due_at = due_at or timezone.now()
    occurrence = CareOccurrenceFactory(
        vehicle=vehicle,
        rule=rule,
        due_on=timezone.localdate(due_at),
        channel="phone",
        **occurrence_fields,
    )
    task = Task.objects.create(
        dealer_id=occurrence.dealer_id,
        customer_id=occurrence.customer_id,
        assignee=assignee,
        kind=TaskKind.CALL,
        title=f"{CareRuleCode(rule).label}: {vehicle.owner.name}",
        body=body,
        due_at=due_at,
        source_kind="care.occurrence",
        source_id=str(occurrence.pk),
    )
    CareOccurrence.objects.filter(pk=occurrence.pk).update(task=task)
    occurrence.task = task
    return occurrence
