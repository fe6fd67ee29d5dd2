"""The mileage forecast at scale: the flags of every reading and a full forecast refresh over
1,000,000 vehicles (goal < 60 s for the refresh), then an incremental refresh after a few new
readings, on SQLite or PostgreSQL.

    uv run python benchmarks/forecast.py --engine sqlite      # var/bench_forecast/ (a file)
    uv run python benchmarks/forecast.py --engine postgresql  # database "bench_forecast"

Builds a fresh database with --dealers dealers in two regions sharing --vehicles vehicles of six
models, delivered over four years; 0 to 5 readings a vehicle (a few per thousand mistyped: an
extra digit or one missing) and a maintenance repair order every other reading, all with bulk
INSERT … SELECT over a generated series (not the demo: the figure is about the refresh). Then
times `readings_flag()`, `forecast_refresh(full=True)` and an incremental `forecast_refresh()`
after 1,000 new readings. Prints one JSON line with the figures for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.demo_generation import _cpu, fresh_postgresql, machine  # noqa: E402

MODELS = (
    ("星辰", "1.5T 舒适版", "sedan", "ice", 5),
    ("星辰", "2.0T 豪华版", "sedan", "ice", 5),
    ("极光 X", "2.0T 四驱版", "suv", "ice", 5),
    ("极光 L", "7座 旗舰版", "mpv", "ice", 7),
    ("极光 E", "长续航版", "suv", "bev", 5),
    ("星辰 H", "双擎版", "sedan", "hev", 5),
)


def _series(vendor: str, count: int) -> str:
    """A table `s(n)` of 1 … count."""
    if vendor == "postgresql":
        return f"(SELECT generate_series(1, {count}) AS n) s"
    return (
        f"(WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {count}) "
        "SELECT n FROM g) s"
    )


def _date_plus(vendor: str, day: str, days_sql: str) -> str:
    if vendor == "postgresql":
        return f"(DATE '{day}' + CAST({days_sql} AS INTEGER))"
    return f"date('{day}', '+' || CAST({days_sql} AS INTEGER) || ' days')"


def _date_add(vendor: str, column: str, days_sql: str) -> str:
    if vendor == "postgresql":
        return f"({column} + CAST({days_sql} AS INTEGER))"
    return f"date({column}, '+' || CAST({days_sql} AS INTEGER) || ' days')"


def load(dealer_ids: list[int], model_ids: list[int], vehicles: int) -> dict[str, int]:
    from django.db import connection, transaction

    vendor = connection.vendor
    now = "2026-06-30 00:00:00+00:00" if vendor == "postgresql" else "2026-06-30 00:00:00"
    n_dealers, n_models = len(dealer_ids), len(model_ids)
    first_dealer, first_model = dealer_ids[0], model_ids[0]
    # Ids are consecutive (created just before): dealer = first + n % dealers.
    assert dealer_ids == list(range(first_dealer, first_dealer + n_dealers))
    assert model_ids == list(range(first_model, first_model + n_models))
    delivery = _date_plus(vendor, "2022-07-01", "(CAST(s.n AS BIGINT) * 7919) % 1460")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO vehicles_vehicle (id, dealer_id, vin, manufacturer, plate, colour,
                purchase_date, delivery_date, current_mileage_km, version, created_at,
                car_model_id)
            SELECT s.n, {first_dealer} + s.n % {n_dealers},
                'LBENCH' || CAST(100000000 + s.n AS TEXT), '', '', '',
                {delivery}, {delivery}, NULL, 1, '{now}',
                {first_model} + (s.n / 7) % {n_models}
            FROM {_series(vendor, vehicles)}
            """
        )
        # Reading k (1 … 5) of vehicle v, every 120 days after delivery, at 15–75 km a day;
        # vehicles have (v % 6) readings; every 997th reading has an extra digit, every 991st
        # one lost.
        rate = "(15 + v.id % 61)"
        days = "(r.k * 120 + v.id % 30)"
        km = f"({rate} * {days})"
        cursor.execute(
            f"""
            INSERT INTO vehicles_mileagereading (dealer_id, vehicle_id, km, read_on, source, flag)
            SELECT v.dealer_id, v.id,
                CASE WHEN (v.id * 5 + r.k) % 997 = 0 THEN {km} * 10
                     WHEN (v.id * 5 + r.k) % 991 = 0 THEN {km} / 10
                     ELSE {km} END,
                {_date_add(vendor, "v.delivery_date", days)}, 'import', ''
            FROM vehicles_vehicle v
            JOIN (SELECT n AS k FROM {_series(vendor, 5)}) r ON r.k <= v.id % 6
            WHERE {_date_add(vendor, "v.delivery_date", days)} <= '2026-06-30'
            """
        )
        # A maintenance visit at every other reading.
        cursor.execute(
            f"""
            INSERT INTO service_repairorder (dealer_id, vehicle_id, number, vin, plate, kind,
                status, opened_at, closed_at, mileage_km, advisor_name, payer, customer_concern,
                diagnosis, labour_amount, parts_amount, total_amount, source, created_at,
                updated_at)
            SELECT r.dealer_id, r.vehicle_id, 'RO' || CAST(r.id AS TEXT), v.vin, '',
                'maintenance', 'closed', r.read_on, r.read_on, r.km, '', 'customer', '', '',
                300, 500, 800, 'import', '{now}', '{now}'
            FROM vehicles_mileagereading r
            JOIN vehicles_vehicle v ON v.id = r.vehicle_id
            WHERE r.id % 2 = 0
            """
        )
        counts = {}
        for table in ("vehicles_vehicle", "vehicles_mileagereading", "service_repairorder"):
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval('vehicles_vehicle_id_seq', %s)", [vehicles])
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return counts


