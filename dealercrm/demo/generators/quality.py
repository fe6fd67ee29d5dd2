"""The data-quality audit in the demo: the brand's audit policy and rebate bands, and in the
finishing step the audit of the last 12 months, so the dashboard has a trend and a ranking.

It makes no rows per chunk: the audit reads what the other generators wrote (their missing
genders and ID numbers, second records the duplicate scan queued, late or odd readings), so the
dealers' scores differ as their data does. How much each dealer's data differs is its "data care"
(`data_care`): the customer and sales generators draw their slips at the dealer's rates, so the
ranking, the trend and the rebate bands have something to show.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .base import Chunk, ChunkGenerator, DemoContext, Rows

TREND_MONTHS = 12
# (from score, rebate %, label): the brand's published bands.
DEMO_BANDS = [(90, 100, "A"), (80, 80, "B"), (70, 50, "C"), (0, 0, "D")]
# Days to key a sale in after the handover: OEMs in China want retail sales reported within days.
DEMO_TIMELINESS_DAYS = 3
DEMO_REQUIRED_FIELDS = [
    "name",
    "phone",
    "gender",
    "birthday",
    "id_number",
    "email",
    "province",
    "city",
]


YEAR_DAYS = 365
# The power of the evenly spread care levels: above 1, more dealers at the sloppy end.
CARE_SPREAD = 2.0
# How a dealer's care moved over the last year: most held steady, some began to clean up their
# records, one or two let them slide.
CARE_CHANGES = (0.0, 0.0, 0.0, 0.05, -0.05, 0.15, 0.25, 0.35, -0.15, -0.25)


@dataclass(frozen=True)
class DataCare:
    """How carefully a dealer keeps its records: 0 the sloppiest of the network, 1 the most
    careful. `level` holds for records a year old or older, the bulk of its data; over the last
    year the care moves evenly by `change`, which the monthly trend shows."""

    level: float
    change: float

    def on(self, day: int, today: int) -> float:
        """The care the dealer took of a record it made on `day` (a day ordinal)."""
        recent = 1 - min(max(today - day, 0), YEAR_DAYS) / YEAR_DAYS
        return min(1.0, max(0.0, self.level + self.change * recent))


def care_rate(care: float, sloppy: float, careful: float) -> float:
    """The rate of something at a dealer of this care, between the sloppiest dealer's rate and
    the most careful one's."""
    return sloppy + (careful - sloppy) * care


def data_care(ctx: DemoContext) -> dict[int, DataCare]:
    """Each dealer's data care, by dealer id: the same for the same seed, in every process.

    The levels are spread over the network and dealt out by a shuffle (rather than drawn one by
    one), so every seed has careful and sloppy dealers and the audit's bands all occur. They lean
    to the sloppy end (CARE_SPREAD): few dealers keep their records really well.
    """
    found = ctx.state.get("data_care")
    if found is None:
        dealers = sorted(ctx.org.dealers, key=lambda d: d.code)
        rng = random.Random(f"dealercrm-demo/{ctx.seed}/data-care")
        steps = max(1, len(dealers) - 1)
        levels = [(index / steps) ** CARE_SPREAD for index in range(len(dealers))]
        rng.shuffle(levels)
        found = ctx.state["data_care"] = {}
        for dealer, level in zip(dealers, levels, strict=True):
            # A little jitter: care on an exact grid would show as evenly stepped scores.
            jittered = min(1.0, max(0.0, level + rng.uniform(-0.3, 0.3) / steps))
            found[dealer.id] = DataCare(level=jittered, change=rng.choice(CARE_CHANGES))
    return found


def generate_quality(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]:
    return []


def finish_quality(ctx: DemoContext) -> None:
    from dealercrm.core.models import User
    from dealercrm.core.tenancy import DealerScope, dealer_scope
    from dealercrm.dataquality.models.audit import DEFAULT_WEIGHTS
    from dealercrm.dataquality.services.audit import (
        audit_policy_save,
        audit_run_months,
        month_start,
        previous_months,
        rebate_bands_save,
    )

    admin_id = ctx.org.network_users.get("oem_admin")
    admin = User.objects.filter(pk=admin_id).first() if admin_id else None
    with dealer_scope(DealerScope.everything()):
        audit_policy_save(
            actor=admin,
            brand_id=ctx.org.brand_id,
            weights=DEFAULT_WEIGHTS,
            required_fields=DEMO_REQUIRED_FIELDS,
            timeliness_days=DEMO_TIMELINESS_DAYS,
        )
        rebate_bands_save(actor=admin, brand_id=ctx.org.brand_id, bands=DEMO_BANDS)
        months = previous_months(month_start(ctx.today), TREND_MONTHS)
        audit_run_months(brand_id=ctx.org.brand_id, periods=months)


QUALITY = ChunkGenerator(
    "quality",
    "search",
    generate_quality,
    (),
    finish=finish_quality,
    # Audits the duplicate queue; none of the fields it checks is changed by the other steps.
    finish_after=("duplicates",),
)
