"""The funnel dashboard over 2,000,000 leads: the roll-up's time, then p50/p95/max of the page.

Run on demand, never in the test suite. Use a database of its own:

    # PostgreSQL
    createdb -h 127.0.0.1 -U postgres funnel2m
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/funnel2m uv run python benchmarks/sales_funnel.py load
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/funnel2m uv run python benchmarks/sales_funnel.py refresh
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/funnel2m uv run python benchmarks/sales_funnel.py run
    # SQLite
    DEALERCRM_VAR_DIR=/tmp/funnel-sqlite uv run python benchmarks/sales_funnel.py load   (refresh, run)

`load` writes a brand with `--dealers` dealers (a manager and 8 consultants each), 8 models, and
`--leads` leads over the last 36 months with one prospect customer each, set-based (COPY on
PostgreSQL, executemany on SQLite, through dealercrm.demo.bulk). The mix follows the documents:
referral leads convert at about 30 %, advertising leads at about 5 %, decisions take about 45
days, most first responses come within the 30 minutes allowed; older open leads are lost with
a reason. `refresh` times the first full roll-up, then an incremental one after 2,000 leads
changed (what the five-minute job meets). `run` requests the dashboard with the Django test
client for a dealer manager and for the OEM with several filters and prints the server's own
time (Server-Timing header) as p50/p95/max, with the page's query count.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.management.color import no_style  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from dealercrm.core.models import Brand, Dealer, Region, User  # noqa: E402
from dealercrm.core.permissions import Role  # noqa: E402
from dealercrm.core.tenancy import DealerScope, dealer_scope  # noqa: E402
from dealercrm.customers.models import Customer, CustomerKind  # noqa: E402
from dealercrm.demo.bulk import BulkWriter, to_db  # noqa: E402
from dealercrm.sales.models import (  # noqa: E402
    FunnelCell,
    FunnelLossCell,
    Lead,
    LeadChannel,
    LossReason,
)
from dealercrm.sales.services.funnel import funnel_refresh  # noqa: E402
from dealercrm.vehicles.models import CarModel  # noqa: E402

CITIES = (
    "上海浦东", "上海闵行", "北京朝阳", "北京海淀", "广州天河", "深圳南山", "南京江宁", "苏州园区",
    "杭州西湖", "成都武侯", "武汉汉阳", "青岛市南", "重庆渝北", "西安雁塔", "天津河西", "长沙岳麓",
    "郑州金水", "济南历下", "合肥蜀山", "福州鼓楼", "厦门思明", "昆明五华", "南宁青秀", "沈阳和平",
    "大连中山", "长春朝阳", "哈尔滨南岗", "石家庄长安", "太原小店", "南昌红谷滩",
)  # fmt: skip
SERIES = ("星辰", "极光", "银河", "远航")
# channel: (share of leads, conversion to order)
CHANNELS = {
    LeadChannel.WALK_IN: (0.24, 0.20),
    LeadChannel.PHONE: (0.12, 0.10),
    LeadChannel.WEBSITE: (0.14, 0.05),
    LeadChannel.AUTO_SHOW: (0.08, 0.05),
    LeadChannel.REFERRAL: (0.10, 0.30),
    LeadChannel.DOUYIN: (0.12, 0.05),
    LeadChannel.WECHAT: (0.08, 0.05),
    LeadChannel.OEM_DISPATCH: (0.09, 0.15),
    LeadChannel.IMPORT: (0.03, 0.03),
}
REASONS = [r.value for r in LossReason]
REASON_WEIGHTS = [30, 20, 8, 15, 15, 5, 3, 4]
CONSULTANTS_PER_DEALER = 8
BATCH = 20_000


# ---------------------------------------------------------------------------------------- load


def make_org(dealer_count: int) -> tuple[list[Dealer], dict[int, list[int]], list[int]]:
    brand, _ = Brand.objects.get_or_create(code="aurora", defaults={"name": "极光汽车"})
    regions = [
        Region.objects.get_or_create(brand=brand, code=code, defaults={"name": name})[0]
        for code, name in (("east", "华东"), ("north", "华北"), ("south", "华南"), ("west", "西部"))
    ]
    dealers, consultants = [], {}
    for i in range(dealer_count):
        city = CITIES[i % len(CITIES)] + ("" if i < len(CITIES) else str(i // len(CITIES)))
        dealer, _ = Dealer.objects.get_or_create(
            code=f"F{i:03d}",
            defaults={
                "brand": brand,
                "region": regions[i % len(regions)],
                "name": f"{city}极光4S店",
                "province": city[:2],
                "city": city[:2],
            },
        )
        dealers.append(dealer)
        User.objects.get_or_create(
            username=f"funnel-manager-{i}",
            defaults={"role": Role.DEALER_MANAGER, "dealer": dealer, "brand": brand},
        )
        consultants[dealer.pk] = [
            User.objects.get_or_create(
                username=f"funnel-consultant-{i}-{n}",
                defaults={
                    "role": Role.SALES_CONSULTANT,
                    "dealer": dealer,
                    "brand": brand,
                    "display_name": f"顾问{i}-{n}",
                },
            )[0].pk
            for n in range(CONSULTANTS_PER_DEALER)
        ]
    User.objects.get_or_create(
        username="funnel-oem", defaults={"role": Role.OEM_ANALYST, "brand": brand}
    )
    models = []
    for s, series in enumerate(SERIES):
        for name in ("标准版", "豪华版"):
            models.append(
                CarModel.objects.get_or_create(
                    make="极光",
                    series=series,
                    name=name,
                    model_year=2025,
                    defaults={
                        "brand": brand,
                        "body_type": "suv" if s % 2 else "sedan",
                        "powertrain": "bev" if s == 2 else "ice",
                        "seats": 5,
                        "list_price": 150000 + 30000 * s,
                    },
                )[0].pk
            )
    return dealers, consultants, models


LEAD_FIELDS = (
    "id",
    "dealer_id",
    "customer_id",
    "channel",
    "car_model_id",
    "consultant_id",
    "assigned_at",
    "stage",
    "first_response_due_at",
    "first_contacted_at",
    "test_drive_at",
    "negotiation_at",
    "ordered_at",
    "delivered_at",
    "lost_at",
    "loss_reason",
    "created_at",
    "updated_at",
)


def lead_row(
    rng: random.Random,
    lead_id: int,
    customer_id: int,
    dealer_id: int,
    consultants,
    models,
    now: dt.datetime,
) -> tuple:  # noqa: ANN001
    channel = rng.choices(CHANNEL_KEYS, CHANNEL_SHARES)[0]
    conversion = CHANNELS[channel][1]
    created = now - dt.timedelta(seconds=rng.randrange(0, 36 * 30 * 86400))
    age_days = (now - created).days
    due = created + dt.timedelta(minutes=30)
    contacted = test_drive = negotiation = ordered = delivered = lost = None
    reason = ""
    stage = "new"
    if rng.random() < 0.92 or age_days > 2:
        contacted = created + dt.timedelta(minutes=rng.expovariate(1 / 22))
        stage = "contacted"
    cycle = dt.timedelta(days=max(1.0, rng.gammavariate(9, 5)))  # mean 45 days
    buys = rng.random() < conversion
    if contacted and (buys or rng.random() < 0.35):
        test_drive = created + cycle * rng.uniform(0.1, 0.4)
        stage = "test_drive"
    if contacted and (buys or rng.random() < 0.12):
        negotiation = created + cycle * rng.uniform(0.5, 0.9)
        stage = "negotiation"
    if buys and created + cycle < now:
        ordered = created + cycle
        stage = "order"
        if ordered + dt.timedelta(days=30) < now and rng.random() < 0.95:
            delivered = ordered + dt.timedelta(days=rng.randrange(10, 40))
            stage = "delivered"
    elif not buys and age_days > 60 and rng.random() < 0.6:
        lost = created + dt.timedelta(days=rng.randrange(20, 60))
        reason = rng.choices(REASONS, REASON_WEIGHTS)[0]
        stage = "lost"
    stamps = [t for t in (contacted, test_drive, negotiation, ordered, delivered, lost) if t]
    stamps = [t for t in stamps if t <= now]
    updated = max(stamps) if stamps else created
    return (
        lead_id,
        dealer_id,
        customer_id,
        channel,
        rng.choice(models) if rng.random() < 0.95 else None,
        rng.choice(consultants) if rng.random() < 0.97 else None,
        to_db(created),
        stage,
        to_db(due),
        *(to_db(t) for t in (contacted, test_drive, negotiation, ordered, delivered, lost)),
        reason,
        to_db(created),
        to_db(updated),
    )


CHANNEL_KEYS = [c.value for c in CHANNELS]
CHANNEL_SHARES = [share for share, _ in CHANNELS.values()]


def load(leads: int, dealer_count: int, seed: int) -> None:
    call_command("migrate", verbosity=0)
    rng = random.Random(seed)
    now = timezone.now()
    with dealer_scope(DealerScope.everything()):
        dealers, consultants, models = make_org(dealer_count)
        writer = BulkWriter(now=now)
        next_customer = (Customer.objects.unscoped().aggregate(m=Max("id"))["m"] or 0) + 1
        next_lead = (Lead.objects.unscoped().aggregate(m=Max("id"))["m"] or 0) + 1
        started = time.perf_counter()
        done = 0
        while done < leads:
            n = min(BATCH, leads - done)
            customers, rows = [], []
            for i in range(n):
                dealer = dealers[rng.randrange(len(dealers))]
                customer_id = next_customer + i
                customers.append(
                    (customer_id, dealer.pk, CustomerKind.PERSON.value, f"潜客{customer_id}")
                )
                rows.append(
                    lead_row(
                        rng,
                        next_lead + i,
                        customer_id,
                        dealer.pk,
                        consultants[dealer.pk],
                        models,
                        now,
                    )
                )
            with transaction.atomic():
                writer.write(Customer, ("id", "dealer_id", "kind", "name"), customers)
                writer.write(Lead, LEAD_FIELDS, rows)
            next_customer += n
            next_lead += n
            done += n
            rate = done / (time.perf_counter() - started)
            print(f"\r{done:>10,} leads, {rate:,.0f}/s", end="", flush=True)
        print()
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Customer, Lead]):
                cursor.execute(sql)
        vacuum()
        print(f"loaded in {time.perf_counter() - started:.0f}s")


# ------------------------------------------------------------------------------------- refresh


def vacuum() -> None:
    """What autovacuum does on a live PostgreSQL (index-only scans need the visibility map)."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def refresh(changed: int, seed: int, skip_full: bool) -> None:
    with dealer_scope(DealerScope.everything()):
        total = Lead.objects.unscoped().count()
        if not skip_full:
            t = time.perf_counter()
            months = funnel_refresh(full=True)
            full = time.perf_counter() - t
            cells = FunnelCell.objects.unscoped().count()
            losses = FunnelLossCell.objects.unscoped().count()
            print(
                f"full refresh: {total:,} leads → {cells:,} cells, {losses:,} loss cells, "
                f"{months:,} dealer-months in {full:.1f}s"
            )
        vacuum()
        for verify in (False, True):
            t = time.perf_counter()
            funnel_refresh(verify=verify)
            print(
                f"refresh with nothing changed{', counting every lead' if verify else ''}: "
                f"{(time.perf_counter() - t) * 1000:.0f} ms"
            )
        # What the five-minute job meets: a few thousand leads worked since the last run.
        rng = random.Random(seed)
        max_id = Lead.objects.unscoped().aggregate(m=Max("id"))["m"]
        ids = [rng.randrange(1, max_id + 1) for _ in range(changed)]
        now = timezone.now()
        Lead.objects.unscoped().filter(id__in=ids).update(updated_at=now)
        t = time.perf_counter()
        months = funnel_refresh(now=now + dt.timedelta(minutes=5), verify=False)
        print(
            f"incremental refresh after {changed:,} random leads changed: {months:,} "
            f"dealer-months in {time.perf_counter() - t:.1f}s"
        )
        # The usual case: the leads worked are the recent ones (the open ones), of this month.
        recent = Lead.objects.unscoped().order_by("-created_at").values_list("id", flat=True)
        Lead.objects.unscoped().filter(id__in=list(recent[:changed])).update(
            updated_at=now + dt.timedelta(minutes=6)
        )
        t = time.perf_counter()
        months = funnel_refresh(now=now + dt.timedelta(minutes=11), verify=False)
        print(
            f"incremental refresh after the {changed:,} newest leads changed: {months:,} "
            f"dealer-months in {time.perf_counter() - t:.2f}s"
        )


