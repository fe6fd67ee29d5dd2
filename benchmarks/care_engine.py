"""The care engine at scale: a full daily run over 1,000,000 vehicles (goal < 60 s), a second
run the same day (goal < 10 s, creating nothing), and the same rules as a naive per-vehicle
Python loop on 10,000 vehicles for comparison (extrapolated; the ratio is printed).

    uv run python benchmarks/care_engine.py --engine sqlite      # var/bench_care/ (a file)
    uv run python benchmarks/care_engine.py --engine postgresql  # database "bench_care"

Builds a fresh database (SQLite in var/bench_care/, PostgreSQL "bench_care" dropped and
created again) with --dealers dealers sharing --vehicles vehicles, one owner per vehicle (a
mobile number, birthdays solar and some lunar, a consultant, family and lifestyle facts), each
car's service state (last visit, next service), three days of repair orders, staff and the
message templates: bulk writes (executemany / COPY), not services — the figure is about the
engine, not the set-up.

The engine has run daily before in real life, so the first run of a fresh database (which
flags every old car as a replacement candidate, every dormant owner …) is a back-fill: it is
run for the day before and reported separately. Then the timed runs: the daily run for the
day (everything due that day: tasks, messages, notices, stage changes), the same run again.
Last, the naive loop for the same day on 10,000 vehicles, inside a transaction rolled back.
Prints one JSON line with the figures for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.demo_generation import _cpu, fresh_postgresql, machine  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉玲建国红梅"
LIFESTYLES = (
    "城市通勤",
    "商务出行频繁",
    "周末郊游",
    "家庭出行",
    "长途自驾",
    "宠物主人",
    "环保出行",
)
INTERESTS = ("自驾游", "摄影", "钓鱼", "健身", "露营", "美食", "读书", "户外运动")
MODELS = (
    ("星辰", "1.5T 舒适版", "sedan", "ice", 5),
    ("星辰", "2.0T 豪华版", "sedan", "ice", 5),
    ("极光 X", "2.0T 四驱版", "suv", "ice", 5),
    ("极光 L", "7座 旗舰版", "mpv", "ice", 7),
    ("极光 E", "长续航版", "suv", "bev", 5),
    ("星辰 H", "双擎版", "sedan", "hev", 5),
)
TEMPLATES = (
    (
        "maintenance_reminder",
        "{{ salutation }}，您的{{ vehicle }}将于{{ due_date }}前后需要保养，欢迎预约。",
    ),
    ("insurance_renewal", "{{ salutation }}，您的爱车保险将于{{ due_date }}到期，续保请联系我们。"),
    ("inspection_reminder", "{{ salutation }}，您的爱车需在{{ due_date }}前年检，我店可代办。"),
    ("warranty_expiry", "{{ salutation }}，您的爱车质保将于{{ due_date }}到期，欢迎到店检测。"),
    ("birthday_greeting", "{{ salutation }}，{{ dealer_name }}祝您生日快乐！"),
    ("holiday_greeting", "{{ salutation }}，{{ festival }}快乐！{{ year_summary }}。"),
)


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def load(
    dealer_ids: list[int],
    model_ids: list[int],
    staff: dict[int, dict[str, list[int]]],
    vehicles: int,
    day: dt.date,
    seed: int,
) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from dealercrm.customers.models import Customer, CustomerPhone
    from dealercrm.demo.bulk import BulkWriter, to_db
    from dealercrm.service.models import RepairOrder, VehicleServiceState
    from dealercrm.vehicles.models import Vehicle

    rng = random.Random(seed)
    now = timezone.now()
    writer = BulkWriter(now=now)
    chunk = 50_000
    ro_id = 0
    for start in range(1, vehicles + 1, chunk):
        customers, phones, cars, states, orders = [], [], [], [], []
        for n in range(start, min(start + chunk, vehicles + 1)):
            dealer_id = dealer_ids[n % len(dealer_ids)]
            people = staff[dealer_id]
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if n % 2 else "")
            delivered = day - dt.timedelta(days=rng.randint(10, 12 * 365))
            born = dt.date(rng.randint(1960, 2000), rng.randint(1, 12), rng.randint(1, 28))
            lunar = n % 10 == 0
            children = [rng.randint(2010, day.year)] if rng.random() < 0.3 else []
            stage = "loyal" if n % 7 == 0 else "owner"
            customers.append(
                (
                    n, dealer_id, name, rng.choice(("male", "female")), stage, born,
                    rng.randint(1, 12) if lunar else None, rng.randint(1, 30) if lunar else None, False,
                    rng.choice(people["sales_consultant"]), children,
                    rng.sample(LIFESTYLES, rng.randint(0, 2)), rng.sample(INTERESTS, rng.randint(0, 2)),
                    now, now,
                )
            )  # fmt: skip
            phones.append((n, dealer_id, n, f"+86138{n:08d}", "mobile", True))
            age_days = (day - delivered).days
            mileage = int(age_days * rng.uniform(20, 90))
            cars.append(
                (
                    n, dealer_id, f"LBENCH{n:011d}", model_ids[n % len(model_ids)], f"沪B{n % 100000:05d}",
                    n, delivered - dt.timedelta(days=rng.randint(0, 10)), delivered,
                    _add_years(delivered, 3), _add_years(delivered, (age_days // 365) + 1), mileage, now,
                )
            )  # fmt: skip
            # Service state: most visit every 6–12 months; a fifth drift away.
            if age_days < 180:
                last_visit, kind, next_on = None, "first", delivered + dt.timedelta(days=180)
            else:
                drift = rng.random() < 0.2
                last_visit = day - dt.timedelta(
                    days=rng.randint(200, 900) if drift else rng.randint(1, 330)
                )
                kind, next_on = "regular", last_visit + dt.timedelta(days=rng.choice((180, 365)))
            states.append((n, dealer_id, kind, next_on, last_visit, 1 if last_visit else 0, now))
            # Three days of repair orders (about one visit per car and half year).
            if rng.random() < 3 / 180:
                ro_id += 1
                opened_day = day - dt.timedelta(days=rng.randint(0, 2))
                opened = dt.datetime.combine(opened_day, dt.time(rng.randint(8, 16)), dt.UTC)
                closed = opened + dt.timedelta(hours=3) if opened_day < day else None
                orders.append(
                    (
                        ro_id, dealer_id, f"RO{ro_id:08d}", n, n, f"LBENCH{n:011d}", "maintenance",
                        "closed" if closed else "open", opened, closed, mileage,
                        rng.choice(people["service_advisor"]),
                    )
                )  # fmt: skip
        customers, phones, cars, states, orders = (
            [tuple(to_db(v) for v in row) for row in rows]
            for rows in (customers, phones, cars, states, orders)
        )
        with transaction.atomic():
            writer.write(
                Customer,
                (
                    "id", "dealer_id", "name", "gender", "lifecycle_stage", "birthday",
                    "lunar_birthday_month", "lunar_birthday_day", "lunar_birthday_leap",
                    "assigned_consultant_id", "children_birth_years", "lifestyle", "interests",
                    "created_at", "updated_at",
                ),
                customers,
            )  # fmt: skip
            writer.write(
                CustomerPhone,
                ("id", "dealer_id", "customer_id", "number", "label", "is_primary"),
                phones,
            )
            writer.write(
                Vehicle,
                (
                    "id", "dealer_id", "vin", "car_model_id", "plate", "owner_id", "purchase_date",
                    "delivery_date", "warranty_end", "insurance_expiry", "current_mileage_km", "created_at",
                ),
                cars,
            )  # fmt: skip
            writer.write(
                VehicleServiceState,
                ("vehicle_id", "dealer_id", "next_service_kind", "next_service_on", "last_visit_on", "visits", "computed_at"),
                states,
            )  # fmt: skip
            writer.write(
                RepairOrder,
                (
                    "id", "dealer_id", "number", "vehicle_id", "customer_id", "vin", "kind", "status",
                    "opened_at", "closed_at", "mileage_km", "advisor_id",
                ),
                orders,
            )  # fmt: skip
        print(
            f"  loaded {min(start + chunk - 1, vehicles):,} vehicles", file=sys.stderr, flush=True
        )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model, count in (
                (Customer, vehicles),
                (CustomerPhone, vehicles),
                (Vehicle, vehicles),
                (RepairOrder, ro_id),
            ):
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)",
                    [model._meta.db_table, max(count, 1)],
                )
        cursor.execute("ANALYZE")


def naive_loop(vehicle_ids: list[int], day: dt.date) -> int:
    """The same rules written the obvious way: per vehicle, read it, its owner, its state, its
    repair orders, check each rule in Python, look up and write each occurrence and task with
    single-row ORM calls. Returns how many occurrences it made."""
    from django.db.models import Max
    from django.db.models.functions import Coalesce

    from dealercrm.care.models import CareOccurrence
    from dealercrm.care.rules.base import add_months, add_years
    from dealercrm.care.rules.dates import inspection_years
    from dealercrm.service.models import RepairOrder, VehicleServiceState
    from dealercrm.vehicles.models import Vehicle
    from dealercrm.worklist.models import Task

    made = 0
    years = inspection_years({"years": [6, 8, 10], "yearly_from": 11})
    for vid in vehicle_ids:
        v = Vehicle.objects.select_related("owner", "car_model").get(pk=vid)
        owner = v.owner
        if owner is None or owner.is_deleted:
            continue
        state = VehicleServiceState.objects.filter(vehicle_id=vid).first()
        fired: list[tuple[str, str]] = []
        if v.delivery_date == day - dt.timedelta(days=3):
            fired.append(("delivery_follow_up", f"delivery/{v.delivery_date}"))
        start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time.min, dt.UTC)
        for ro in RepairOrder.objects.filter(
            vehicle_id=vid,
            status="closed",
            closed_at__gte=start,
            closed_at__lt=start + dt.timedelta(days=1),
        ):
            fired.append(("service_follow_up", f"ro/{ro.pk}"))
        if state and state.next_service_on:
            if state.next_service_kind == "first" and state.next_service_on == day + dt.timedelta(
                days=7
            ):
                fired.append(("first_maintenance", f"first/{state.next_service_on}"))
            if state.next_service_kind == "regular" and state.next_service_on == day + dt.timedelta(
                days=7
            ):
                fired.append(("maintenance_due", f"due/{state.next_service_on}"))
            if state.next_service_on == day - dt.timedelta(days=30) and (
                state.last_visit_on is None or state.last_visit_on < state.next_service_on
            ):
                fired.append(("maintenance_overdue", f"overdue/{state.next_service_on}"))
        for offset in (60, 30, 7):
            if v.insurance_expiry == day + dt.timedelta(days=offset):
                fired.append(("insurance_renewal", f"{v.insurance_expiry}/{offset}"))
        anniversary = day + dt.timedelta(days=30)
        if v.delivery_date and any(add_years(v.delivery_date, y) == anniversary for y in years):
            fired.append(("annual_inspection", f"inspection/{anniversary}"))
        if v.warranty_end == day + dt.timedelta(days=30):
            fired.append(("warranty_ending", f"warranty/{v.warranty_end}"))
        # State rules as the engine's daily run sees them: crossed the line today.
        bought = v.purchase_date or v.delivery_date
        read_today = (
            state is not None
            and state.last_reading_on is not None
            and state.last_reading_on >= day - dt.timedelta(days=1)
        )
        if (bought and bought == add_years(day, -3)) or (
            (v.current_mileage_km or 0) >= 150_000 and read_today
        ):
            fired.append(("replacement_candidate", f"owner/{owner.pk}"))
        if owner.birthday and (owner.birthday.month, owner.birthday.day) == (day.month, day.day):
            fired.append(("birthday", f"solar/{day.year}"))
        if owner.lifecycle_stage in ("owner", "loyal"):
            seen = Vehicle.objects.filter(owner=owner).aggregate(
                seen=Max(Coalesce("service_state__last_visit_on", "delivery_date"))
            )["seen"]
            if seen and add_months(day - dt.timedelta(days=1), -12) < seen <= add_months(day, -12):
                fired.append(("dormant_at_risk", f"seen/{seen}"))
        for rule, occasion in fired:
            subject = owner.pk if rule in ("birthday", "dormant_at_risk") else vid
            if CareOccurrence.objects.filter(
                dealer_id=v.dealer_id, rule=rule, subject_id=subject, occasion=occasion
            ).exists():
                continue
            occurrence = CareOccurrence.objects.create(
                dealer_id=v.dealer_id, rule=rule, subject_id=subject, occasion=occasion,
                customer=owner, vehicle=v, due_on=day,
            )  # fmt: skip
            task = Task.objects.create(
                dealer_id=v.dealer_id, customer=owner, assignee_id=owner.assigned_consultant_id,
                kind="call", title=f"{rule}: {owner.name}", body=occasion,
                source_kind="care.occurrence", source_id=str(occurrence.pk),
            )  # fmt: skip
            occurrence.task = task
            occurrence.save(update_fields=["task"])
            made += 1
    return made


def reuse(args: argparse.Namespace, day: dt.date, care_run) -> None:  # noqa: ANN001
    """The daily run and the second run for `day` on an already loaded database."""
    from django.db import connection

    from dealercrm.vehicles.models import Vehicle

    with __import__("dealercrm.core.tenancy", fromlist=["dealer_scope"]).dealer_scope(None):
        vehicles = Vehicle.objects.count()
    figures = {}
    for label in ("daily_run", "second_run"):
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        load = os.getloadavg()
        t = time.perf_counter()
        report = care_run(run_on=day, triggered_by="cli")
        wall = time.perf_counter() - t
        figures[label] = {
            "seconds": round(wall, 2),
            "cpu_seconds": _cpu(cpu_before, resource.getrusage(resource.RUSAGE_SELF)),
            "load_average_before": [round(x, 2) for x in load],
            "created": {
                code: {k: v for k, v in rep.as_dict().items() if v and k != "message_outcomes"}
                for code, rep in report.totals().items()
                if rep.occurrences
            },
        }
        print(f"  {label} {wall:.1f} s", file=sys.stderr, flush=True)
    print(
        json.dumps(
            {
                "benchmark": "care_engine",
                "engine": args.engine,
                "database": connection.vendor,
                "vehicles": vehicles,
                "day": day.isoformat(),
                **figures,
                "machine": machine(),
                "date": dt.datetime.now().isoformat(timespec="seconds"),
            },
            ensure_ascii=False,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1_000_000)
    parser.add_argument("--dealers", type=int, default=50)
    parser.add_argument("--naive", type=int, default=10_000, help="vehicles for the naive loop")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--day", default="2026-06-10")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="time the fresh database's first run (every old car, every dormant owner) first",
    )
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_care")
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "bench_care"))
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the runs again on the database a previous call loaded (run it with a later "
        "--day each time: a day already run creates nothing)",
    )
    args = parser.parse_args()
    day = dt.date.fromisoformat(args.day)

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    var_dir = Path(args.var_dir)
    var_dir.mkdir(parents=True, exist_ok=True)
    # Also for PostgreSQL: Huey's queue file goes here, not into the project's.
    os.environ["DEALERCRM_VAR_DIR"] = str(var_dir)
    if args.engine == "sqlite":
        os.environ.pop("DATABASE_URL", None)
        for suffix in ("", "-wal", "-shm"):
            if not args.reuse:
                (var_dir / f"dealercrm.sqlite3{suffix}").unlink(missing_ok=True)
    else:
        if not args.reuse:
            fresh_postgresql(args.pg_url)
        os.environ["DATABASE_URL"] = args.pg_url

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from dealercrm.care.models import CareOccurrence
    from dealercrm.care.rules.lunar import festival_on
    from dealercrm.care.services.engine import care_run
    from dealercrm.core.models import Brand, Dealer, Region, User
    from dealercrm.core.tenancy import dealer_scope
    from dealercrm.messaging.models import MessageTemplate, MessagingPolicy
    from dealercrm.vehicles.models import CarModel, Vehicle
    from dealercrm.worklist.models import Task

    assert festival_on(day) is None, "pick a day without a festival: greetings go to everyone"
    call_command("migrate", verbosity=0, skip_checks=True)
    started = time.perf_counter()
    if args.reuse:
        reuse(args, day, care_run)
        return
    with dealer_scope(None):
        brand = Brand.objects.create(code="bench", name="极光汽车")
        region = Region.objects.create(brand=brand, code="east", name="华东")
        model_ids = [
            CarModel.objects.create(
                brand=brand, make="极光", series=series, name=name, model_year=2026, body_type=body,
                powertrain=power, seats=seats, list_price="199800.00",
            ).pk
            for series, name, body, power, seats in MODELS
        ]  # fmt: skip
        dealer_ids, staff = [], {}
        for d in range(args.dealers):
            dealer = Dealer.objects.create(
                brand=brand, region=region, code=f"BENCH{d:03d}", name=f"极光{d:03d}号4S店",
                province="上海市", city="上海市", phone="021-68881234",
            )  # fmt: skip
            dealer_ids.append(dealer.pk)
            people: dict[str, list[int]] = {}
            for role, count in (
                ("sales_consultant", 6),
                ("service_advisor", 3),
                ("care_specialist", 3),
            ):
                people[role] = [
                    User.objects.create(
                        username=f"b{d}-{role}-{i}", role=role, dealer=dealer, brand=brand
                    ).pk
                    for i in range(count)
                ]
            staff[dealer.pk] = people
            MessagingPolicy.objects.create(dealer=dealer, sms_signature="极光", quiet_channels="")
            for purpose, body in TEMPLATES:
                MessageTemplate.objects.create(
                    dealer=dealer, name=purpose, purpose=purpose, channel="sms", body=body
                )
        load(dealer_ids, model_ids, staff, args.vehicles, day, args.seed)
    setup_seconds = time.perf_counter() - started
    print(f"  set-up {setup_seconds:.0f} s", file=sys.stderr, flush=True)

    def timed(run_on: dt.date) -> tuple[float, float, dict]:
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        report = care_run(run_on=run_on, triggered_by="cli")
        wall = time.perf_counter() - t
        cpu = _cpu(cpu_before, resource.getrusage(resource.RUSAGE_SELF))
        totals = {
            code: {k: v for k, v in rep.as_dict().items() if v and k != "message_outcomes"}
            for code, rep in report.totals().items()
        }
        return round(wall, 2), cpu, {code: t for code, t in totals.items() if t}

    if args.backfill:
        backfill = timed(day - dt.timedelta(days=1))
        print(f"  back-fill run {backfill[0]} s", file=sys.stderr, flush=True)
    else:
        # As if the engine had run yesterday: today's run looks at today only, and the state
        # rules at what crossed their line today (the back-fill's own cost: --backfill).
        from dealercrm.care.models import CareRun

        with dealer_scope(None):
            CareRun.objects.bulk_create(
                CareRun(
                    dealer_id=dealer_id, run_on=day - dt.timedelta(days=1), triggered_by="schedule"
                )
                for dealer_id in dealer_ids
            )
        backfill = (None, None, {})
    load_before = os.getloadavg()
    daily = timed(day)
    print(f"  daily run {daily[0]} s", file=sys.stderr, flush=True)
    again = timed(day)
    print(f"  second run {again[0]} s", file=sys.stderr, flush=True)

    # The naive loop on the first N vehicles of the first dealers, for the same day, undone.
    with dealer_scope(None):
        vehicle_ids = list(
            Vehicle.objects.order_by("id").values_list("id", flat=True)[: args.naive]
        )
        with transaction.atomic():
            # The engine has already run today: take its rows away inside the transaction so the
            # loop does the same work (then everything is rolled back).
            todays = CareOccurrence.objects.filter(run__run_on=day)
            Task.objects.filter(
                pk__in=list(todays.exclude(task_id=None).values_list("task_id", flat=True))
            ).delete()
            todays.delete()
            t = time.perf_counter()
            made = naive_loop(vehicle_ids, day)
            naive_seconds = time.perf_counter() - t
            transaction.set_rollback(True)
    extrapolated = naive_seconds * args.vehicles / max(len(vehicle_ids), 1)
    print(
        json.dumps(
            {
                "benchmark": "care_engine",
                "engine": args.engine,
                "database": connection.vendor,
                "vehicles": args.vehicles,
                "dealers": args.dealers,
                "day": day.isoformat(),
                "setup_seconds": round(setup_seconds),
                "backfill_run": {
                    "seconds": backfill[0],
                    "cpu_seconds": backfill[1],
                    "created": backfill[2],
                }
                if args.backfill
                else None,
                "daily_run": {"seconds": daily[0], "cpu_seconds": daily[1], "created": daily[2]},
                "second_run": {"seconds": again[0], "cpu_seconds": again[1], "created": again[2]},
                "naive_loop": {
                    "vehicles": len(vehicle_ids),
                    "seconds": round(naive_seconds, 1),
                    "occurrences": made,
                    "extrapolated_seconds": round(extrapolated),
                    "ratio_to_daily_run": round(extrapolated / max(daily[0], 0.01)),
                },
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "machine": machine(),
                "date": dt.datetime.now().isoformat(timespec="seconds"),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
