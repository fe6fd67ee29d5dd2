"""Seed the national vehicle purchase-tax rules (车辆购置税).

The figures are copied here, not imported from the app, so this migration keeps meaning what it
meant when the app's code changes. The rules stay editable (Django admin); pricing applies the
one in force on a quote's date for the model's powertrain, and the plain 10 % where none is.

- 车辆购置税暂行条例 (2001) / 车辆购置税法 (2019): 10 % of the price before VAT, every car;
- MOF/SAT/MIIT announcements 2014 No. 53, 2017 No. 172, 2020 No. 21, 2022 No. 27: new-energy
  vehicles (BEV, PHEV; not plain hybrids) exempt 2014-09-01 … 2023-12-31;
- announcement 2023 No. 10: exempt 2024-01-01 … 2025-12-31, at most ¥30,000 waived per
  vehicle; halved 2026-01-01 … 2027-12-31, at most ¥15,000 waived per vehicle.
"""

import datetime
from decimal import Decimal

from django.db import migrations

NEW_ENERGY = ["bev", "phev"]
RULES = [
    {
        "name": "车辆购置税 10%（燃油车、混合动力车）",
        "powertrains": ["ice", "hev"],
        "valid_from": datetime.date(2001, 1, 1),
        "valid_until": None,
        "exemption_share": Decimal("0"),
        "exemption_cap": None,
    },
    {
        "name": "新能源汽车免征车辆购置税",
        "powertrains": NEW_ENERGY,
        "valid_from": datetime.date(2014, 9, 1),
        "valid_until": datetime.date(2023, 12, 31),
        "exemption_share": Decimal("1"),
        "exemption_cap": None,
    },
    {
        "name": "新能源汽车免征车辆购置税（每辆免税额不超过3万元）",
        "powertrains": NEW_ENERGY,
        "valid_from": datetime.date(2024, 1, 1),
        "valid_until": datetime.date(2025, 12, 31),
        "exemption_share": Decimal("1"),
        "exemption_cap": Decimal("30000.00"),
    },
    {
        "name": "新能源汽车减半征收车辆购置税（每辆减税额不超过1.5万元）",
        "powertrains": NEW_ENERGY,
        "valid_from": datetime.date(2026, 1, 1),
        "valid_until": datetime.date(2027, 12, 31),
        "exemption_share": Decimal("0.5"),
        "exemption_cap": Decimal("15000.00"),
    },
]


def seed(apps, schema_editor):
    rule_model = apps.get_model("sales", "PurchaseTaxRule")
    for rule in RULES:
        if not rule_model.objects.filter(name=rule["name"]).exists():
            rule_model.objects.create(rate=Decimal("0.10"), vat_rate=Decimal("0.13"), **rule)


def unseed(apps, schema_editor):
    rule_model = apps.get_model("sales", "PurchaseTaxRule")
    rule_model.objects.filter(name__in=[r["name"] for r in RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
