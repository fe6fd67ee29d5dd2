"""Generators of the demo network, one module per app.

How a run goes (dealercrm.demo.runner.run_demo):

1. `org.build_org` makes the organisation through the ORM: brand, regions, dealer groups,
   12 dealers, departments, staff for every role, tags and the model catalogue. It returns an
   `Org` of plain facts (ids, staff per role, catalogue) for the chunk generators.
2. The customers are made in chunks of `CHUNK_SIZE`. For each chunk, every generator of
   `CHUNK_GENERATORS` runs in turn: it reads the facts earlier generators left on the `Chunk`
   (`chunk.customers`, `chunk.vehicles`, `chunk.extras`), adds its own, and returns `Rows`
   (model, attnames, tuples) which the runner writes at once, set-based (executemany on SQLite,
   COPY on PostgreSQL), in one transaction per chunk.

Adding a generator (leads, service visits, complaints …) takes three steps:

- write `dealercrm/demo/generators/<app>.py` with a function
  `generate(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]` and a
  `ChunkGenerator(name, stage, generate, models)` (models: the tables it fills); take ids with `ctx.ids.start(Model)` and hand back the
  next free one with `ctx.ids.finish(Model, next_id)`; format dates with `ctx.day(ordinal)` and
  timestamps with `ctx.moment(ordinal, minute_utc)`; draw randomness only from `rng` (seeded
  per generator name and chunk, so a new generator changes nothing another one makes);
- append it to `CHUNK_GENERATORS` below, after the generators whose facts it reads;
- give it a stage: one of `STAGES` (each stage is a progress bar), or a new one added there.

A generator may also have a `finish(ctx)` step, run with the database once everything is loaded
and indexed (totals, roll-ups, the care engine's first run). Give it `finish_after`: the
finishing steps whose results it reads. On PostgreSQL the steps that do not depend on each other
run at once on two connections, so an undeclared dependency would make the data differ from run
to run; without `finish_after` a step waits for every step before it.

Generation may run in a forked child process while the parent writes (see runner): a
generator must not touch the database; everything it needs is in `ctx` (org, pools, ids).

Rules: no ORM saves per row; no iteration over sets or dicts whose order is not fixed; no clock
(use `ctx.today`); every value plain (str, int, bool, None) so one tuple suits both engines.
"""

from __future__ import annotations

from .base import (
    CHUNK_SIZE,
    Chunk,
    ChunkGenerator,
    CustomerFacts,
    DemoContext,
    Org,
    Rows,
    VehicleFacts,
)
from .customers import CUSTOMERS, INTERACTIONS
from .duplicates import DUPLICATES
from .feedback import FEEDBACK
from .messaging import MESSAGES
from .quality import QUALITY
from .sales import SALES
from .search import SEARCH_KEYS
from .service import SERVICE
from .vehicles import MILEAGE, VEHICLES

# Progress bars, in order: (stage, label). Labels are translated by the command.
STAGES: tuple[str, ...] = ("customers", "vehicles", "history", "sales", "search", "service")

CHUNK_GENERATORS: tuple[ChunkGenerator, ...] = (
    CUSTOMERS,
    # Right after the customers: it turns some into second records (a name variant, another's
    # phone), and everything after it must write under the record's final name and phones.
    DUPLICATES,
    VEHICLES,
    # Right after the vehicles: its visits are the cars' readings (MILEAGE writes the rest) and
    # the messaging history's reminders follow them.
    SERVICE,
    INTERACTIONS,
    MILEAGE,
    MESSAGES,
    SALES,
    SEARCH_KEYS,
    # Complaints' handling and surveys: reads the service history's facts; its finishing step
    # (delivery surveys from the written orders, the score rollup) runs after the others'.
    FEEDBACK,
    QUALITY,  # last: its finishing step audits what every other generator wrote
)

# The foundation alone (what `dealercrm demo --foundation-only` makes): customers with their
# phones, consents and tags, vehicles and ownerships, mileage readings, interactions, and the
# search keys. No sales, service, messaging, feedback or data-quality history, and no finishing
# steps: the quickest network on which to try search and the customer 360 page at scale.
FOUNDATION_GENERATORS: tuple[ChunkGenerator, ...] = tuple(
    g for g in CHUNK_GENERATORS if g in (CUSTOMERS, VEHICLES, INTERACTIONS, MILEAGE, SEARCH_KEYS)
)

__all__ = [
    "CHUNK_GENERATORS",
    "FOUNDATION_GENERATORS",
    "CHUNK_SIZE",
    "STAGES",
    "Chunk",
    "ChunkGenerator",
    "CustomerFacts",
    "DemoContext",
    "Org",
    "Rows",
    "VehicleFacts",
]
