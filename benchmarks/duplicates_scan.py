"""Duplicate detection over the 1,000,000-customer demo network: the scan of every dealer plus the
brand's cross-dealer scan (goal < 5 minutes), with the seconds and the pairs found.

Run on demand, never in the test suite, against a demo database built beforehand (the database
comes from the environment, like the app's own settings):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_1m uv run python benchmarks/duplicates_scan.py
    DEALERCRM_VAR_DIR=/tmp/bench_1m_sqlite uv run python benchmarks/duplicates_scan.py

It writes only the review queue's own rows (DuplicateCandidate): by default the queue is emptied
first (`--keep` to leave it), so the first pass is a cold scan that creates every pair; a
second pass over the same data (`--repeat 2`) shows a nightly re-scan, which updates the open
pairs and creates nothing. No dealer has an auto-merge threshold in the demo, so no customer is
merged. When the database has no data-quality tables yet (built before their migration), the
two tables the scan writes are created for the run and dropped at its end.

`--seed-duplicates` adds, for the run only, second records the way the demo's duplicates
generator does (3 % of the persons entered again at their dealer, a third of them with the last
character of the name mistyped; 1 % at another dealer of the brand, with the same phone), set-
based in SQL inside one transaction that is rolled back at the end: the shared database is left
as it was. (On SQLite that transaction holds the write lock for the whole run.)

Prints a table per pass and one JSON line with the figures for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from benchmarks.demo_generation import _cpu, machine  # noqa: E402
from dealercrm.core.models import Brand, Dealer  # noqa: E402
from dealercrm.core.tenancy import dealer_scope  # noqa: E402
from dealercrm.customers.models import Customer, CustomerPhone  # noqa: E402
from dealercrm.dataquality.models import DedupSettings, DuplicateCandidate  # noqa: E402
from dealercrm.dataquality.services.duplicates import duplicates_scan  # noqa: E402

GOAL_SECONDS = 300


def one_pass(dealers: list[tuple[int, str]], brand_ids: list[int]) -> dict:
    started = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    per_dealer: list[float] = []
    totals: Counter = Counter()
    for dealer_id, code in dealers:
        report = duplicates_scan(dealer_id=dealer_id)
        per_dealer.append(report.seconds)
        totals.update(
            pairs=report.pairs,
            created=report.created,
            updated=report.updated,
            households=report.households,
            shared_keys_skipped=report.shared_keys_skipped,
            auto_merged=report.auto_merged,
        )
        print(
            f"  {code:<16} {report.seconds:7.1f} s  {report.pairs:>8,} pairs "
            f"({report.households:,} households, {report.shared_keys_skipped:,} shared keys)",
            flush=True,
        )
    within_seconds = time.perf_counter() - started
    cross_started = time.perf_counter()
    cross: Counter = Counter()
    for brand_id in brand_ids:
        report = duplicates_scan(brand_id=brand_id)
        cross.update(pairs=report.pairs, created=report.created, households=report.households)
        print(
            f"  brand #{brand_id} across dealers {report.seconds:7.1f} s  "
            f"{report.pairs:>8,} pairs ({report.shared_keys_skipped:,} shared keys)",
            flush=True,
        )
    cross_seconds = time.perf_counter() - cross_started
    total = time.perf_counter() - started
    return {
        "seconds": round(total, 1),
        "within_dealers_seconds": round(within_seconds, 1),
        "slowest_dealer_seconds": round(max(per_dealer, default=0.0), 1),
        "across_dealers_seconds": round(cross_seconds, 1),
        "cpu_seconds": _cpu(cpu_before, resource.getrusage(resource.RUSAGE_SELF)),
        "within_pairs": totals["pairs"],
        "within_created": totals["created"],
        "within_updated": totals["updated"],
        "households": totals["households"] + cross["households"],
        "shared_keys_skipped": totals["shared_keys_skipped"],
        "auto_merged": totals["auto_merged"],
        "across_pairs": cross["pairs"],
        "across_created": cross["created"],
        "goal_met": total < GOAL_SECONDS,
    }


def _missing_tables() -> list:
    existing = set(connection.introspection.table_names())
    return [m for m in (DuplicateCandidate, DedupSettings) if m._meta.db_table not in existing]


def seed_duplicates(dealer_ids: list[int]) -> dict[str, int]:
    """Second records, set-based: every 33rd person again at their dealer (every 3rd of those
    with the last character of the name changed), every 97th at the next dealer of the list,
    each with a copy of their primary phone. ID numbers are left out of the copies (a dealer
    holds one living record per ID number)."""
    customer = Customer._meta.db_table
    phone = CustomerPhone._meta.db_table
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {customer}")
        offset = (cursor.fetchone()[0] or 0) + 1
        cursor.execute(f"SELECT MAX(id) FROM {phone}")
        phone_offset = (cursor.fetchone()[0] or 0) + 1
    next_dealer = " ".join(
        f"WHEN {a} THEN {b}"
        for a, b in zip(dealer_ids, dealer_ids[1:] + dealer_ids[:1], strict=True)
    )
    columns = [f.column for f in Customer._meta.concrete_fields]
    made = {}
    for label, every, shift, dealer_sql in (
        ("same_dealer", 33, 0, "c.dealer_id"),
        ("other_dealer", 97, 1, f"CASE c.dealer_id {next_dealer} END"),
    ):
        values = []
        for column in columns:
            if column == "id":
                values.append(f"c.id * 2 + {shift} + {offset}")
            elif column == "dealer_id":
                values.append(dealer_sql)
            elif column == "name":
                values.append(
                    "CASE WHEN c.id %% 3 = 0 AND LENGTH(c.name) > 1 "
                    "THEN SUBSTR(c.name, 1, LENGTH(c.name) - 1) || '明' ELSE c.name END"
                )
            elif column in ("id_number_encrypted", "id_number_hash", "id_number_masked"):
                values.append("''")
            else:
                values.append(f"c.{q(column)}")
        where = f"c.kind = 'person' AND c.is_deleted = %s AND c.id %% {every} = 0"
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {customer} ({', '.join(q(c) for c in columns)}) "
                f"SELECT {', '.join(values)} FROM {customer} c WHERE {where}",
                [False],
            )
            made[label] = cursor.rowcount
            cursor.execute(
                f"INSERT INTO {phone} (id, dealer_id, customer_id, number, label, is_primary) "
                f"SELECT p.customer_id * 2 + {shift} + {phone_offset}, {dealer_sql}, "
                f"p.customer_id * 2 + {shift} + {offset}, p.number, p.label, p.is_primary "
                f"FROM {phone} p JOIN {customer} c ON c.id = p.customer_id "
                f"WHERE p.is_primary = %s AND {where}",
                [True, False],
            )
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="Keep the queue (no cold scan).")
    parser.add_argument("--repeat", type=int, default=2, help="Passes (the 2nd is a re-scan).")
    parser.add_argument(
        "--seed-duplicates",
        action="store_true",
        help="Add second records for the run only (rolled back).",
    )
    args = parser.parse_args()
    created_tables = _missing_tables()
    if created_tables:
        with connection.schema_editor() as editor:
            for model in created_tables:
                editor.create_model(model)
    try:
        with dealer_scope(None):
            if args.seed_duplicates:
                with transaction.atomic():
                    run(args, seeded=seed_duplicates(_dealer_ids()))
                    transaction.set_rollback(True)
            else:
                run(args, seeded={})
    finally:
        if created_tables:
            with connection.schema_editor() as editor:
                for model in reversed(created_tables):
                    editor.delete_model(model)


def _dealer_ids() -> list[int]:
    return list(Dealer.objects.order_by("id").values_list("id", flat=True))


def run(args: argparse.Namespace, *, seeded: dict[str, int]) -> None:

    with dealer_scope(None):
        dealers = list(Dealer.objects.order_by("id").values_list("id", "code"))
        brand_ids = list(Brand.objects.order_by("id").values_list("id", flat=True))
        customers = Customer.objects.count()
        if DedupSettings.objects.exclude(auto_merge_above=None).exists():
            sys.exit("A dealer has an auto-merge threshold: this would merge customers. Stopped.")
        if not args.keep:
            # A raw delete: the queue's rows only (no merge in the benchmark refers to them).
            queue = DuplicateCandidate.objects.all()
            queue._raw_delete(queue.db)
    print(
        f"{connection.vendor}: {customers:,} customers, {len(dealers)} dealers, "
        f"{len(brand_ids)} brand(s); seeded second records: {seeded or 'none'}",
        flush=True,
    )
    passes = []
    for n in range(args.repeat):
        print(f"pass {n + 1}", flush=True)
        result = one_pass(dealers, brand_ids)
        print(
            f"  total {result['seconds']:.1f} s (within dealers {result['within_dealers_seconds']}"
            f" s, across {result['across_dealers_seconds']} s)",
            flush=True,
        )
        passes.append(result)
    print(
        json.dumps(
            {
                "benchmark": "duplicates_scan",
                "engine": connection.vendor,
                "customers": customers,
                "dealers": len(dealers),
                "seeded_second_records": seeded,
                "goal_seconds": GOAL_SECONDS,
                "passes": passes,
                "machine": machine(),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
