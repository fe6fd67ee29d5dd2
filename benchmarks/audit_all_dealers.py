"""The data-quality audit of every dealer of a brand for one month (goal < 60 s over 1,000,000
customers). Runs against an existing demo database, whichever the environment names:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_1m uv run python benchmarks/audit_all_dealers.py
    DEALERCRM_VAR_DIR=/tmp/bench_1m_sqlite uv run python benchmarks/audit_all_dealers.py

It times `audit_run` (one aggregate query per table, GROUP BY dealer_id) for the brand with the
most customers, --repeat times, and each table's pass on its own; with --explain it prints the
PostgreSQL plan of each pass. The run writes only its own DealerAuditScore rows (one per dealer
for the month), which --keep leaves in place and otherwise removes (the month's rows that were
there before are put back). Prints one JSON line for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402

from benchmarks.demo_generation import machine  # noqa: E402
from dealercrm.core.models import Dealer  # noqa: E402
from dealercrm.core.tenancy import DealerScope, dealer_scope  # noqa: E402
from dealercrm.customers.models import Customer  # noqa: E402
from dealercrm.dataquality.models import DealerAuditScore  # noqa: E402
from dealercrm.dataquality.services.audit import (  # noqa: E402
    AUDIT_WORK_MEM,
    _aggregate_sql,
    audit_run,
    bind,
    month_start,
    period_values,
    policy_for_brand,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period", default=None, help="YYYY-MM (default: this month)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the month's scores written")
    args = parser.parse_args()
    period = (
        dt.datetime.strptime(args.period, "%Y-%m").date()  # noqa: DTZ007
        if args.period
        else month_start(dt.date.today())  # noqa: DTZ011
    )
    with dealer_scope(DealerScope.everything()):
        by_dealer = dict(
            Customer.objects.unscoped()
            .filter(is_deleted=False)
            .values_list("dealer_id")
            .annotate(n=Count("id"))
            .values_list("dealer_id", "n")
        )
        brands: dict[int, int] = {}
        for dealer_id, brand_id in Dealer.objects.values_list("pk", "brand_id"):
            brands[brand_id] = brands.get(brand_id, 0) + by_dealer.get(dealer_id, 0)
        brand_id = max(brands, key=brands.get)
        dealers = Dealer.objects.filter(brand_id=brand_id, is_active=True).count()
        before = list(
            DealerAuditScore.objects.unscoped().filter(period=period, dealer__brand_id=brand_id)
        )
        policy = policy_for_brand(brand_id)
        checks = policy.checks()
        tables: dict[str, float] = {}
        values = {**period_values(period), "brand": brand_id, "true": True, "dealer": 0}
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"SET LOCAL work_mem = '{AUDIT_WORK_MEM}'")  # as audit_run does
            for table in ("customer", "phone", "vehicle", "order"):
                table_checks = [c for c in checks if c.table == table]
                sql, params = bind(_aggregate_sql(table, table_checks), values)
                if args.explain and connection.vendor == "postgresql":
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                    print(f"--- {table}", file=sys.stderr)
                    print("\n".join(r[0] for r in cursor.fetchall()), file=sys.stderr)
                started = time.perf_counter()
                cursor.execute(sql, params)
                cursor.fetchall()
                tables[table] = round(time.perf_counter() - started, 2)
        runs = []
        for _n in range(args.repeat):
            started = time.perf_counter()
            rows = audit_run(brand_id=brand_id, period=period)
            runs.append(round(time.perf_counter() - started, 2))
        audited = sum(r.customers for r in rows)
        if not args.keep:
            DealerAuditScore.objects.unscoped().filter(
                period=period, dealer__brand_id=brand_id
            ).delete()
            DealerAuditScore.objects.bulk_create(before)
    print(
        json.dumps(
            {
                "benchmark": "audit_all_dealers",
                "engine": connection.vendor,
                "period": f"{period:%Y-%m}",
                "dealers": dealers,
                "customers_audited": audited,
                "checks": len(checks),
                "seconds": runs,
                "best_seconds": min(runs),
                "goal_seconds": 60,
                "table_pass_seconds": tables,
                "machine": machine(),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
