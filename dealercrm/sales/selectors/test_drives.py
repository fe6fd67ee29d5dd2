"""Reads: test_drives."""

from __future__ import annotations

import datetime

from dealercrm.customers.timeline import TimelineEntry


def test_drive_timeline(
    customer, *, limit: int, before: datetime.datetime | None
) -> list[TimelineEntry]:  # noqa: ANN001
    """Timeline provider (one query). To be written."""
    return []
