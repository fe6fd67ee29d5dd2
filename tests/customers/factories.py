"""Factories for customers, their phones and interactions (other apps' tests import them)."""

from __future__ import annotations

import factory

from dealercrm.customers.id_numbers import protect_id_number
from dealercrm.customers.models import (
    Consent,
    ConsentChannel,
    Customer,
    CustomerPhone,
    CustomerTag,
    Interaction,
    Tag,
)
from dealercrm.customers.validators import id_number_check_character
from tests.core.factories import DealerFactory


def valid_id_number(n: int = 0, *, birth: str = "19900307", region: str = "310115") -> str:
    """A GB 11643-valid ID number; `n` varies the sequence digits (0–999)."""
    body = f"{region}{birth}{n % 1000:03d}"
    return body + id_number_check_character(body)


class CustomerFactory(factory.django.DjangoModelFactory):
    """A person at a dealer. `id_number="…"` stores it encrypted, hashed and masked."""

    class Meta:
        model = Customer
        skip_postgeneration_save = True

    class Params:
        id_number = ""

    dealer = factory.SubFactory(DealerFactory)
    name = factory.Sequence(lambda n: f"客户{n}")
    kind = "person"
    gender = "unknown"
    assigned_consultant = None
    id_number_encrypted = factory.LazyAttribute(lambda o: protect_id_number(o.id_number).encrypted)
    id_number_hash = factory.LazyAttribute(lambda o: protect_id_number(o.id_number).hash)
    id_number_masked = factory.LazyAttribute(lambda o: protect_id_number(o.id_number).masked)


class CustomerPhoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerPhone

    customer = factory.SubFactory(CustomerFactory)
    dealer = factory.SelfAttribute("customer.dealer")
    number = factory.Sequence(lambda n: f"+86139{n % 100_000_000:08d}")
    is_primary = True


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    dealer = factory.SelfAttribute("customer.dealer")
    kind = Interaction.Kind.NOTE
    body = factory.Sequence(lambda n: f"备注{n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    dealer = factory.SubFactory(DealerFactory)
    name = factory.Sequence(lambda n: f"标签{n}")


class CustomerTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerTag

    customer = factory.SubFactory(CustomerFactory)
    dealer = factory.SelfAttribute("customer.dealer")
    tag = factory.SubFactory(TagFactory, dealer=factory.SelfAttribute("..dealer"))


class ConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consent

    customer = factory.SubFactory(CustomerFactory)
    dealer = factory.SelfAttribute("customer.dealer")
    channel = ConsentChannel.SMS
    granted = True
    source = "门店签字"
