"""A low survey answer opens a complaint and/or a recovery task for the manager, at once."""

from __future__ import annotations


def on_response_recorded(response_id: int, dealer_id: int) -> None:
    """survey_events listener: raise the low-score alert for a low response."""