# ----------------------------------------------------------------------------------------- run


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95, ordered[-1]


def run(repeat: int) -> None:
    with dealer_scope(DealerScope.everything()):
        total = Lead.objects.unscoped().count()
        cells = FunnelCell.objects.unscoped().count()
        manager = User.objects.filter(username="funnel-manager-0").select_related("dealer").get()
        oem = User.objects.get(username="funnel-oem")
        consultant = User.objects.filter(dealer_id=manager.dealer_id, role=Role.SALES_CONSULTANT)[0]
        model_id = CarModel.objects.filter(brand_id=oem.brand_id).order_by("id")[0].pk
        dealer_id = Dealer.objects.order_by("id").values_list("id", flat=True)[3]
    print(
        f"\n### {connection.vendor}, {total:,} leads, {cells:,} cells, "
        f"load average {os.getloadavg()}"
    )
    scenarios = [
        ("dealer manager", manager, "default (12 months)", {}),
        ("dealer manager", manager, "36 months", {"months": 36}),
        ("dealer manager", manager, "channel referral, 24 months", {"channel": "referral", "months": 24}),
        ("dealer manager", manager, "one consultant, 12 months", {"consultant": consultant.pk}),
        ("dealer manager", manager, "one model, 36 months", {"car_model": model_id, "months": 36}),
        ("OEM analyst", oem, "default (12 months, all dealers)", {}),
        ("OEM analyst", oem, "36 months, all dealers", {"months": 36}),
        ("OEM analyst", oem, "channel douyin, 12 months", {"channel": "douyin"}),
        ("OEM analyst", oem, "one model, 24 months", {"car_model": model_id, "months": 24}),
        ("OEM analyst", oem, "one dealer, 36 months", {"dealer": dealer_id, "months": 36}),
    ]  # fmt: skip
    rows, everything = [], []
    for label, user, name, params in scenarios:
        client = Client()
        client.force_login(user)
        client.get("/sales/funnel/", params)  # warm up (template compiled, caches filled)
        queries: list[str] = []

        def count(execute, sql, params, many, context):  # noqa: ANN001, ANN202
            queries.append(sql)  # noqa: B023
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get("/sales/funnel/", params)
        server = []
        for _ in range(repeat):
            response = client.get("/sales/funnel/", params)
            assert response.status_code == 200, response.status_code
            server.append(float(response["Server-Timing"].split("dur=")[1]))
        everything += server
        p50, p95, worst = percentiles(server)
        rows.append((label, name, len(queries), p50, p95, worst))
        print(
            f"{label:15} {name:34} {len(queries):2} queries  "
            f"p50 {p50:7.1f}  p95 {p95:7.1f}  max {worst:7.1f} ms",
            flush=True,
        )
    p50, p95, worst = percentiles(everything)
    print()
    print("| user | filters | queries | p50 ms | p95 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|")
    for label, name, queries, *figures in rows:
        print(f"| {label} | {name} | {queries} | " + " | ".join(f"{f:.1f}" for f in figures) + " |")
    print(f"| **all requests** | {len(everything)} | | {p50:.1f} | {p95:.1f} | {worst:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_load = sub.add_parser("load")
    p_load.add_argument("--leads", type=int, default=2_000_000)
    p_load.add_argument("--dealers", type=int, default=30)
    p_load.add_argument("--seed", type=int, default=1)
    p_refresh = sub.add_parser("refresh")
    p_refresh.add_argument("--changed", type=int, default=2000)
    p_refresh.add_argument("--seed", type=int, default=3)
    p_refresh.add_argument("--skip-full", action="store_true")
    p_run = sub.add_parser("run")
    p_run.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    print(f"database: {connection.vendor} {settings.DATABASES['default']['NAME']}")
    if args.command == "load":
        load(args.leads, args.dealers, args.seed)
    elif args.command == "refresh":
        refresh(args.changed, args.seed, args.skip_full)
    else:
        run(args.repeat)


if __name__ == "__main__":
    main()
