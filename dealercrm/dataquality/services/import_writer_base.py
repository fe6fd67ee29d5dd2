"""The contract between the import engine and each kind's writer (see import_writers.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import connection, models
from django.utils import timezone

from dealercrm.core.bulk import BulkWriter
from dealercrm.dataquality.models import ImportRun


@dataclass(slots=True)
class CleanRow:
    """One data row: its spreadsheet line number, its cells as read (in header order), the clean
    values {field name: value} from clean_row, and what the writer's `prepare` added.

    `packed` holds the cells, as a list or (from the worker process) pickled into one bytes
    object: they are needed only for a row that ends in error, and a dozen small strings per
    row would cost more to move between the processes than anything else in the row.
    """

    row_number: int
    packed: list[str] | bytes
    clean: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cells(self) -> list[str]:
        if isinstance(self.packed, bytes):
            return pickle.loads(self.packed)  # noqa: S301 — written by our own worker process
        return self.packed


@dataclass(slots=True)
class RowOutcome:
    """What became of one row. ERROR outcomes name the field (may be "") and the reason.

    `notes` are what an imported row lost or did not take, as (field name, reason): a car model
    the catalogue does not know, say. The row keeps its outcome; the engine keeps each note as
    an issue row with the row's cells, so the report shows what the file said.
    """

    row_number: int
    outcome: str  # an ImportOutcome value
    customer_id: int | None = None
    vehicle_id: int | None = None
    record_id: int | None = None
    field: str = ""
    reason: str = ""
    # (`field` above shadows dataclasses.field in the class body.)
    notes: list[tuple[str, str]] = dataclasses.field(default_factory=list)


class BatchIds:
    """Primary keys for the rows a batch inserts, reserved in one query per model.

    PostgreSQL: drawn from the table's identity sequence (`nextval` over generate_series), so a
    user saving a customer while the import runs can never take the same id. SQLite: the batch's
    transaction holds the write lock from BEGIN (transaction_mode IMMEDIATE; the engine's first
    statement is a write otherwise), so MAX(id) + 1 … is ours until the commit.
    """

    def take(self, model: type[models.Model], count: int) -> list[int]:
        if count <= 0:
            return []
        table = model._meta.db_table
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, count],
                )
                return [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT MAX(id) FROM {connection.ops.quote_name(table)}")
            (max_id,) = cursor.fetchone()
        first = (max_id or 0) + 1
        return list(range(first, first + count))


@dataclass
class BatchContext:
    """What a writer gets for one batch (one transaction).

    `seen` is for matching rows to earlier rows of the same batch ({key kind: {key: record}});
    it starts empty for every batch, since earlier batches are committed and found by the
    database queries — so memory stays flat on a file of any size, and a resumed run behaves
    exactly like an uninterrupted one. `cache` lives for the whole run (look-up tables such as
    the car catalogue).
    """

    dealer_id: int
    run: ImportRun
    now: dt.datetime
    bulk: BulkWriter
    ids: BatchIds
    seen: dict[str, dict[Any, Any]]
    cache: dict[str, Any]
    actor_id: int | None = None

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.now)


class KindWriter(Protocol):
    """One import kind's database writes."""

    kind: str

    def prepare(self, clean: dict[str, Any]) -> dict[str, Any]:
        """Costly pure work on one clean row, run in the worker process (no database access):
        returns the row's `extra`. Return {} when there is nothing to do."""
        ...

    def write_batch(self, ctx: BatchContext, rows: list[CleanRow]) -> list[RowOutcome]:
        """Write the batch set-based; one RowOutcome per row. A database error (IntegrityError,
        DataError) may propagate: the engine then retries the batch row by row and makes the
        failing row an ERROR naming the database's reason."""
        ...
