"""A realistic customer-and-vehicle CSV, as a dealer's DMS exports it, for the import benchmarks.

    uv run python benchmarks/import_files.py --rows 1000000 --out /tmp/bench_import_1000000.csv

One row per customer and car, Chinese headers (客户姓名, 手机号码, 身份证号 … 车架号, 车牌号, 购车日期),
UTF-8 with a BOM as Chinese DMS software writes it. The values are valid as the foundation checks
them: mobile numbers of the three carriers, ID numbers with their check character, birthday and
gender matching the ID, VINs with their check digit, plates of the dealer's city (new-energy
plates for electric cars). Dates come in the mixed spellings real exports mix (2024-03-05,
2024/3/5, 20240305, 2024年3月5日, Excel serial numbers) and mileage as "12345", "12,345" or
"12345 km". About 1% of the rows carry one invalid value (phone, ID number, VIN, plate, date or
e-mail) and about 2% repeat an earlier customer (half the very same row again, half the same
person with another car). The file is written streaming, a block of rows at a time.

Phones, ID numbers, VINs and plates are unique by construction, so the expected counts are
exact: `generate()` returns them (rows, invalid rows, repeated customers, distinct customers and
vehicles).

Also here, for the other import benchmarks: `bench_file(rows)` (the file, generated once and
kept in /tmp), `fresh_database(db)` (an empty database with the demo organisation only: brand,
dealers, staff, catalogue — `dealercrm demo --customers 0`) and `machine()`.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dealercrm.customers.validators import id_number_check_character  # noqa: E402
from dealercrm.demo import reference as ref  # noqa: E402
from dealercrm.vehicles.validators import with_check_digit  # noqa: E402

HEADERS = (
    "客户姓名",
    "手机号码",
    "身份证号",
    "性别",
    "出生日期",
    "省份",
    "城市",
    "区县",
    "详细地址",
    "电子邮箱",
    "车架号",
    "车牌号",
    "车型",
    "颜色",
    "购车日期",
    "行驶里程",
)
INVALID_SHARE = 0.01
REPEAT_SHARE = 0.02
ID_SHARE = 0.75  # rows with an ID number (the rest identify the customer by phone alone)
EMAIL_SHARE = 0.3
PLATE_SHARE = 0.92
BLOCK = 10_000
_POWERTRAIN_CODE = {"ice": "G", "hev": "H", "phev": "P", "bev": "E"}
# Plate serial characters (no I, O): 34 ** 5 serials per prefix, far more than any file.
_PLATE_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_PLATE_SPACE = len(_PLATE_CHARS) ** 5
_PLATE_STEP = 7_368_787  # coprime with 34 ** 5: serial → plate is one-to-one, but scattered
_PHONE_STEP = 7_919  # coprime with 10 ** 8
_BEV_SPACE = len(_PLATE_CHARS) * 10_000
_BEV_STEP = 104_729  # coprime with 340,000
# Birthdays over 42 years; with 500 sequences a day, unique ID numbers for 7.6M customers.
_BIRTH_SPACE = 365 * 42
_BIRTH_STEP = 1_000_003  # coprime with 365 * 42 * 500: serial → (birthday, sequence) one-to-one
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_STREETS = (
    "人民路",
    "中山路",
    "解放路",
    "建设路",
    "和平路",
    "新华路",
    "长江路",
    "文化路",
    "南京路",
)


@dataclass
class FileFacts:
    rows: int = 0
    invalid_rows: int = 0  # rows with one invalid value: the import's error rows
    repeated_rows: int = 0  # rows naming a customer of an earlier row
    repeated_same_car: int = 0  # of those, rows repeating the earlier row's car too
    customers: int = 0  # distinct customers among the valid rows
    vehicles: int = 0  # distinct vehicles among the valid rows
    bytes: int = 0
    seconds: float = 0.0


def _date_text(day: dt.date, style: int) -> str:
    if style == 0:
        return day.isoformat()
    if style == 1:
        return f"{day.year}/{day.month}/{day.day}"
    if style == 2:
        return f"{day:%Y%m%d}"
    if style == 3:
        return f"{day.year}年{day.month}月{day.day}日"
    return str((day - _EXCEL_EPOCH).days)  # an Excel serial, as a spreadsheet export leaves it


def _models() -> list[tuple[str, str, int, int]]:
    """(model text, series VIN code, seats, powertrain) of the brand's catalogue."""
    return [
        (f"{series.series} {name}", series.code, series.seats, powertrain)
        for series in ref.BRAND_SERIES
        for name, powertrain, _price in series.variants
    ]


