"""The satisfaction scores' rollup (SurveyScoreRollup): updated when a response is recorded,
rebuildable set-based from the answers."""

from __future__ import annotations


def on_response_recorded(response_id: int, dealer_id: int) -> None:
    """survey_events listener: add the response's answers to the rollup."""
