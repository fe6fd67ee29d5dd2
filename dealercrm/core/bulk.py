"""Set-based writes for the demo generator and imports: rows as tuples, one path per engine.

Ids are assigned in Python (IdAllocator) or, when `fields` leave out the primary key, by the
database.

SQLite gets `executemany` on the raw connection inside the caller's transaction; PostgreSQL gets
COPY (psycopg 3 `cursor.copy`). Values are plain Python (int, str, bool, None) with dates and
datetimes already formatted as text, so one tuple suits both engines: Django keeps SQLite dates as
ISO text and datetimes as UTC 'YYYY-MM-DD HH:MM:SS', and a PostgreSQL connection of Django runs
in UTC, so the same text means the same instant there.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.management.color import no_style
from django.db import connection, models


def to_db(value: Any) -> Any:
    """A Python value as the generator writes it (see the module docstring)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@dataclass(frozen=True)
class TableSpec:
    """How rows given as `fields` go into a model's table, with the other columns' defaults."""

    table: str
    columns: tuple[str, ...]
    extra: tuple[Any, ...]  # values of the columns the generator does not give

    @property
    def column_list(self) -> str:
        return ", ".join(connection.ops.quote_name(c) for c in self.columns)


class BulkWriter:
    """Inserts tuples into model tables; `fields` are attnames (`dealer_id`, `customer_id` …)."""

    def __init__(self, *, now: dt.datetime) -> None:
        self.vendor = connection.vendor
        self.now = now
        self._specs: dict[tuple[type[models.Model], tuple[str, ...]], TableSpec] = {}
        self.counts: dict[str, int] = {}
        self.seconds: dict[str, float] = {}  # time spent writing, per model (for profiling)

    def spec(self, model: type[models.Model], fields: Sequence[str]) -> TableSpec:
        key = (model, tuple(fields))
        spec = self._specs.get(key)
        if spec is None:
            spec = self._specs[key] = self._build_spec(model, tuple(fields))
        return spec

    def _build_spec(self, model: type[models.Model], fields: tuple[str, ...]) -> TableSpec:
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        unknown = [f for f in fields if f not in by_attname]
        if unknown:
            raise ValueError(f"{model._meta.label} has no fields {unknown}")
        columns = [by_attname[f].column for f in fields]
        extra = []
        # Fields added to the model later get their default, so the generator keeps working.
        for attname, field in by_attname.items():
            if attname in fields or field.primary_key:
                continue  # a primary key not given is the database's to assign
            if isinstance(field, models.DateTimeField) and (
                field.auto_now
                or field.auto_now_add
                or (field.has_default() and callable(field.default))
            ):
                value: Any = self.now  # created_at, updated_at, default=timezone.now
            elif field.has_default():
                value = field.get_default()
            elif field.null:
                value = None
            elif isinstance(field, models.CharField | models.TextField) and field.blank:
                value = ""
            else:
                raise ValueError(f"{model._meta.label}.{attname} needs a value from the generator")
            columns.append(field.column)
            extra.append(to_db(value))
        return TableSpec(model._meta.db_table, tuple(columns), tuple(extra))

    def write(self, model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple]) -> int:
        if not rows:
            return 0
        spec = self.spec(model, fields)
        if spec.extra and self.vendor == "postgresql":
            extra = spec.extra
            rows = [row + extra for row in rows]
        started = time.perf_counter()
        # The raw connection's errors as Django's (IntegrityError …), as callers expect.
        with connection.wrap_database_errors:
            if self.vendor == "postgresql":
                self._copy(spec, rows)
            else:
                self._executemany(spec, rows)
        label = model._meta.label
        self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started
        self.counts[label] = self.counts.get(label, 0) + len(rows)
        return len(rows)

    def _executemany(self, spec: TableSpec, rows: Iterable[tuple]) -> None:
        """Into an index-free TEMP table first, then one INSERT … SELECT into the real table.

        Measured (benchmarks/import_customers.py, 1.5 million search keys into a table with three
        indexes): executemany straight into the table 18.8 s, staged 9.6 s. Each executemany row
        is a statement of its own that seeks every index from its root; the INSERT … SELECT keeps
        its cursors open from row to row.
        """
        given = len(spec.columns) - len(spec.extra)
        connection.ensure_connection()
        raw = connection.connection
        # One staging table per target table and column count; IF NOT EXISTS is a no-op after the
        # first call on a connection (and, being no schema change, keeps prepared statements).
        stage = f"temp.bulk_stage_{spec.table}_{given}"
        columns = ", ".join(f"c{i}" for i in range(given))
        raw.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage[5:]} ({columns})")
        raw.execute(f"DELETE FROM {stage}")  # rows left by a write the database refused
        raw.executemany(f"INSERT INTO {stage} VALUES ({', '.join('?' * given)})", rows)
        # The columns the caller did not give are the same for every row: bound once here.
        defaults = "".join(", ?" * len(spec.extra))
        raw.execute(
            f"INSERT INTO {connection.ops.quote_name(spec.table)} ({spec.column_list}) "
            f"SELECT *{defaults} FROM {stage}",
            spec.extra,
        )
        raw.execute(f"DELETE FROM {stage}")

    def _copy(self, spec: TableSpec, rows: Iterable[tuple]) -> None:
        sql = f"COPY {connection.ops.quote_name(spec.table)} ({spec.column_list}) FROM STDIN"
        connection.ensure_connection()
        with connection.connection.cursor() as cursor, cursor.copy(sql) as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)


