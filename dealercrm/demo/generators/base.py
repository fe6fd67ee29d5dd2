"""The pieces every generator shares: the run's context, a chunk of customers, the facts that
one generator leaves for the next, and the rows it hands back to be written."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from dealercrm.demo.bulk import IdAllocator

# Customers per chunk. Part of the definition of the data: the random streams are seeded per
# chunk, so changing it changes what a seed produces.
CHUNK_SIZE = 5000


@dataclass
class DealerFacts:
    """A demo dealer and the staff the generators assign work to."""

    id: int
    code: str
    province: str
    city: str
    plate_prefix: str
    weight: int
    districts: tuple[tuple[str, str], ...]
    consultants: tuple[int, ...] = ()
    advisors: tuple[int, ...] = ()
    care: tuple[int, ...] = ()
    manager: int | None = None
    tags: dict[str, int] = field(default_factory=dict)
    # Set by the org step's messaging setup: templates by key and what texts say of the dealer
    # (a generators.messaging.DealerMessaging).
    messaging: Any = None
    # Set by the org step's sales setup: demo cars, the sales policy, tax rules
    # (a generators.sales.DealerSales).
    sales: Any = None


@dataclass(frozen=True)
class ModelFacts:
    """A catalogue entry, as the vehicle generator needs it."""

    id: int
    make: str
    series: str
    code: str  # VIN position 4
    wmi: str
    body_type: str
    powertrain: str
    seats: int
    model_year: int
    is_brand: bool


@dataclass
class Org:
    """What the organisation generator made: the brand, its dealers, staff and catalogue."""

    brand_id: int
    dealers: list[DealerFacts]
    brand_models: list[ModelFacts]
    other_models: list[ModelFacts]
    network_users: dict[str, int]


@dataclass(slots=True)
class CustomerFacts:
    """One generated customer, with the plan the later generators follow."""

    id: int
    dealer: DealerFacts
    kind: str
    name: str
    latin_name: str
    gender: str
    stage: str
    source: str
    consultant_id: int | None
    first_contact: int  # day ordinal
    last_active: int  # day ordinal of the last contact with the dealer
    purchases: list[int]  # day ordinals of brand-car purchases, oldest first
    has_other_car: bool
    phones: list[str]
    id_number_hash: str
    lifestyle: list[str]
    children: int


@dataclass(slots=True)
class VehicleFacts:
    """One generated vehicle and its owner; mileage readings (day, km, source) for the history."""

    id: int
    dealer_id: int
    owner_id: int
    vin: str
    plate: str
    is_brand: bool
    delivery: int | None
    readings: list[tuple[int, int, str]]
    model_id: int = 0  # the catalogue entry (the sales generator quotes and orders it)


@dataclass
class Chunk:
    """A slice of the customers, generated and written together (one transaction on SQLite)."""

    index: int
    first: int  # ordinal of the first customer in the whole run
    size: int
    customers: list[CustomerFacts] = field(default_factory=list)
    vehicles: list[VehicleFacts] = field(default_factory=list)
    # For later generators: leave facts here for the ones after you (key by your name).
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rows:
    """Rows for one table: attnames and tuples in the same order."""

    model: type[models.Model]
    fields: Sequence[str]
    rows: list[tuple]


@dataclass(frozen=True)
class ChunkGenerator:
    """A generator of one app's rows for each chunk.

    name: seeds the generator's random stream; never rename one, or every seed changes.
    stage: the progress bar it advances ("customers", "vehicles", "history", "search").
    generate(ctx, chunk, rng) -> list[Rows]: reads the chunk's facts, appends its own facts for
    the generators after it, returns rows in insertion order (parents before children).
    models: every table it returns rows for (their ids are read before generation starts, and
    their indexes are built after the load).
    finish(ctx): optional, runs in the writing process once everything is written and indexed.
    finish_after: the generators whose finishing steps must have run before this one's, because
    it reads what they write (None: every generator before it in CHUNK_GENERATORS). On PostgreSQL, steps that do not depend on
    each other run at once on two connections (see runner), so declare every dependency.
    """

    name: str
    stage: str
    generate: Callable[[DemoContext, Chunk, random.Random], list[Rows]]
    models: tuple[type[models.Model], ...] = ()
    # Run once after the load, with the database (e.g. totals over what every chunk wrote).
    finish: Callable[[DemoContext], None] | None = None
    finish_after: tuple[str, ...] | None = None


class DemoContext:
    """One run: options, the organisation, word pools, id allocation and fixed dates."""

    def __init__(self, *, seed: int, today: dt.date, org: Org, pools: Any) -> None:
        self.seed = seed
        self.today = today
        self.today_ord = today.toordinal()
        self.org = org
        self.pools = pools
        self.ids = IdAllocator()
        # Shared state of generators across chunks (unique plates, VIN serials …), by name.
        self.state: dict[str, Any] = {}
        self._first_day = self.today_ord - 16 * 366
        self._days = [
            dt.date.fromordinal(o).isoformat()
            for o in range(self._first_day, self.today_ord + 12 * 366)
        ]

    def rng(self, name: str, chunk_index: int) -> random.Random:
        """The random stream of one generator for one chunk: independent of everything else."""
        return random.Random(f"dealercrm-demo/{self.seed}/{name}/{chunk_index}")

    def day(self, ordinal: int) -> str:
        """A day ordinal as ISO text (cached: the generator formats millions of dates)."""
        return self._days[ordinal - self._first_day]

    def moment(self, ordinal: int, minute: int) -> str:
        """A UTC timestamp: `minute` of the day in UTC (01:00–10:00 UTC is 9:00–18:00 in China)."""
        return f"{self._days[ordinal - self._first_day]} {minute // 60:02d}:{minute % 60:02d}:00"


def int_draw(rng: random.Random) -> Callable[..., int]:
    """`randrange(a)` / `randrange(a, b)` built on `random()`: ten times faster than randrange,
    which matters when a run draws hundreds of millions of numbers."""
    rand = rng.random

    def draw(a: int, b: int | None = None) -> int:
        if b is None:
            return int(rand() * a)
        return a + int(rand() * (b - a))

    return draw


def pick_from(rng: random.Random) -> Callable[[Sequence], Any]:
    """`choice` built on `random()` (see int_draw)."""
    rand = rng.random

    def pick(seq: Sequence) -> Any:
        return seq[int(rand() * len(seq))]

    return pick
