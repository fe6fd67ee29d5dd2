"""What other apps may hear about repair orders, without the service app knowing them.

The care engine's service-to-sales rule must alert a consultant the same hour a repair order
opens for a replacement candidate; the service app must not import care (import-linter), so care
registers a listener in its AppConfig.ready():

    from dealercrm.service.events import register_repair_order_listener
    register_repair_order_listener("opened", on_repair_order_opened)

A listener is `listener(repair_order_id: int, dealer_id: int) -> None`. `repair_order_opened` /
`repair_order_closed` call them on transaction commit (never inside the writer's transaction,
and never for imported history: bulk imports call `forecast_refresh` and the engine's sweep
instead). A failing listener is logged and does not undo the repair order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

Listener = Callable[[int, int], None]
EVENTS = ("opened", "closed")
_listeners: dict[str, list[Listener]] = {event: [] for event in EVENTS}


def register_repair_order_listener(event: str, listener: Listener) -> Listener:
    if event not in _listeners:
        raise ValueError(f"unknown repair order event {event!r}")
    if listener not in _listeners[event]:
        _listeners[event].append(listener)
    return listener


def unregister_repair_order_listener(event: str, listener: Listener) -> None:
    if listener in _listeners.get(event, []):
        _listeners[event].remove(listener)


def _call(event: str, repair_order_id: int, dealer_id: int) -> None:
    for listener in list(_listeners[event]):
        try:
            listener(repair_order_id, dealer_id)
        except Exception:  # a listener's failure must not undo the repair order
            logger.exception("repair order %s listener %r failed", event, listener)


def repair_order_event(event: str, repair_order_id: int, dealer_id: int) -> None:
    """Tell the listeners, once the current transaction has committed."""
    transaction.on_commit(lambda: _call(event, repair_order_id, dealer_id))