def _timed(func, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = func(*args, **kwargs)
    seconds = round(time.perf_counter() - started, 1)
    return result, seconds, _cpu(before, resource.getrusage(resource.RUSAGE_SELF))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1_000_000)
    parser.add_argument("--dealers", type=int, default=200)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_forecast")
    parser.add_argument("--var-dir", default=str(ROOT / "var" / "bench_forecast"))
    args = parser.parse_args()

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    var_dir = Path(args.var_dir)
    var_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DEALERCRM_VAR_DIR"] = str(var_dir)
    if args.engine == "sqlite":
        os.environ.pop("DATABASE_URL", None)
        for suffix in ("", "-wal", "-shm"):
            (var_dir / f"dealercrm.sqlite3{suffix}").unlink(missing_ok=True)
    else:
        fresh_postgresql(args.pg_url)
        os.environ["DATABASE_URL"] = args.pg_url

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from dealercrm.core.models import Brand, Dealer, Region
    from dealercrm.core.tenancy import dealer_scope
    from dealercrm.service.services.forecast import forecast_refresh, readings_flag
    from dealercrm.vehicles.models import CarModel, MileageReading, Vehicle

    call_command("migrate", verbosity=0, skip_checks=True)
    with dealer_scope(None):
        brand = Brand.objects.create(code="bench", name="极光汽车")
        regions = [
            Region.objects.create(brand=brand, code=code, name=name)
            for code, name in (("east", "华东"), ("south", "华南"))
        ]
        model_ids = [
            CarModel.objects.create(
                brand=brand, make="极光", series=series, name=name, model_year=2026, body_type=body,
                powertrain=power, seats=seats, list_price="199800.00",
            ).pk
            for series, name, body, power, seats in MODELS
        ]  # fmt: skip
        dealer_ids = [
            Dealer.objects.create(
                brand=brand, region=regions[d % 2], code=f"BENCH{d:03d}", name=f"极光{d:03d}号4S店",
                province="上海市", city="上海市", phone="021-68881234",
            ).pk
            for d in range(args.dealers)
        ]  # fmt: skip
        _counts, load_seconds, _ = _timed(load, dealer_ids, model_ids, args.vehicles)
        flagged, flag_seconds, flag_cpu = _timed(readings_flag)
        refreshed, full_seconds, full_cpu = _timed(forecast_refresh, full=True)
        again, again_seconds, _ = _timed(forecast_refresh)
        # 1,000 new readings on 1,000 vehicles, as the day's repair orders would bring.
        rows = list(
            Vehicle.objects.filter(pk__lte=1000).values_list("dealer_id", "pk", "delivery_date")
        )
        MileageReading.objects.bulk_create(
            MileageReading(
                dealer_id=d, vehicle_id=v, km=60_000, read_on="2026-06-29", source="service"
            )
            for d, v, _delivery in rows
        )
        changed, incremental_seconds, _ = _timed(forecast_refresh)
    print(
        json.dumps(
            {
                "benchmark": "forecast",
                "engine": connection.vendor,
                "vehicles": args.vehicles,
                "readings": _counts["vehicles_mileagereading"],
                "repair_orders": _counts["service_repairorder"],
                "load_s": load_seconds,
                "flags_changed": flagged,
                "flags_s": flag_seconds,
                "flags_cpu_s": flag_cpu,
                "full_refresh_vehicles": refreshed,
                "full_refresh_s": full_seconds,
                "full_refresh_cpu_s": full_cpu,
                "goal_full_refresh_s": 60,
                "second_refresh_vehicles": again,
                "second_refresh_s": again_seconds,
                "incremental_vehicles": changed,
                "incremental_s": incremental_seconds,
                "machine": machine(),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
