"""The customer timeline: one list of everything that happened with a customer, newest first.

Each app that keeps something worth showing on the customer 360 page (interactions here;
vehicles, leads, service visits, complaints, surveys, points later) contributes through one
small interface:

1. Write a provider: a callable ``provider(customer, *, limit, before) -> list[TimelineEntry]``
   that returns at most ``limit`` entries of the customer, newest first, all with
   ``occurred_at < before`` when ``before`` is given. It must run ONE query (select_related
   what it shows), filter by ``customer.dealer_id`` as well as the customer, and set
   ``occurred_at`` to an aware datetime (a date becomes midnight in the current time zone).
   The 360 page then costs one query per provider whatever the length of the history.
2. Register it once, in the app's ``AppConfig.ready()``::

       from dealercrm.customers.timeline import register_timeline_provider
       register_timeline_provider(vehicle_timeline)

``customer_timeline(customer, limit=50, before=None)`` merges the providers' entries; the page's
"older" link passes the last entry's ``occurred_at`` as ``before``. Titles and bodies are plain
text (templates escape them); ``url`` links the entry to its page.

3. Optionally, when the provider's entries are exactly the customer's rows of one model, one
   entry per row at one datetime column (the model filtered by ``dealer_id`` and ``customer_id``
   and nothing else), say so: ``register_timeline_provider(task_timeline,
   rows=TimelineRows(Task, "created_at"))``. The timeline then first reads, in one query for all
   such providers, the times of the newest ``limit`` rows, and asks only the providers that hold
   some of them, each for as many as it holds. Most customers have entries from a few sources,
   so the 360 page runs a few queries instead of one per provider (the ORM's building of each
   query costs more than the database's answer).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.db import connection, models

if TYPE_CHECKING:
    from .models import Customer


@dataclass(frozen=True)
class TimelineEntry:
    """One event on the timeline."""

    occurred_at: datetime.datetime
    kind: str  # "note", "call", "vehicle_purchase" … machine-readable
    icon: str  # a Tabler icon name without the "ti-" prefix: "note", "phone", "car"
    title: str
    body: str = ""
    actor: str = ""  # who did it, as shown (display name), "" when nobody in particular
    url: str = ""  # the entry's own page, "" when it has none
    source: str = ""  # the app that contributed it: "customers", "vehicles" …


class TimelineProvider(Protocol):
    def __call__(
        self, customer: Customer, *, limit: int, before: datetime.datetime | None
    ) -> list[TimelineEntry]: ...


@dataclass(frozen=True)
class TimelineRows:
    """A provider's entries are `model`'s rows of the customer, one each, at `column`."""

    model: type[models.Model]
    column: str  # a non-null DateTimeField

    def __post_init__(self) -> None:
        field = self.model._meta.get_field(self.column)
        names = {f.name for f in self.model._meta.fields}
        if not isinstance(field, models.DateTimeField) or field.null:
            raise ValueError(f"{self.model.__name__}.{self.column}: not a non-null datetime")
        if not {"dealer", "customer"} <= names:
            raise ValueError(f"{self.model.__name__}: no dealer and customer to filter by")

    def sql(self, place: int, *, before: bool) -> str:
        """The rows' times, tagged with the provider's place in the order (`place`); params: dealer,
        customer (and before)."""
        quote = connection.ops.quote_name
        meta = self.model._meta
        column = quote(meta.get_field(self.column).column)
        where = f"{quote('dealer_id')} = %s AND {quote('customer_id')} = %s"
        if before:
            where += f" AND {column} < %s"
        return (
            f"SELECT {place} AS place, {column} AS occurred, {quote(meta.pk.column)} AS row_id"  # noqa: S608
            f" FROM {quote(meta.db_table)} WHERE {where}"
        )


_providers: list[Callable[..., list[TimelineEntry]]] = []
_rows: dict[Callable[..., list[TimelineEntry]], TimelineRows] = {}


def register_timeline_provider(
    provider: TimelineProvider, *, rows: TimelineRows | None = None
) -> TimelineProvider:
    """Add a provider (once: registering the same callable again does nothing); `rows`: see
    point 3 of the module's docstring."""
    if provider not in _providers:
        _providers.append(provider)
    if rows is not None:
        _rows[provider] = rows
    return provider


def unregister_timeline_provider(provider: TimelineProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)
    _rows.pop(provider, None)


def timeline_providers() -> tuple[TimelineProvider, ...]:
    return tuple(_providers)


def customer_timeline(
    customer: Customer, *, limit: int = 50, before: datetime.datetime | None = None
) -> list[TimelineEntry]:
    """The customer's newest `limit` entries (older than `before`) across every provider."""
    held = _newest_rows(customer, limit=limit, before=before)
    entries: list[TimelineEntry] = []
    for provider in _providers:
        # Providers of rows are asked for as many as they hold of the newest; the others for all.
        wanted = held.get(provider, 0) if provider in _rows else limit
        if wanted:
            entries.extend(provider(customer, limit=wanted, before=before))
    # Stable: equal times keep the providers' order, as in _newest_rows.
    entries.sort(key=lambda entry: entry.occurred_at, reverse=True)
    return entries[:limit]


def _newest_rows(
    customer: Customer, *, limit: int, before: datetime.datetime | None
) -> dict[Callable[..., list[TimelineEntry]], int]:
    """How many of the newest `limit` rows of the row providers each one holds: one query.

    The newest `limit` entries of all providers are among these, so asking each row provider
    for its share loses nothing."""
    sources = [(place, p) for place, p in enumerate(_providers) if p in _rows]
    if not sources or limit <= 0:
        return {}
    branches, params = [], []
    for place, provider in sources:
        branches.append(_rows[provider].sql(place, before=before is not None))
        params += [customer.dealer_id, customer.pk]
        if before is not None:
            params.append(connection.ops.adapt_datetimefield_value(before))
    sql = (
        f"SELECT place FROM ({' UNION ALL '.join(branches)}) timeline_rows"  # noqa: S608
        " ORDER BY occurred DESC, place, row_id DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        places = [place for (place,) in cursor.fetchall()]
    return {_providers[place]: places.count(place) for place in set(places)}
