"""Campaign queueing speed: campaign_queue for N customers of one dealer (goal: 100,000 < 30 s).

    uv run python benchmarks/messaging_campaign.py --customers 100000 --engine sqlite
    uv run python benchmarks/messaging_campaign.py --customers 100000 --engine postgresql

Builds a fresh database (SQLite in a temporary directory; PostgreSQL in "bench_messaging",
dropped and created again, server from --pg-url) with one dealer and N customers, each with a
mobile number and, for --consent-rate of them, SMS consent; a fifth have a car (so the context
read joins real ownerships). The customers are written with the demo generator's bulk writer
(executemany / COPY), not through services: the figure is about queueing, not set-up.

Then times `services.campaign_queue` for a marketing SMS campaign to all of them, exactly as
the job runs it: audience read, rendering, consent and cap, the bulk insert with read-back, a
progress update per batch, the report. Prints one JSON line with the figures for
docs/benchmarks.md, the outcome counts, the machine and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.demo_generation import _cpu, fresh_postgresql, machine  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉玲建国红梅"


def load_customers(dealer_id: int, count: int, *, consent_rate: float, seed: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from dealercrm.customers.models import Consent, Customer, CustomerPhone
    from dealercrm.demo.bulk import BulkWriter
    from dealercrm.vehicles.models import CarModel, Vehicle, VehicleOwnership

    rng = random.Random(seed)
    now = timezone.now()
    writer = BulkWriter(now=now)
    car_model = CarModel.objects.create(
        make="极光", series="星辰", name="2.0T 豪华版", model_year=2024, body_type="suv",
        powertrain="ice", list_price="219800.00",
    )  # fmt: skip
    customers, phones, consents, vehicles, ownerships = [], [], [], [], []
    for n in range(1, count + 1):
        gender = rng.choice(("male", "female", "unknown"))
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if n % 2 else "")
        customers.append((n, dealer_id, name, gender, "owner", now, now))
        phones.append((n, dealer_id, n, f"+86138{n:08d}", "mobile", True))
        if rng.random() < consent_rate:
            consents.append((n, dealer_id, n, "sms", True, now, "benchmark"))
        if n % 5 == 0:
            vehicles.append(
                (n, dealer_id, f"LSVBENCH{n:09d}", car_model.pk, f"沪A{n % 100000:05d}", n, now)
            )
            ownerships.append((n, dealer_id, n, n, now.date()))
    with transaction.atomic():
        writer.write(
            Customer,
            ("id", "dealer_id", "name", "gender", "lifecycle_stage", "created_at", "updated_at"),
            customers,
        )
        writer.write(
            CustomerPhone,
            ("id", "dealer_id", "customer_id", "number", "label", "is_primary"),
            phones,
        )
        writer.write(
            Consent,
            ("id", "dealer_id", "customer_id", "channel", "granted", "changed_at", "source"),
            consents,
        )
        writer.write(
            Vehicle,
            ("id", "dealer_id", "vin", "car_model_id", "plate", "owner_id", "created_at"),
            vehicles,
        )
        writer.write(
            VehicleOwnership,
            ("id", "dealer_id", "vehicle_id", "customer_id", "started_on"),
            ownerships,
        )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in (Customer, CustomerPhone, Consent, Vehicle, VehicleOwnership):
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
                    [model._meta.db_table, count],
                )
        cursor.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--consent-rate", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_messaging")
    args = parser.parse_args()

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    # Also for PostgreSQL: the job queue (Huey's SQLite file) is in the var directory, and the
    # outbox job the queueing schedules must land in a throw-away queue, not the project's.
    tmp = tempfile.TemporaryDirectory(prefix="bench_messaging_")
    os.environ["DEALERCRM_VAR_DIR"] = tmp.name
    if args.engine == "sqlite":
        os.environ.pop("DATABASE_URL", None)
    else:
        fresh_postgresql(args.pg_url)
        os.environ["DATABASE_URL"] = args.pg_url

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from dealercrm.core.models import Brand, Dealer, Region
    from dealercrm.core.tenancy import dealer_scope
    from dealercrm.messaging import services
    from dealercrm.messaging.models import MessageTemplate, MessagingPolicy, Purpose

    call_command("migrate", verbosity=0, skip_checks=True)
    brand = Brand.objects.create(code="bench", name="极光汽车")
    region = Region.objects.create(brand=brand, code="east", name="华东")
    dealer = Dealer.objects.create(
        brand=brand, region=region, code="BENCH", name="上海浦东极光4S店", province="上海市",
        city="上海市", phone="021-68881234", address="浦东新区张杨路100号",
    )  # fmt: skip

    started = time.perf_counter()
    with dealer_scope(dealer.id):
        load_customers(dealer.id, args.customers, consent_rate=args.consent_rate, seed=args.seed)
        setup_seconds = time.perf_counter() - started
        MessagingPolicy.objects.create(dealer=dealer, sms_signature="极光浦东")
        # Quiet hours off, so the figure does not depend on the time of day it runs at.
        MessagingPolicy.objects.filter(dealer=dealer).update(quiet_channels="")
        template = MessageTemplate.objects.create(
            dealer=dealer, name="春季保养", purpose=Purpose.CAMPAIGN, channel="sms",
            body="{{ salutation }}，{{ dealer_name }}春季保养八折，详询{{ dealer_phone }}。",
        )  # fmt: skip
        campaign = services.campaign_create(
            actor=None,  # type: ignore[arg-type]
            dealer_id=dealer.id,
            name="春季保养 100k",
            template=template,
            audience={"lifecycle_stages": ["owner"]},
        )

        load_before = os.getloadavg()
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        report = services.campaign_queue(campaign_id=campaign.pk, dealer_id=dealer.id)
        wall = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)

        from dealercrm.messaging.models import Message

        written = Message.objects.filter(dealer_id=dealer.id).count()
    print(
        json.dumps(
            {
                "benchmark": "messaging_campaign",
                "engine": args.engine,
                "database": connection.vendor,
                "customers": args.customers,
                "seconds": round(wall, 2),
                "customers_per_second": round(args.customers / wall),
                "cpu_seconds": _cpu(cpu_before, cpu_after),
                "setup_seconds": round(setup_seconds, 1),
                "batch_size": services.QUEUE_BATCH_SIZE,
                "outcomes": report.counts(),
                "rows_written": written,
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "machine": machine(),
                "date": dt.datetime.now().isoformat(timespec="seconds"),
            },
            ensure_ascii=False,
        )
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
