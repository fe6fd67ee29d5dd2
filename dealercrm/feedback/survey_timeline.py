"""Survey invitations and responses on the customer 360 timeline (one query)."""

from __future__ import annotations

import datetime

from dealercrm.customers.timeline import TimelineEntry


def survey_timeline(
    customer,  # noqa: ANN001 — a customers.Customer
    *,
    limit: int,
    before: datetime.datetime | None,
) -> list[TimelineEntry]:
    return []
