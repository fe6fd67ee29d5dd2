"""The sales entries of the customer 360 timeline: one provider per topic, each one query.

Providers are registered in hooks.register(); each topic's selectors module implements its own.
"""

from __future__ import annotations

from .selectors.leads import activity_timeline, lead_event_times, lead_timeline
from .selectors.orders import order_timeline
from .selectors.test_drives import test_drive_timeline

__all__ = [
    "activity_timeline",
    "lead_event_times",
    "lead_timeline",
    "order_timeline",
    "test_drive_timeline",
]
