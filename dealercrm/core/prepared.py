"""Prepared queries: build and compile an ORM query once, then run its SQL with new values.

Building a QuerySet and compiling it to SQL costs the ORM about a millisecond, often more than
the database's answer (the customer 360 page ran 15 such queries per view). A query whose shape
never changes, only its values, can skip that work after the first time:

    newest_orders = PreparedQuery(
        lambda dealer_id, customer_id: Order.objects.filter(
            dealer_id=dealer_id, customer_id=customer_id
        ).order_by("-created_at").values("id", "created_at"),
        params={"dealer_id": int, "customer_id": int},
    )
    rows = newest_orders(dealer_id=3, customer_id=42, limit=20)  # [{"id": …, "created_at": …}]

The builder is called once per "shape" (the keyword arguments not in `params`, and which of
`params` are given) with stand-in values for `params`; later calls run the cached SQL with the
real values put where the stand-ins were, and convert the results as the ORM would (dates,
times, booleans, JSON). The builder returns a `.values()` query (rows come back as dicts) or a
model query (model instances, with their select_related objects and annotations; no
prefetch_related), and uses each parameter only as a plain value. `limit` is a parameter of
every prepared query (None: all rows); the builder does not slice.

On PostgreSQL the query is also prepared on the server (psycopg's prepared statements, one per
shape and connection), which saves the planning: 3 ms of the timeline's 17-table UNION ALL,
against 1 ms to run it. Django turns those off for connection poolers in transaction mode
(PgBouncer before 1.21); behind one, set DB_PREPARED_STATEMENTS=0.

Tenancy: the query is compiled in a network-wide scope, so no request's dealer filter is
frozen into the cached SQL; a `dealer_id` parameter is therefore required, and every call checks
that the active scope allows that dealer (tenancy fails closed, as with the managers).

django-prepared-queries did the same years ago but is not kept for current Django; this is
small, and the 360 page's benchmark shows its worth (docs/benchmarks.md).
"""

from __future__ import annotations

import datetime
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import connections, router
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, get_related_populators

from .tenancy import DealerScope, dealer_scope, require_scope

try:  # psycopg 3, through Django's cursor of server-side binding
    from django.db.backends.postgresql.base import ServerBindingCursor as _psycopg_cursor
except (ImportError, ImproperlyConfigured):  # no PostgreSQL driver: SQLite only
    _psycopg_cursor = None

# Stand-ins: values no real query uses, one per parameter, of the parameter's type.
_INT_STAND_IN = -7_340_912_000_000
_TIME_STAND_IN = datetime.datetime(1901, 2, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)
_DATE_STAND_IN = datetime.date(1901, 3, 5)


@dataclass(frozen=True)
class _Compiled:
    alias: str
    sql: str
    params: tuple  # the compiled parameters; the stand-ins' positions are in `slots`
    slots: tuple[tuple[int, str], ...]  # (position in params, parameter name)
    compiler: Any
    converters: dict
    make: Callable[[list], Any]  # a converted row -> a dict or a model instance


