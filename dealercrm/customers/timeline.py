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

3. Say when its entries happen, so the timeline asks it only for what the page will show:
   ``register_timeline_provider(task_timeline, rows=TimelineRows(Task, "created_at"))`` when
   the entries are the customer's rows of one model, one per row at one datetime column (the
   model filtered by ``dealer_id`` and ``customer_id`` and nothing else); otherwise
   ``rows=TimelineQueries(build)``, where ``build(dealer_id, customer_id)`` returns querysets
   giving one row per entry with its time annotated as ``timeline_at`` (several entries per row:
   one queryset each; a date: ``local_midnight("column")``). The timeline first reads, in one
   query over all such providers, the times of the newest ``limit`` entries, and asks only the
   providers that hold some of them, each for as many as it holds. Most customers have entries
   from a few sources, so the 360 page runs a few queries instead of one per provider.
4. Run the provider's query through ``ProviderQuery(build)``: built and compiled once per shape,
   then only run (dealercrm.core.prepared). The ORM's building of a query costs more than the
   database's answer, and the page runs one per provider.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.db import models
from django.db.models import F, Value
from django.db.models.functions import Cast
from django.utils import timezone

from dealercrm.core.prepared import PreparedQuery

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

    # The page shows every entry's time twice; the date filter costs ~30 times more.
    @property
    def local_iso(self) -> str:
        """The time in the current time zone, ISO 8601 (as the date filter's "c")."""
        return timezone.localtime(self.occurred_at).isoformat()

    @property
    def local_minute(self) -> str:
        """The time in the current time zone, as "2026-11-23 09:30"."""
        return timezone.localtime(self.occurred_at).strftime("%Y-%m-%d %H:%M")


class TimelineProvider(Protocol):
    def __call__(
        self, customer: Customer, *, limit: int, before: datetime.datetime | None
    ) -> list[TimelineEntry]: ...


def fixed_utc_offset() -> datetime.timedelta | None:
    """The current time zone's offset from UTC when it has kept one since 2000 (China's has);
    None for zones with summer time, whose dates' midnights SQL cannot place simply."""
    return _fixed_offset_of(timezone.get_current_timezone())


@functools.cache
def _fixed_offset_of(zone: datetime.tzinfo) -> datetime.timedelta | None:
    offsets = {
        datetime.datetime(year, month, 1, 12, tzinfo=zone).utcoffset()
        for year in range(2000, 2061)
        for month in (1, 4, 7, 10)
    }
    return offsets.pop() if len(offsets) == 1 else None


def local_midnight(date_field: str) -> models.Expression:
    """A date column's midnight in the current time zone, as an aware datetime in SQL: what a
    provider shows as the time of a date (see `TimelineQueries`). Only with a fixed offset."""
    offset = fixed_utc_offset()
    if offset is None:
        raise ValueError("The time zone's offset varies; dates cannot be placed in SQL.")
    return models.ExpressionWrapper(
        Cast(date_field, models.DateTimeField()) - Value(offset),
        output_field=models.DateTimeField(),
    )


@dataclass(frozen=True)
class TimelineQueries:
    """When a provider's entries happened, for the first phase (point 3 of the docstring).

    `build(dealer_id, customer_id)` returns querysets that together give one row per entry of
    the customer, each with the entry's time annotated as ``timeline_at`` (exactly the entry's
    ``occurred_at``; a date through `local_midnight`). `uses_dates`: built with local_midnight,
    so only usable in a time zone with a fixed offset."""

    build: Callable[[int, int], list[models.QuerySet]]
    uses_dates: bool = False

    def querysets(self, dealer_id: int, customer_id: int) -> list[models.QuerySet]:
        return self.build(dealer_id, customer_id)

    def usable(self) -> bool:
        return not self.uses_dates or fixed_utc_offset() is not None


@dataclass(frozen=True)
class TimelineRows(TimelineQueries):
    """The common case: the entries are `model`'s rows of the customer, one each, at `column`."""

    model: type[models.Model] | None = None
    column: str = ""  # a non-null DateTimeField

    def __init__(self, model: type[models.Model], column: str) -> None:
        field = model._meta.get_field(column)
        names = {f.name for f in model._meta.fields}
        if not isinstance(field, models.DateTimeField) or field.null:
            raise ValueError(f"{model.__name__}.{column}: not a non-null datetime")
        if not {"dealer", "customer"} <= names:
            raise ValueError(f"{model.__name__}: no dealer and customer to filter by")

        def build(dealer_id: int, customer_id: int) -> list[models.QuerySet]:
            rows = model._default_manager.filter(dealer_id=dealer_id, customer_id=customer_id)
            return [rows.annotate(timeline_at=F(column))]

        object.__setattr__(self, "build", build)
        object.__setattr__(self, "uses_dates", False)
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "column", column)


