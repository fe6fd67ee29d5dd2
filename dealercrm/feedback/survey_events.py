"""What happens after a survey response is recorded, without the answering code knowing it:
the low-score alert (services/alerts.py) and the score rollup (services/scores.py) register
here in FeedbackConfig.ready():

    from .survey_events import register_response_listener
    register_response_listener(on_response_recorded)

A listener is `listener(response_id: int, dealer_id: int) -> None`, called on transaction
commit. A failing listener is logged and does not undo the response; the alert sweep catches
low responses whose `alerted_at` is still empty, and the rollup can be rebuilt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

Listener = Callable[[int, int], None]
_listeners: list[Listener] = []


def register_response_listener(listener: Listener) -> Listener:
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def unregister_response_listener(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def _call(response_id: int, dealer_id: int) -> None:
    for listener in list(_listeners):
        try:
            listener(response_id, dealer_id)
        except Exception:  # one listener's failure must not undo the response or stop the rest
            logger.exception("survey response listener %r failed", listener)


def survey_response_recorded(response_id: int, dealer_id: int) -> None:
    """Tell the listeners, once the current transaction has committed."""
    transaction.on_commit(lambda: _call(response_id, dealer_id))
