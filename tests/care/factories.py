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
