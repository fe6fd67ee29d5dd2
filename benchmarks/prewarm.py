"""PostgreSQL: read tables and their indexes into shared buffers before a benchmark measures.

A server's working set is in memory; a benchmark right after the load is not, and on this VM the
kernel's page cache does not keep the files for long, so the first query of each sample read
from disk and set the p95. This needs `shared_buffers` larger than those relations
(docs/benchmarks.md) and the pg_prewarm extension that ships with PostgreSQL.
"""

from __future__ import annotations

import time

from django.db import connection, models


def prewarm(models_or_tables: list[type[models.Model] | str]) -> None:
    if connection.vendor != "postgresql":
        return
    tables = [m if isinstance(m, str) else m._meta.db_table for m in models_or_tables]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute(
            "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c WHERE c.relname = ANY(%s) "
            "OR c.oid IN (SELECT indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
            "WHERE t.relname = ANY(%s))",
            [tables, tables],
        )
        blocks = cursor.fetchone()[0]
    print(
        f"prewarmed {blocks * 8 / 1024:,.0f} MB in {time.perf_counter() - started:.1f}s "
        f"(shared_buffers {shared_buffers})",
        flush=True,
    )
