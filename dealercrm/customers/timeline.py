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

``customer_timeline(customer, limit=50, before=None)`` asks every provider for ``limit`` entries
and merges them; the page's "older" link passes the last entry's ``occurred_at`` as ``before``.
Titles and bodies are plain text (templates escape them); ``url`` links the entry to its page.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

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


_providers: list[Callable[..., list[TimelineEntry]]] = []


def register_timeline_provider(provider: TimelineProvider) -> TimelineProvider:
    """Add a provider (once: registering the same callable again does nothing)."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def unregister_timeline_provider(provider: TimelineProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def timeline_providers() -> tuple[TimelineProvider, ...]:
    return tuple(_providers)


def customer_timeline(
    customer: Customer, *, limit: int = 50, before: datetime.datetime | None = None
) -> list[TimelineEntry]:
    """The customer's newest `limit` entries (older than `before`) across every provider."""
    entries: list[TimelineEntry] = []
    for provider in _providers:
        entries.extend(provider(customer, limit=limit, before=before))
    entries.sort(key=lambda entry: entry.occurred_at, reverse=True)
    return entries[:limit]
