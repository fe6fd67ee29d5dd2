"""The organisation: brand, regions, dealer groups, dealers, departments, staff, tags, message
templates and policies, catalogue.

A few hundred rows, so they go through the ORM (bulk_create) in one transaction. Every demo user
gets the same password; it is hashed once (Argon2 takes ~50 ms a hash) and the hash reused.
"""

from __future__ import annotations

import random
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction

from dealercrm.core.models import Brand, Dealer, DealerGroup, Department, Region, User
from dealercrm.customers.models import Tag
from dealercrm.demo import reference as ref
from dealercrm.demo.pools import Pools
from dealercrm.vehicles.models import CarModel

from .base import DealerFacts, ModelFacts, Org
from .messaging import messaging_setup
from .sales import sales_setup
from .service import service_setup

ROLE_USERNAME = {
    "sales_consultant": "sales",
    "service_advisor": "service",
    "care_specialist": "care",
    "dealer_manager": "manager",
    "dealer_admin": "admin",
}


def username_for(dealer_code: str, role: str, number: int, count: int) -> str:
    """sh01_sales1 … sh01_sales6, sh01_manager: predictable, so the logins can be printed."""
    suffix = str(number) if count > 1 else ""
    return f"{dealer_code.lower()}_{ROLE_USERNAME[role]}{suffix}"


def _person_name(rng: random.Random, pools: Pools) -> tuple[str, bool]:
    is_male = rng.random() < 0.55
    surname = rng.choices(pools.surnames, cum_weights=pools.surname_weights)[0]
    given = rng.choice(pools.male_given if is_male else pools.female_given)
    return surname + given, is_male


@transaction.atomic
def build_org(*, seed: int, pools: Pools) -> Org:
    rng = random.Random(f"dealercrm-demo/{seed}/org")
    brand = Brand.objects.create(
        code=ref.BRAND_CODE, name=ref.BRAND_NAME, name_en=ref.BRAND_NAME_EN
    )
    regions = {
        code: Region.objects.create(brand=brand, code=code, name=name) for code, name in ref.REGIONS
    }
    groups = {key: DealerGroup.objects.create(brand=brand, name=name) for key, name in ref.GROUPS}
    dealers = Dealer.objects.bulk_create(
        [
            Dealer(
                brand=brand,
                region=regions[spec.region],
                group=groups.get(spec.group),
                code=spec.code,
                name=spec.name,
                province=spec.province,
                city=spec.city,
                address=spec.address,
                phone=spec.phone,
                plate_prefix=spec.plate_prefix,
            )
            for spec in ref.DEALERS
        ]
    )
    # bulk_create returns ids on PostgreSQL and SQLite ≥ 3.35; read back to be sure of them.
    dealer_by_code = {d.code: d for d in Dealer.objects.filter(brand=brand)}
    departments = Department.objects.unscoped().bulk_create(
        [
            Department(dealer=dealer_by_code[spec.code], kind=kind, name=name)
            for spec in ref.DEALERS
            for kind, name in ref.DEPARTMENTS
        ]
    )
    del dealers, departments
    department_ids = {
        (d.dealer_id, d.kind): d.id
        for d in Department.objects.unscoped().filter(dealer__brand=brand)
    }
    password = make_password(ref.DEMO_PASSWORD)
    users: list[User] = []
    for spec in ref.DEALERS:
        dealer = dealer_by_code[spec.code]
        for role, count, department in ref.DEALER_STAFF:
            for number in range(1, count + 1):
                name, _ = _person_name(rng, pools)
                users.append(
                    User(
                        username=username_for(spec.code, role, number, count),
                        password=password,
                        role=role,
                        brand=brand,
                        dealer=dealer,
                        department_id=department_ids.get((dealer.id, department)),
                        display_name=name,
                        last_name=name[0],
                        first_name=name[1:],
                        language="zh-hans",
                    )
                )
    for role, username in ref.NETWORK_STAFF:
        name, _ = _person_name(rng, pools)
        users.append(
            User(
                username=username,
                password=password,
                role=role,
                brand=brand,
                display_name=name,
                last_name=name[0],
                first_name=name[1:],
                language="zh-hans",
                is_staff=role == "system_admin",
                is_superuser=role == "system_admin",
            )
        )
    User.objects.bulk_create(users)
    staff = sorted(
        (u["dealer_id"] or 0, u["role"], u["username"], u["id"])
        for u in User.objects.filter(brand=brand).values("id", "dealer_id", "role", "username")
    )

    def ids_of(dealer_id: int, role: str) -> tuple[int, ...]:
        return tuple(uid for d, r, _username, uid in staff if d == dealer_id and r == role)

    Tag.objects.unscoped().bulk_create(
        [
            Tag(dealer=dealer_by_code[spec.code], name=name, color=color)
            for spec in ref.DEALERS
            for name, color in ref.TAGS
        ]
    )
    tag_ids: dict[int, dict[str, int]] = {}
    for tag in Tag.objects.unscoped().filter(dealer__brand=brand).values("id", "dealer_id", "name"):
        tag_ids.setdefault(tag["dealer_id"], {})[tag["name"]] = tag["id"]

    dealer_facts = []
    for spec in ref.DEALERS:
        dealer = dealer_by_code[spec.code]
        dealer_facts.append(
            DealerFacts(
                id=dealer.id,
                code=spec.code,
                province=spec.province,
                city=spec.city,
                plate_prefix=spec.plate_prefix,
                weight=spec.weight,
                districts=spec.districts,
                consultants=ids_of(dealer.id, "sales_consultant"),
                advisors=ids_of(dealer.id, "service_advisor"),
                care=ids_of(dealer.id, "care_specialist"),
                manager=(ids_of(dealer.id, "dealer_manager") or (None,))[0],
                tags=tag_ids.get(dealer.id, {}),
            )
        )
    # Each dealer's message templates and policy, and what its messages say of it.
    messaging_setup(dealer_facts, dealer_by_code.values())
    brand_models, other_models = _build_catalogue(brand)
    # Each dealer's sales policy and demo cars (the sales generator books test drives on them).
    sales_setup(dealer_facts, brand_models)
    network_users = {role: uid for d, role, _username, uid in staff if d == 0}
    # Each dealer's workshop (policy, bays, loan cars), the maintenance schedules, seasonal
    # checks and some dealers' care settings (the service generator books and visits on them).
    service_setup(dealer_facts, brand.id, brand_models, regions, network_users)
    return Org(
        brand_id=brand.id,
        dealers=dealer_facts,
        brand_models=brand_models,
        other_models=other_models,
        network_users=network_users,
    )


