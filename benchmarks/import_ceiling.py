"""The ceiling of the import benchmark: the database's own bulk load of the same rows.

    uv run python benchmarks/import_customers.py --rows 100000 --db sqlite   # first: the engine
    uv run python benchmarks/import_ceiling.py --rows 100000 --db sqlite      # then its ceiling
    uv run python benchmarks/import_ceiling.py --rows 100000 --db postgresql --source file

`--source engine` (the default): every row the engine wrote in the last import_customers.py run
on that database — customers, phones, vehicles, ownerships, mileage readings, search keys and
the run's row issues, all columns, ids included — is dumped (untimed), a fresh database with the
demo organisation is made, and the rows are loaded the database's own way, table by table in
the order their references need. That is the exact work the engine's writes add up to, without
any of the engine's reading, cleaning, matching or Python.

`--source file` (the first version of this benchmark): the file of benchmarks/import_customers.py
is pre-shaped, untimed, into the columns of the customer, phone and vehicle tables only — no
validation, no normalising, no duplicate checks, the ID number and dates left out, repeated VINs
dropped.

Loads: PostgreSQL `COPY … FROM STDIN` (text format, streamed as bytes) and SQLite's
`.import --csv` in the sqlite3 command-line shell (one transaction per table; the shell runs
without foreign-key checks, which the engine's connection has, and has no NULL marker, so
nullable columns load as ''). Indexes and constraints are in place, as the engine finds them.

Prints one JSON line: seconds per table, rows/s of the customer table alone and of all tables
together (input rows of the import per second: the comparable figure), with the exact command
and the machine.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import import_files  # noqa: E402

_GENDERS = {"男": "male", "女": "female"}


def _pg_text(value: object) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _sqlite_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    return value


def shape(source: Path, out_dir: Path, *, db: str, dealer_id: int) -> dict[str, tuple[str, tuple]]:
    """Write the customer, phone and vehicle tables' rows; {table: (file, columns)}."""
    from dealercrm.core.bulk import BulkWriter, to_db
    from dealercrm.customers.models import Customer, CustomerPhone
    from dealercrm.vehicles.models import Vehicle

    now = dt.datetime.now(dt.UTC)
    writer = BulkWriter(now=now)
    plans = {
        Customer: (
            "id", "dealer_id", "name", "gender", "province", "city", "district", "street", "email",
        ),
        CustomerPhone: ("id", "dealer_id", "customer_id", "number", "is_primary"),
        Vehicle: ("id", "dealer_id", "vin", "plate", "colour", "owner_id"),
    }  # fmt: skip
    specs = {model: writer.spec(model, fields) for model, fields in plans.items()}
    suffix = ".tsv" if db == "postgresql" else ".csv"
    paths = {model: out_dir / f"{model._meta.db_table}{suffix}" for model in plans}
    handles = {model: paths[model].open("w", encoding="utf-8", newline="") for model in plans}
    writers = {}
    for model, handle in handles.items():
        if db == "sqlite":
            writers[model] = csv.writer(handle)
            writers[model].writerow(["header"])  # skipped by .import --skip 1
    extras = {model: tuple(to_db(v) for v in specs[model].extra) for model in plans}
    # .import maps CSV columns to the table's by position: write them in the table's order.
    orders = {}
    if db == "sqlite":
        from django.db import connection

        with connection.cursor() as cursor:
            for model in plans:
                cursor.execute(f'PRAGMA table_info("{model._meta.db_table}")')
                table_columns = [row[1] for row in cursor.fetchall()]
                orders[model] = [specs[model].columns.index(c) for c in table_columns]
    seen_vins: set[str] = set()

    def emit(model: type, values: tuple) -> None:
        row = values + extras[model]
        if db == "postgresql":
            handles[model].write("\t".join(_pg_text(v) for v in row) + "\n")
        else:
            writers[model].writerow([_sqlite_cell(row[i]) for i in orders[model]])

    with source.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for customer_id, cells in enumerate(reader, start=1):
            (name, phone, _id, gender, _birthday, province, city, district, street, email,
             vin, plate, _model, colour, _bought, _km) = cells  # fmt: skip
            emit(
                Customer,
                (customer_id, dealer_id, name, _GENDERS.get(gender, ""), province, city,
                 district, street, email),
            )  # fmt: skip
            emit(CustomerPhone, (customer_id, dealer_id, customer_id, phone.replace(" ", ""), True))
            if vin not in seen_vins:
                seen_vins.add(vin)
                emit(Vehicle, (len(seen_vins), dealer_id, vin, plate, colour, customer_id))
    for handle in handles.values():
        handle.close()
    return {model._meta.db_table: (str(paths[model]), specs[model].columns) for model in plans}


