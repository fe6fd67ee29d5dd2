"""Messages on the customer timeline (filled in by the messaging UI work)."""

from __future__ import annotations

import datetime

from dealercrm.customers.timeline import TimelineEntry


def message_timeline(customer, *, limit: int, before: datetime.datetime | None) -> list[TimelineEntry]:  # noqa: ANN001
    return []
