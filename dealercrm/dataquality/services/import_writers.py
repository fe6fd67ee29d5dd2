"""What one import kind implements (KindWriter, in import_writer_base), and the registry of
writers: customers and vehicles (import_writers_customers), sales and repair orders
(import_writers_sales).

The engine (import_engine.py) reads a batch of rows and cleans them in a worker process
(normalise.clean_row, then the writer's `prepare`: encryption, pinyin, VIN decoding), then hands
the clean rows to the kind's writer inside the batch's transaction. A writer matches the rows to
existing records set-based (one query per key kind per batch), matches rows to earlier rows of
the same batch with `ctx.seen` (earlier batches are committed, so the database finds them),
writes with `ctx.bulk` using ids from `ctx.ids`, and returns exactly one RowOutcome per row.
Rows whose clean_row reported errors never reach the writer (the engine makes them ERROR rows).

Registry: WRITERS at the bottom of this module, keyed by ImportKind value. Helper modules add
their kinds with one line there.
"""

from __future__ import annotations

from .import_writer_base import BatchContext, BatchIds, CleanRow, KindWriter, RowOutcome
from .import_writers_customers import CustomerVehicleWriter

__all__ = [
    "WRITERS",
    "BatchContext",
    "BatchIds",
    "CleanRow",
    "CustomerVehicleWriter",
    "KindWriter",
    "RowOutcome",
]

WRITERS: dict[str, KindWriter] = {
    "customers": CustomerVehicleWriter("customers", creates_customers=True),
    "vehicles": CustomerVehicleWriter("vehicles", creates_customers=False),
}
from . import import_writers_sales  # noqa: E402, F401 — registers "sales" and "repair_orders"
