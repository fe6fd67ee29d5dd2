"""Service entries on the customer 360 timeline: appointments, repair orders, recall notices,
rescues. One query per provider (the 360 page's query count stays fixed).

Each topic's selectors module implements its provider; hooks.register() registers them.
"""

from __future__ import annotations

from .selectors.appointments import appointment_timeline
from .selectors.repair_orders import repair_order_timeline

__all__ = ["appointment_timeline", "repair_order_timeline"]
