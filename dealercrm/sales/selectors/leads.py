"""Reads: leads."""

from __future__ import annotations

import datetime

from dealercrm.customers.timeline import TimelineEntry


def lead_timeline(customer, *, limit: int, before: datetime.datetime | None) -> list[TimelineEntry]:  # noqa: ANN001
    """Timeline provider (one query). To be written."""
    return []
