"""Factories for the sales pipeline and bookable resources (the ORM directly, no services)."""

from __future__ import annotations

import datetime
import secrets
from decimal import Decimal

import factory
from django.utils import timezone

from dealercrm.bookings.models import Resource, ResourceKind
from dealercrm.sales.models import Lead, LeadChannel, LeadStage, Order, Quote
from tests.core.factories import DealerFactory
from tests.customers.factories import CustomerFactory
from tests.vehicles.factories import CarModelFactory


class LeadFactory(factory.django.DjangoModelFactory):
    """A new lead of a prospect customer of the same dealer."""

    class Meta:
        model = Lead

    dealer = factory.SubFactory(DealerFactory)
    customer = factory.SubFactory(
        CustomerFactory,
        dealer=factory.SelfAttribute("..dealer"),
        assigned_consultant=factory.SelfAttribute("..consultant"),
    )
    channel = LeadChannel.WALK_IN
    consultant = None
    stage = LeadStage.NEW
    car_model = factory.SubFactory(CarModelFactory)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


class DemoCarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Resource

    dealer = factory.SubFactory(DealerFactory)
    kind = ResourceKind.DEMO_CAR
    name = factory.Sequence(lambda n: f"试驾车 {n}")
    car_model = factory.SubFactory(CarModelFactory)
    opens_at = datetime.time(9, 0)
    closes_at = datetime.time(18, 0)


class QuoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Quote

    lead = factory.SubFactory(LeadFactory)
    dealer = factory.SelfAttribute("lead.dealer")
    customer = factory.SelfAttribute("lead.customer")
    car_model = factory.SelfAttribute("lead.car_model")
    quote_date = factory.LazyFunction(timezone.localdate)
    vehicle_price = Decimal("200000.00")
    total = Decimal("220000.00")
    share_token = factory.LazyFunction(lambda: secrets.token_urlsafe(32))


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    lead = factory.SubFactory(LeadFactory, stage=LeadStage.ORDER)
    dealer = factory.SelfAttribute("lead.dealer")
    customer = factory.SelfAttribute("lead.customer")
    car_model = factory.SelfAttribute("lead.car_model")
    number = factory.Sequence(lambda n: f"SO{n:08d}")
    ordered_on = factory.LazyFunction(timezone.localdate)
    price = Decimal("200000.00")
    promised_delivery_on = factory.LazyFunction(
        lambda: timezone.localdate() + datetime.timedelta(days=30)
    )
    expected_delivery_on = factory.SelfAttribute("promised_delivery_on")
    tracking_token = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