class ProviderQuery:
    """A provider's one query, prepared: built and compiled once per shape, then only run
    (dealercrm.core.prepared; the ORM's building of a query costs more than its answer).

    `build(dealer_id, customer_id, before)` returns the customer's rows, newest first, before
    `before` when it is not None (a datetime, or what `bound` makes of it: a date for providers
    of dates); calling with the customer returns the first `limit` rows (model instances, or
    dicts for a .values() query), or all of them with limit=None."""

    def __init__(
        self,
        build: Callable[[int, int, object], models.QuerySet],
        *,
        bound: Callable[[datetime.datetime], object] | None = None,
    ) -> None:
        self._bound = bound
        before_type = datetime.date if bound is not None else datetime.datetime
        self._prepared = PreparedQuery(
            lambda dealer_id, customer_id, before=None: build(dealer_id, customer_id, before),
            params={"dealer_id": int, "customer_id": int, "before": before_type},
        )

    def __call__(
        self, customer: Customer, *, limit: int | None, before: datetime.datetime | None
    ) -> list:
        kwargs: dict = {"dealer_id": customer.dealer_id, "customer_id": customer.pk}
        if before is not None:
            kwargs["before"] = self._bound(before) if self._bound else before
        return self._prepared(**kwargs, limit=limit)


_providers: list[Callable[..., list[TimelineEntry]]] = []
_rows: dict[Callable[..., list[TimelineEntry]], TimelineQueries] = {}


def register_timeline_provider(
    provider: TimelineProvider, *, rows: TimelineQueries | None = None
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
    phased = _first_phase_places()
    held = _newest_rows(customer, phased, limit=limit, before=before)
    entries: list[TimelineEntry] = []
    for place, provider in enumerate(_providers):
        # The first phase's providers are asked for as many as they hold of the newest; the
        # others for all.
        wanted = held.get(place, 0) if place in phased else limit
        if wanted:
            entries.extend(provider(customer, limit=wanted, before=before))
    # Stable: equal times keep the providers' order, as in _newest_rows.
    entries.sort(key=lambda entry: entry.occurred_at, reverse=True)
    return entries[:limit]


def _first_phase_places() -> tuple[int, ...]:
    """The places (in the providers' order) of the providers that take part in the first phase
    now: those that said when their entries happen, and can say it in this time zone."""
    return tuple(place for place, p in enumerate(_providers) if p in _rows and _rows[p].usable())


def _newest_rows(
    customer: Customer, sources: tuple[int, ...], *, limit: int, before: datetime.datetime | None
) -> dict[int, int]:
    """How many of the newest `limit` entries each provider of the first phase holds (by its
    place): one query, prepared (compiled once per shape; see dealercrm.core.prepared).

    The newest `limit` entries of all providers are among these, so asking each of these
    providers for its share loses nothing."""
    if not sources or limit <= 0:
        return {}
    kwargs = {"dealer_id": customer.dealer_id, "customer_id": customer.pk}
    if before is not None:
        kwargs["before"] = before
    rows = _NEWEST_ENTRIES(
        **kwargs,
        limit=limit,
        sources=sources,
        providers=tuple(map(id, _providers)),  # a new registration, a new query
        offset=fixed_utc_offset(),
    )
    places = [row["timeline_place"] for row in rows]
    return {place: places.count(place) for place in set(places)}


def _build_newest_entries(
    dealer_id: int,
    customer_id: int,
    before: datetime.datetime | None = None,
    *,
    sources: tuple[int, ...],
    **_shape: object,
) -> models.QuerySet:
    branches = []
    for place in sources:
        # A provider may give several querysets (ownership: bought, delivered, handed on).
        for queryset in _rows[_providers[place]].querysets(dealer_id, customer_id):
            queryset = queryset.annotate(timeline_place=Value(place), timeline_row=F("pk"))
            if before is not None:
                queryset = queryset.filter(timeline_at__lt=before)
            # No ORDER BY inside a UNION's branch (a model's default ordering).
            branches.append(
                queryset.order_by().values("timeline_at", "timeline_place", "timeline_row")
            )
    newest = branches[0].union(*branches[1:], all=True) if len(branches) > 1 else branches[0]
    return newest.order_by("-timeline_at", "timeline_place", "-timeline_row")


_NEWEST_ENTRIES = PreparedQuery(
    _build_newest_entries,
    params={"dealer_id": int, "customer_id": int, "before": datetime.datetime},
)