def _build_catalogue(brand: Brand) -> tuple[list[ModelFacts], list[ModelFacts]]:
    wanted: list[tuple[CarModel, str, str, bool]] = []
    for series in ref.BRAND_SERIES:
        for name, powertrain, price in series.variants:
            for year in ref.BRAND_MODEL_YEARS:
                # Prices rise a little with each model year.
                list_price = Decimal(price + (year - ref.BRAND_MODEL_YEARS[0]) * 2000)
                wanted.append(
                    (
                        CarModel(
                            brand=brand,
                            make=ref.BRAND_NAME,
                            series=series.series,
                            name=name,
                            model_year=year,
                            body_type=series.body_type,
                            powertrain=powertrain,
                            seats=series.seats,
                            list_price=list_price,
                            is_active=year >= ref.BRAND_MODEL_YEARS[-2],
                        ),
                        series.code,
                        ref.BRAND_WMI,
                        True,
                    )
                )
    for other in ref.OTHER_MAKES:
        for year in ref.OTHER_MODEL_YEARS:
            wanted.append(
                (
                    CarModel(
                        brand=None,
                        make=other.make,
                        series=other.series,
                        name=other.name,
                        model_year=year,
                        body_type=other.body_type,
                        powertrain=other.powertrain,
                        seats=other.seats,
                        list_price=Decimal(other.price),
                        is_active=False,
                    ),
                    "A",
                    other.wmi,
                    False,
                )
            )

    def key(m: CarModel) -> tuple[str, str, str, int]:
        return (m.make, m.series, m.name, m.model_year)

    existing = {key(m): m.id for m in CarModel.objects.all()}
    CarModel.objects.bulk_create([m for m, *_ in wanted if key(m) not in existing])
    ids = {key(m): m.id for m in CarModel.objects.all()}
    brand_models: list[ModelFacts] = []
    other_models: list[ModelFacts] = []
    for model, code, wmi, is_brand in wanted:
        facts = ModelFacts(
            id=ids[key(model)],
            make=model.make,
            series=model.series,
            code=code,
            wmi=wmi,
            body_type=model.body_type,
            powertrain=model.powertrain,
            seats=model.seats,
            model_year=model.model_year,
            is_brand=is_brand,
        )
        (brand_models if is_brand else other_models).append(facts)
    return brand_models, other_models