class PreparedQuery:
    def __init__(
        self,
        build: Callable[..., QuerySet],
        *,
        params: dict[str, type[int] | type[datetime.datetime] | type[datetime.date]],
    ) -> None:
        if "dealer_id" not in params:
            raise ValueError("A prepared query needs a dealer_id parameter, to check the scope.")
        self.build = build
        self.params = dict(params)
        # Per thread: a compiled query keeps its thread's connection (Django's are per thread).
        self._local = threading.local()

    def __call__(self, *, limit: int | None = None, **kwargs: Any) -> list[Any]:
        scope = require_scope()
        if not scope.allows(kwargs["dealer_id"]):
            raise PermissionDenied("This dealer's rows are outside the current scope.")
        # The shape: the other arguments, which parameters are given (an optional one, such as a
        # `before` time, adds a filter), and whether there is a limit.
        shape = tuple(sorted((k, v) for k, v in kwargs.items() if k not in self.params)) + (
            tuple(sorted(k for k in kwargs if k in self.params)),
            limit is not None,
        )
        cache = self._local.__dict__.setdefault("compiled", {})
        compiled = cache.get(shape)
        if compiled is None or connections[compiled.alias] is not compiled.compiler.connection:
            compiled = cache[shape] = self._compile(shape)  # new, or the databases changed
        connection = compiled.compiler.connection
        params = list(compiled.params)
        for position, name in compiled.slots:
            params[position] = self._adapt(connection, name, kwargs[name])
        if limit is not None:
            params.append(limit)
        with preparing_cursor(connection) as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = compiled.compiler.apply_converters(rows, compiled.converters)
        return [compiled.make(row) for row in rows]

    def _adapt(self, connection: Any, name: str, value: Any) -> Any:
        if self.params[name] is datetime.datetime:
            return connection.ops.adapt_datetimefield_value(value)
        if self.params[name] is datetime.date:
            return connection.ops.adapt_datefield_value(value)
        return value

    def _compile(self, shape: tuple) -> _Compiled:
        *other, given, limited = shape
        stand_ins: dict[str, Any] = {}
        for number, (name, kind) in enumerate(self.params.items()):
            if name not in given:
                continue
            if kind is datetime.datetime:
                stand_ins[name] = _TIME_STAND_IN + datetime.timedelta(seconds=number)
            elif kind is datetime.date:
                stand_ins[name] = _DATE_STAND_IN + datetime.timedelta(days=number)
            elif kind is int:
                stand_ins[name] = _INT_STAND_IN - number
            else:
                raise TypeError(f"{name}: a prepared query's parameter is an int, date or datetime")
        with dealer_scope(DealerScope.everything()):
            queryset = self.build(**stand_ins, **dict(other))
        if queryset._prefetch_related_lookups or queryset._known_related_objects:
            raise TypeError("A prepared query cannot prefetch or attach related objects.")
        if queryset.query.is_sliced or queryset.query.select_for_update:
            raise TypeError("A prepared query's builder must not slice or lock: pass `limit`.")
        alias = queryset.db or router.db_for_read(queryset.model)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        by_value = {self._adapt(compiler.connection, n, v): n for n, v in stand_ins.items()}
        slots = tuple(
            (position, by_value[value])
            for position, value in enumerate(params)
            if isinstance(value, (int, str, datetime.date)) and value in by_value
        )
        missing = set(stand_ins) - {name for _, name in slots}
        if missing:
            raise ValueError(f"Parameters {sorted(missing)} are not plain values of the query.")
        for value in stand_ins.values():
            if isinstance(value, int) and str(abs(value)) in sql:
                raise ValueError("A parameter was written into the SQL text; it cannot vary.")
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        if limited:
            sql += " LIMIT %s"  # a parameter, not text: one statement whatever the limit
        return _Compiled(
            alias=alias,
            sql=sql,
            params=tuple(params),
            slots=slots,
            compiler=compiler,
            converters=compiler.get_converters(fields),
            make=(
                _instances(compiler, alias)
                if queryset._iterable_class is ModelIterable
                else _dicts(queryset)
            ),
        )


def preparing_cursor(connection: Any) -> Any:
    """For hand-written SQL run on every keystroke or page: a cursor that prepares each
    statement on a PostgreSQL server (when DB_PREPARED_STATEMENTS is on); Django's own cursor
    elsewhere. Its parameters are bound on the server, so each needs a type PostgreSQL can
    infer or a cast."""
    if connection.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS:
        return connection.cursor()
    # Django's own cursor binds in the client and so cannot prepare: this one binds on the
    # server, wrapped as Django wraps its own (query log, error translation).
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        # Django sets None: psycopg then prepares nothing, asked or not. Asked only: Django's
        # own cursors bind in the client and never prepare.
        connection.connection.prepare_threshold = 2**31
    cursor = _PreparingCursor(connection.connection)
    if connection.queries_logged:
        cursor.shown_by = connection.ops
    with connection.wrap_database_errors:
        return connection._prepare_cursor(cursor)


if _psycopg_cursor is not None:

    class _PreparingCursor(_psycopg_cursor):  # type: ignore[misc, valid-type]
        shown_by: Any = None  # the connection's ops, when Django logs the queries

        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            result = super().execute(query, params, prepare=True)
            if self.shown_by is not None:
                # Django's query log reads the query from here (it cannot show a prepared
                # statement's): the SQL with its values, as Django shows its own.
                self._query = SimpleNamespace(
                    query=self.shown_by.compose_sql(query, params).encode()
                )
            return result


def _dicts(queryset: QuerySet) -> Callable[[list], dict]:
    """Rows of a .values() query as its dicts: the columns are extra, fields, annotations."""
    query = queryset.query
    names = tuple(itertools.chain(query.extra_select, query.values_select, query.annotation_select))
    return lambda row: dict(zip(names, row, strict=True))


def _instances(compiler: Any, alias: str) -> Callable[[list], Any]:
    """Rows of a model query as instances, as Django's ModelIterable builds them."""
    select, klass_info = compiler.select, compiler.klass_info
    model = klass_info["model"]
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    init_list = [column[0].target.attname for column in select[start:end]]
    populators = get_related_populators(klass_info, select, alias)
    annotations = list(compiler.annotation_col_map.items())

    def make(row: list) -> Any:
        instance = model.from_db(alias, init_list, row[start:end])
        for populator in populators:
            populator.populate(row, instance)
        for name, position in annotations:
            setattr(instance, name, row[position])
        return instance

    return make
