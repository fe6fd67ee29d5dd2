"""Factories for messaging: templates, messages, provider configurations (other tests import them)."""

from __future__ import annotations

import factory

from dealercrm.messaging.models import (
    Message,
    MessageStatus,
    MessageTemplate,
    ProviderConfig,
    Purpose,
)
from tests.core.factories import DealerFactory
from tests.customers.factories import CustomerFactory


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate

    dealer = factory.SubFactory(DealerFactory)
    name = factory.Sequence(lambda n: f"模板{n}")
    purpose = Purpose.MAINTENANCE_REMINDER
    channel = "sms"
    language = "zh-hans"
    body = "{{ salutation }}，您的爱车该保养了。"


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    customer = factory.SubFactory(CustomerFactory)
    dealer = factory.SelfAttribute("customer.dealer")
    channel = "sms"
    purpose = Purpose.PERSONAL
    is_marketing = False
    to_address = factory.Sequence(lambda n: f"+86138{n % 100_000_000:08d}")
    body = "您好"
    source_kind = Message.SourceKind.MANUAL
    source_id = factory.Sequence(lambda n: f"test-{n}")
    idempotency_key = factory.LazyAttribute(
        lambda o: f"{o.source_kind}:{o.source_id}:{o.customer.pk}:{o.channel}"
    )
    status = MessageStatus.QUEUED


class ProviderConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProviderConfig

    dealer = factory.SubFactory(DealerFactory)
    channel = "sms"
    kind = "file"
    options = factory.LazyFunction(dict)