def _corrupt(row: list[str], rng: random.Random) -> None:
    """One invalid value of a kind the import must name (the row ends in the error report)."""
    kind = rng.randrange(6)
    if kind == 0:
        row[1] = row[1][:-3] if row[1] else "1380013"  # a phone 3 digits short
    elif kind == 1:
        if row[2]:
            row[2] = row[2][:-1] + ("0" if row[2][-1] != "0" else "1")  # wrong check character
        else:
            row[1] = "2" + row[1][1:]  # no mobile starts with 2
    elif kind == 2:
        row[10] = row[10][:8] + ("0" if row[10][8] != "0" else "1") + row[10][9:]  # check digit
    elif kind == 3:
        row[11] = "A" + row[11][1:] if row[11] else "A" + "B12345"  # no province abbreviation
    elif kind == 4:
        row[14] = f"{rng.choice((2021, 2022, 2023))}-02-30"  # no such day
    else:
        row[9] = row[9].replace("@", "#") if row[9] else "zhang.wei#qq.com"


def generate(path: Path, rows: int, *, seed: int = 7, encoding: str = "utf-8-sig") -> FileFacts:
    """Write the file; the exact counts it contains."""
    started = time.perf_counter()
    rng = random.Random(seed)
    rand, randrange = rng.random, rng.randrange
    from dealercrm.demo.pools import build_pools

    pools = build_pools(seed)
    names = pools.person_names
    models = _models()
    dealer = ref.DEALERS[0]
    districts = dealer.districts
    today = dt.date(2026, 6, 30)
    facts = FileFacts()
    # Recent rows that later rows may repeat (a bounded window: exports repeat near neighbours),
    # each with its customer's and vehicle's serials.
    recent: list[tuple[list[str], int, int]] = []
    # Which customers and vehicles some valid row names (the distinct counts of the facts).
    customer_seen = bytearray(rows + 1)
    vehicle_seen = bytearray(rows + 1)
    serials = {"vin": 0, "bev": 0, "customer": 0}

    def new_vehicle(row: list[str], bought_after: dt.date) -> int:
        serials["vin"] += 1
        vin_serial = serials["vin"]
        model, code, seats, powertrain = models[randrange(len(models))]
        bought = bought_after + dt.timedelta(days=randrange(max(1, (today - bought_after).days)))
        year = min(max(bought.year, 2021), 2026)
        body = (
            f"{ref.BRAND_WMI}{code}{_POWERTRAIN_CODE[powertrain]}{seats}AB0"
            f"{ref.YEAR_CODES[year]}{ref.VIN_CHARS[(vin_serial // 1_000_000) % 33]}"
            f"{vin_serial % 1_000_000:06d}"
        )
        plate = ""
        if rand() < PLATE_SHARE:
            if powertrain == "bev":
                # A small new-energy plate: D, a letter or digit, 4 digits (340,000 of them).
                serials["bev"] += 1
                n = serials["bev"] * _BEV_STEP % _BEV_SPACE
                serial = f"D{_PLATE_CHARS[n // 10_000]}{n % 10_000:04d}"
            else:
                n = (vin_serial * _PLATE_STEP) % _PLATE_SPACE
                chars = []
                for _ in range(5):
                    n, digit = divmod(n, len(_PLATE_CHARS))
                    chars.append(_PLATE_CHARS[digit])
                serial = "".join(chars)
            plate = dealer.plate_prefix + serial
        km = max(0, int((today - bought).days * (20 + rand() * 60)))
        row[10:16] = [
            with_check_digit(body),
            plate,
            model,
            ref.COLOURS[randrange(len(ref.COLOURS))],
            _date_text(bought, randrange(5)),
            (str(km), f"{km:,}", f"{km} km")[randrange(3)],
        ]
        return vin_serial

    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        block: list[list[str]] = []
        for _index in range(rows):
            if recent and rand() < REPEAT_SHARE:
                earlier, customer, vehicle = recent[randrange(len(recent))]
                row = list(earlier)
                facts.repeated_rows += 1
                if rand() < 0.5:
                    facts.repeated_same_car += 1
                else:
                    vehicle = new_vehicle(row, dt.date(2021, 1, 1))
            else:
                serials["customer"] += 1
                customer = serials["customer"]
                name, male = names[randrange(len(names))]
                district, code = districts[randrange(len(districts))]
                # Birthday and sequence from the serial: ID numbers unique by construction.
                scattered = customer * _BIRTH_STEP % (_BIRTH_SPACE * 500)
                birthday = dt.date(1960, 1, 1) + dt.timedelta(days=scattered // 500)
                id_number = ""
                if rand() < ID_SHARE:
                    sequence = (scattered % 500) * 2 + (1 if male else 0)
                    body = f"{code}{birthday:%Y%m%d}{sequence:03d}"
                    id_number = body + id_number_check_character(body)
                prefix = ref.MOBILE_PREFIXES[customer % len(ref.MOBILE_PREFIXES)]
                number = ((customer // len(ref.MOBILE_PREFIXES)) * _PHONE_STEP + 23_456_789) % 10**8
                phone = f"{prefix}{number:08d}"
                if rand() < 0.1:
                    phone = f"{phone[:3]} {phone[3:7]} {phone[7:]}"  # as typed, with spaces
                email = ""
                if rand() < EMAIL_SHARE:
                    email = f"u{customer}@{ref.EMAIL_DOMAINS[randrange(6)]}"
                row = [
                    name,
                    phone,
                    id_number,
                    ("男" if male else "女") if rand() < 0.9 else "",
                    _date_text(birthday, randrange(4)) if rand() < 0.6 else "",
                    dealer.province,
                    dealer.city,
                    district,
                    f"{district}{_STREETS[randrange(len(_STREETS))]}{1 + randrange(999)}号",
                    email,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
                vehicle = new_vehicle(row, dt.date(2021, 1, 1))
                if len(recent) < 10_000:
                    recent.append((row, customer, vehicle))
                else:
                    recent[randrange(10_000)] = (row, customer, vehicle)
            if rand() < INVALID_SHARE:
                row = list(row)
                _corrupt(row, rng)
                facts.invalid_rows += 1
            else:
                customer_seen[customer] = 1
                vehicle_seen[vehicle] = 1
            block.append(row)
            if len(block) >= BLOCK:
                writer.writerows(block)
                block.clear()
        writer.writerows(block)
    facts.customers = customer_seen.count(1)
    facts.vehicles = vehicle_seen.count(1)
    facts.rows = rows
    facts.bytes = path.stat().st_size
    facts.seconds = round(time.perf_counter() - started, 1)
    return facts


# The benchmark's own databases (replaced by every run); the variables let two runs, or a run
# whose database is kept for other benchmarks (audit, duplicates), use others.
PG_URL = os.environ.get("BENCH_IMPORT_PG_URL", "postgres://postgres@127.0.0.1:5432/bench_import")
SQLITE_DIR = Path(os.environ.get("BENCH_IMPORT_SQLITE_DIR", "/tmp/bench_import_sqlite"))  # noqa: S108
DEMO_SEED = 42
DEMO_TODAY = dt.date(2026, 6, 30)


def bench_file_path(rows: int, seed: int) -> Path:
    return Path(f"/tmp/bench_import_{rows}_{seed}.csv")  # noqa: S108 — kept for the next run


def bench_file(rows: int, *, seed: int = 7) -> tuple[Path, FileFacts]:
    """The benchmark's file of `rows` rows and its facts: generated once, then kept (the facts
    beside it as JSON)."""
    path = bench_file_path(rows, seed)
    facts_path = path.with_suffix(".json")
    if path.exists() and facts_path.exists():
        return path, FileFacts(**json.loads(facts_path.read_text()))
    partial = path.with_suffix(".partial")
    facts = generate(partial, rows, seed=seed)
    partial.rename(path)
    facts_path.write_text(json.dumps(asdict(facts)))
    return path, facts


def fresh_database(db: str, *, pg_url: str = PG_URL, sqlite_dir: Path = SQLITE_DIR) -> int:
    """Set up Django on a new, empty database of the engine with the demo organisation only;
    returns the id of the dealer the benchmark imports into (the demo's first, SH01)."""
    if db == "postgresql":
        import psycopg

        base, _sep, name = pg_url.rpartition("/")
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = pg_url
    else:
        os.environ.pop("DATABASE_URL", None)
        shutil.rmtree(sqlite_dir, ignore_errors=True)
        sqlite_dir.mkdir(parents=True)
        os.environ["DEALERCRM_VAR_DIR"] = str(sqlite_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import django

    django.setup()
    from django.core.management import call_command

    from dealercrm.core.models import Dealer
    from dealercrm.core.tenancy import DealerScope, dealer_scope
    from dealercrm.demo.runner import run_demo

    _sync_apps_without_migrations()
    call_command("migrate", verbosity=0, skip_checks=True, run_syncdb=True)
    with dealer_scope(DealerScope.everything()):
        run_demo(customers=0, seed=DEMO_SEED, today=DEMO_TODAY)
        return Dealer.objects.get(code=ref.DEALERS[0].code).pk


def _sync_apps_without_migrations() -> None:
    """An app whose migrations package is still empty (dataquality while issue 7 is under way)
    gets its tables from the models (`migrate --run-syncdb`); no effect once it has migrations."""
    from django.apps import apps
    from django.conf import settings
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    migrated = {app for app, _name in loader.disk_migrations}
    for config in apps.get_app_configs():
        own = config.name.startswith("dealercrm.") and any(True for _m in config.get_models())
        if own and config.label not in migrated:
            settings.MIGRATION_MODULES = {**settings.MIGRATION_MODULES, config.label: None}


def machine() -> dict:
    """The machine the figures were measured on, and its load."""
    cpu = "unknown"
    mem_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--encoding", default="utf-8-sig", choices=["utf-8-sig", "utf-8", "gb18030"]
    )
    args = parser.parse_args()
    out = args.out or bench_file_path(args.rows, args.seed)
    facts = generate(out, args.rows, seed=args.seed, encoding=args.encoding)
    print(json.dumps({"file": str(out), **asdict(facts)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
