"""The data-quality audit in the demo: the brand's audit policy and rebate bands, and in the
finishing step the audit of the last 12 months, so the dashboard has a trend and a ranking.

It makes no rows per chunk: the audit reads what the other generators wrote (their missing
genders and ID numbers, second records the duplicate scan queued, late or odd readings), so the
dealers' scores differ as their data does.
"""

from __future__ import annotations

import random

from .base import Chunk, ChunkGenerator, DemoContext, Rows

TREND_MONTHS = 12
# (from score, rebate %, label): the brand's published bands.
DEMO_BANDS = [(90, 100, "A"), (80, 80, "B"), (70, 50, "C"), (0, 0, "D")]
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


def generate_quality(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]:
    return []


def finish_quality(ctx: DemoContext) -> None:
    from dealercrm.core.models import User
    from dealercrm.core.tenancy import DealerScope, dealer_scope
    from dealercrm.dataquality.models.audit import DEFAULT_WEIGHTS
    from dealercrm.dataquality.services.audit import (
        audit_policy_save,
        audit_run,
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
            timeliness_days=7,
        )
        rebate_bands_save(actor=admin, brand_id=ctx.org.brand_id, bands=DEMO_BANDS)
        for month in previous_months(month_start(ctx.today), TREND_MONTHS):
            audit_run(brand_id=ctx.org.brand_id, period=month)


QUALITY = ChunkGenerator("quality", "search", generate_quality, (), finish=finish_quality)
