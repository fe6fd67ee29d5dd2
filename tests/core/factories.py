"""Factories for the organisation and staff."""

from __future__ import annotations

import factory

from dealercrm.core.models import Brand, Dealer, DealerGroup, Department, Region, User
from dealercrm.core.permissions import NETWORK_ROLES, Role


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand
        django_get_or_create = ("code",)

    code = "aurora"
    name = "极光汽车"
    name_en = "Aurora Motors"


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    brand = factory.SubFactory(BrandFactory)
    code = factory.Sequence(lambda n: f"region-{n}")
    name = factory.Sequence(lambda n: f"大区{n}")


class DealerGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DealerGroup

    brand = factory.SubFactory(BrandFactory)
    name = factory.Sequence(lambda n: f"集团{n}")


class DealerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dealer

    brand = factory.SubFactory(BrandFactory)
    region = factory.SubFactory(RegionFactory, brand=factory.SelfAttribute("..brand"))
    code = factory.Sequence(lambda n: f"D{n:04d}")
    name = factory.Sequence(lambda n: f"测试4S店{n}")
    province = "上海市"
    city = "上海市"
    plate_prefix = "沪A"


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    dealer = factory.SubFactory(DealerFactory)
    kind = Department.Kind.SALES
    name = "销售部"


class UserFactory(factory.django.DjangoModelFactory):
    """A dealer staff member by default; network roles get no dealer."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"员工{n}")
    role = Role.SALES_CONSULTANT
    dealer = factory.Maybe(
        factory.LazyAttribute(lambda o: o.role not in NETWORK_ROLES),
        yes_declaration=factory.SubFactory(DealerFactory),
        no_declaration=None,
    )
    brand = factory.LazyAttribute(lambda o: o.dealer.brand if o.dealer else BrandFactory())
    language = "zh-hans"
    password = factory.PostGenerationMethodCall("set_password", "pass-Word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()
