"""A dealer's survey settings (triggers, delays, link validity, low-score thresholds)."""

from __future__ import annotations

from ..models import SurveySettings


def settings_for_dealer(dealer_id: int) -> SurveySettings:
    """The dealer's row, or the defaults (unsaved) when the dealer has set none."""
    row = SurveySettings.objects.filter(dealer_id=dealer_id).first()
    return row if row is not None else SurveySettings(dealer_id=dealer_id)
