"""Import of a customer-and-vehicle file, end to end, with the import engine: rows per second.

    uv run python benchmarks/import_customers.py --rows 1000000 --db postgresql
    uv run python benchmarks/import_customers.py --rows 1000000 --db sqlite
    uv run python benchmarks/import_customers.py --rows 100000 --db sqlite --profile

The file is benchmarks/import_files.py's (realistic DMS export, ~1% invalid values, ~2% repeated
customers; generated once into /tmp and kept). Each run starts from a fresh database with the
demo organisation only (`dealercrm demo --customers 0`): PostgreSQL database "bench_import",
or SQLite in /tmp/bench_import_sqlite. Then what a user's import does, timed: the upload stored
and inspected (`import_run_create`), the guessed mapping confirmed (`import_run_map`), the run
started and executed in this process (`import_run_start(enqueue=False)`, `import_run_execute`,
which forks its reading-and-cleaning worker as in production).

Prints one JSON line: rows/s end to end and per step, the run's counts next to the counts the
file should give (its facts), the tables' row counts, CPU seconds of the writer and of the
worker, the exact command and the machine. `--profile` runs cProfile over the import (with the
worker disabled, so cleaning and writing are both in the one profile) and prints the top
functions to stderr, saving the profile next to the file.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import resource
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import import_files  # noqa: E402

IMPORT_DIR = Path("/tmp/bench_import_uploads")  # noqa: S108 — the benchmark's own uploads


def _cpu(before: resource.struct_rusage, after: resource.struct_rusage) -> float:
    return round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1)


def table_counts() -> dict[str, int]:
    from dealercrm.customers.models import Customer, CustomerPhone
    from dealercrm.dataquality.models import ImportRowIssue
    from dealercrm.search.models import SearchKey
    from dealercrm.vehicles.models import MileageReading, Vehicle, VehicleOwnership

    models = {
        "customers": Customer,
        "phones": CustomerPhone,
        "vehicles": Vehicle,
        "ownerships": VehicleOwnership,
        "mileage_readings": MileageReading,
        "search_keys": SearchKey,
        "import_row_issues": ImportRowIssue,
    }
    return {name: model.objects.unscoped().count() for name, model in models.items()}


def run_import(path: Path, dealer_id: int, *, batch_size: int | None, worker: bool) -> dict:
    """The timed import; returns the run and the seconds of each step."""
    from django.conf import settings

    from dealercrm.core.tenancy import dealer_scope
    from dealercrm.dataquality.services import import_engine
    from dealercrm.dataquality.services.import_runs import (
        import_run_create,
        import_run_map,
        import_run_start,
    )

    settings.IMPORT_WORKER = worker
    shown = [0.0]

    def progress(done: int, total: int) -> None:
        if total and done / total >= shown[0] + 0.1:
            shown[0] = done / total
            print(f"  {done:,} / {total:,} rows", file=sys.stderr, flush=True)

    started = time.perf_counter()
    with dealer_scope(dealer_id):
        run = import_run_create(
            actor=None, dealer_id=dealer_id, kind="customers", file=path, filename=path.name
        )
        created = time.perf_counter()
        run = import_run_map(actor=None, run=run, mapping=run.mapping)
        run = import_run_start(actor=None, run=run, enqueue=False)
    mapped = time.perf_counter()
    run = import_engine.execute(
        run.pk,
        progress=progress,
        batch_size=batch_size or import_engine.BATCH_SIZE,
        worker=worker,
    )
    finished = time.perf_counter()
    return {
        "run": run,
        "seconds": {
            "upload_and_inspect": round(created - started, 2),
            "map_and_start": round(mapped - created, 2),
            "execute": round(finished - mapped, 2),
            "total": round(finished - started, 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument(
        "--no-worker", action="store_true", help="clean and write in one process (no fork)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the import (no worker)")
    args = parser.parse_args()

    path, facts = import_files.bench_file(args.rows, seed=args.seed)
    os.environ["IMPORT_DIR"] = str(IMPORT_DIR)
    dealer_id = import_files.fresh_database(args.db)
    from django.db import connection

    from dealercrm.core.tenancy import DealerScope, dealer_scope

    worker = not (args.no_worker or args.profile)
    load_before = os.getloadavg()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        profiler.enable()
    result = run_import(path, dealer_id, batch_size=args.batch_size, worker=worker)
    if profiler is not None:
        profiler.disable()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = result["run"]
    seconds = result["seconds"]
    with dealer_scope(DealerScope.everything()):
        tables = table_counts()
    expected_unchanged_or_updated = args.rows - facts.customers - facts.invalid_rows
    report = {
        "benchmark": "import_customers",
        "command": " ".join(["uv run python", *sys.argv]),
        "db": args.db,
        "db_version": connection.pg_version if args.db == "postgresql" else sqlite3.sqlite_version,
        "rows": args.rows,
        "file": str(path),
        "file_mb": round(facts.bytes / 1e6, 1),
        "status": run.status,
        "failure": run.failure,
        "rows_per_second": round(args.rows / seconds["total"]),
        "execute_rows_per_second": round(args.rows / seconds["execute"]),
        "seconds": seconds,
        "worker_process": worker,
        "counts": {
            "created": run.created_count,
            "updated": run.updated_count,
            "unchanged": run.unchanged_count,
            "errors": run.error_count,
            "accounted": run.accounted_rows,
        },
        # What the file holds: created == distinct customers, errors == invalid rows.
        "expected": {
            "created": facts.customers,
            "updated_or_unchanged": expected_unchanged_or_updated,
            "errors": facts.invalid_rows,
            "vehicles": facts.vehicles,
        },
        "tables": tables,
        "cpu_seconds_writer": _cpu(cpu_before, cpu_after),
        "cpu_seconds_worker": _cpu(children_before, children_after),
        "load_average_before": [round(x, 2) for x in load_before],
        "machine": import_files.machine(),
        "date": dt.datetime.now().isoformat(timespec="seconds"),
    }
    print(json.dumps(report, ensure_ascii=False))
    # For benchmarks/import_django_import_export.py's ratio on the same file and database.
    result_path = Path(f"/tmp/bench_import_result_{args.rows}_{args.db}.json")  # noqa: S108
    result_path.write_text(json.dumps(report, ensure_ascii=False))
    if profiler is not None:
        out = path.with_suffix(f".{args.db}.prof")
        profiler.dump_stats(out)
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text).sort_stats("tottime")
        stats.print_stats(30)
        print(f"profile saved to {out}\n{text.getvalue()}", file=sys.stderr)


if __name__ == "__main__":
    main()