class IdAllocator:
    """Primary keys handed out by the generator, so child rows need no round-trip."""

    def __init__(self) -> None:
        self._next: dict[type[models.Model], int] = {}
        self.first: dict[type[models.Model], int] = {}
        # Set in a generating child process, which must not touch the parent's connection.
        self.offline = False

    def start(self, model: type[models.Model]) -> int:
        """The next free id of the model (read from the table on first use)."""
        if model not in self._next:
            if self.offline:
                raise RuntimeError(
                    f"{model._meta.label} is not in any ChunkGenerator.models: its ids were not "
                    "read before generation started."
                )
            table = connection.ops.quote_name(model._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT MAX(id) FROM {table}")
                (max_id,) = cursor.fetchone()
            self._next[model] = (max_id or 0) + 1
            self.first[model] = self._next[model]
        return self._next[model]

    def finish(self, model: type[models.Model], next_id: int) -> None:
        """Record how far the model's ids were used (next_id is the next free one)."""
        self._next[model] = next_id

    def reset_sequences(self) -> None:
        """PostgreSQL identity sequences behind the ids we assigned; SQLite needs nothing."""
        if connection.vendor != "postgresql" or not self._next:
            return
        statements = connection.ops.sequence_reset_sql(no_style(), list(self._next))
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _existing_indexes(model: type[models.Model]) -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, model._meta.db_table))


def restore_indexes(bulk_models: Sequence[type[models.Model]]) -> None:
    """Create any of the models' Meta.indexes that is missing (after a load, or a crashed one)."""
    editor = connection.schema_editor()
    with connection.cursor() as cursor:
        for model in bulk_models:
            existing = _existing_indexes(model)
            for index in model._meta.indexes:
                if index.name not in existing:
                    cursor.execute(str(index.create_sql(model, editor)))


@contextmanager
def indexes_deferred(bulk_models: Sequence[type[models.Model]]) -> Iterator[None]:
    """Load without the secondary structures that slow each row down; build them once after.

    A B-tree built from all rows at the end costs a fraction of millions of random inserts, and
    one join that validates a foreign key a fraction of a trigger call per row.
    - PostgreSQL: the tables' unique and foreign-key constraints and their other indexes are
      dropped and re-added from their own definitions (pg_get_constraintdef / indexdef). Run it
      inside a transaction: a failure then rolls the drops back too.
    - SQLite: Meta.indexes are dropped and re-created (unique constraints stay: SQLite could
      only re-add them by rebuilding the table); foreign-key checks are switched off for the
      load when no transaction is open, and every table is checked once at the end.
    """
    if connection.vendor == "postgresql":
        with _postgresql_deferred(bulk_models):
            yield
        return
    restore_indexes(bulk_models)
    with connection.cursor() as cursor:
        for model in bulk_models:
            for index in model._meta.indexes:
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(index.name)}")
    checks_off = connection.disable_constraint_checking()
    try:
        yield
    finally:
        if checks_off:
            connection.enable_constraint_checking()
        restore_indexes(bulk_models)
    if checks_off:
        connection.check_constraints(table_names=[m._meta.db_table for m in bulk_models])


@contextmanager
def _postgresql_deferred(bulk_models: Sequence[type[models.Model]]) -> Iterator[None]:
    tables = [m._meta.db_table for m in bulk_models]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f') "
            "ORDER BY 1, 2",
            [tables],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
            "ORDER BY 1",
            [tables],
        )
        indexes = cursor.fetchall()
        # ALTER TABLE is refused while deferred checks of this transaction are pending (rows of
        # the organisation, or a caller's): run them now, then defer again as Django expects.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        # Foreign keys first (they may lean on a unique constraint's index), then the rest.
        for table, name, _kind, _definition in sorted(constraints, key=lambda c: c[2] != "f"):
            cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {connection.ops.quote_name(name)}")
        for name, _definition in indexes:
            cursor.execute(f"DROP INDEX {name}")
    yield
    with connection.cursor() as cursor:
        # Raise the sort memory for the index builds of this transaction only.
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            cursor.execute(definition)
        for table, name, _kind, definition in sorted(constraints, key=lambda c: c[2] == "f"):
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}"
            )