def load_postgresql(pg_url: str, table: str, path: str, columns: tuple) -> float:
    import psycopg

    column_list = ", ".join(f'"{c}"' for c in columns)
    started = time.perf_counter()
    with psycopg.connect(pg_url) as conn, conn.cursor() as cursor:
        with (
            cursor.copy(f'COPY "{table}" ({column_list}) FROM STDIN') as copy,
            open(path, "rb") as handle,
        ):
            while block := handle.read(1 << 20):
                copy.write(block)
        conn.commit()
    return time.perf_counter() - started


def load_sqlite(db_path: Path, table: str, path: str) -> float:
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 — the sqlite3 shell on our own files
        ["sqlite3", str(db_path), f".import --csv --skip 1 {path} {table}"],  # noqa: S607
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


ENGINE_TABLES = (
    "customers_customer",
    "customers_customerphone",
    "vehicles_vehicle",
    "vehicles_vehicleownership",
    "vehicles_mileagereading",
    "search_searchkey",
    "dataquality_importrowissue",
)


def dump_engine_rows(db: str, out_dir: Path) -> dict[str, tuple[str, tuple]]:
    """The rows of the engine's tables in the last import_customers.py database, as load files.

    Must run before fresh_database() replaces that database. The run's row issues point at an
    ImportRun that the fresh database lacks: their run_id is left as is (SQLite's shell does not
    check references; on PostgreSQL the run row is copied first, see load_engine_rows)."""
    files: dict[str, tuple[str, tuple]] = {}
    if db == "postgresql":
        import psycopg

        with psycopg.connect(import_files.PG_URL) as conn, conn.cursor() as cursor:
            for table in ("dataquality_importrun", *ENGINE_TABLES):
                cursor.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "ORDER BY ordinal_position",
                    [table],
                )
                columns = tuple(row[0] for row in cursor.fetchall())
                path = out_dir / f"{table}.copy"
                with open(path, "wb") as handle, cursor.copy(f'COPY "{table}" TO STDOUT') as copy:
                    for block in copy:
                        handle.write(block)
                files[table] = (str(path), columns)
        return files
    import sqlite3

    source = sqlite3.connect(import_files.SQLITE_DIR / "dealercrm.sqlite3")
    for table in ENGINE_TABLES:
        cursor = source.execute(f'SELECT * FROM "{table}"')  # noqa: S608 — our own table names
        columns = tuple(d[0] for d in cursor.description)
        path = out_dir / f"{table}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(columns)
            for row in cursor:
                out.writerow(["" if v is None else v for v in row])
        files[table] = (str(path), columns)
    source.close()
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--source",
        choices=["engine", "file"],
        default="engine",
        help="the rows the engine wrote last (default), or the file shaped into three tables",
    )
    args = parser.parse_args()
    if args.db == "sqlite" and shutil.which("sqlite3") is None:
        raise SystemExit("The sqlite3 command-line shell is missing: apt-get install -y sqlite3")

    source, _facts = import_files.bench_file(args.rows, seed=args.seed)
    work = Path(f"/tmp/bench_import_ceiling_{args.db}")  # noqa: S108 — a benchmark's scratch
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    started = time.perf_counter()
    if args.source == "engine":
        tables = dump_engine_rows(args.db, work)
        dealer_id = import_files.fresh_database(args.db)
    else:
        dealer_id = import_files.fresh_database(args.db)
        tables = shape(source, work, db=args.db, dealer_id=dealer_id)
    shaping = time.perf_counter() - started

    from django.db import connection

    connection.close()  # the loads use their own connections
    seconds: dict[str, float] = {}
    for table, (path, columns) in tables.items():
        if args.db == "postgresql":
            seconds[table] = load_postgresql(import_files.PG_URL, table, path, columns)
        else:
            db_path = import_files.SQLITE_DIR / "dealercrm.sqlite3"
            seconds[table] = load_sqlite(db_path, table, path)
    with connection.cursor() as cursor:
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
    customer_seconds = seconds["customers_customer"]
    total_seconds = sum(seconds.values())
    print(
        json.dumps(
            {
                "benchmark": "import_ceiling",
                "command": " ".join(["uv run python", *sys.argv]),
                "db": args.db,
                "method": "COPY FROM STDIN (text)"
                if args.db == "postgresql"
                else "sqlite3 .import",
                "rows": args.rows,
                "file": str(source),
                "shaping_seconds_untimed": round(shaping, 1),
                "seconds": {table: round(s, 2) for table, s in seconds.items()},
                "table_rows": counts,
                "source": args.source,
                "customer_table_rows_per_second": round(args.rows / customer_seconds),
                "all_tables_rows_per_second": round(args.rows / total_seconds),
                "machine": import_files.machine(),
                "date": dt.datetime.now().isoformat(timespec="seconds"),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
