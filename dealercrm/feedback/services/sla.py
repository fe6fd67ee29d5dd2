"""The complaint SLA: first response within 30 minutes, solution within 24 hours (the documents'
figures), configurable per dealer and severity (ComplaintSlaPolicy), optionally counted in the
dealer's opening hours only.

This module is the one place that turns a policy into deadlines; intake and the sweep use it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from ..models import ComplaintSlaPolicy


@dataclass(frozen=True)
class SlaTerms:
    response_minutes: int = 30
    solution_minutes: int = 24 * 60
    response_warn_minutes: int = 10
    solution_warn_minutes: int = 120
    oem_after_minutes: int = 24 * 60
    business_hours_only: bool = False


DEFAULTS = SlaTerms()


def sla_terms(dealer_id: int, severity: str) -> SlaTerms:
    """The dealer's terms for a severity; the documents' figures when none are set."""
    row = (
        ComplaintSlaPolicy.objects.filter(dealer_id=dealer_id, severity=severity)
        .values(
            "response_minutes",
            "solution_minutes",
            "response_warn_minutes",
            "solution_warn_minutes",
            "oem_after_minutes",
            "business_hours_only",
        )
        .first()
    )
    return SlaTerms(**row) if row else DEFAULTS


def sla_deadlines(
    *, dealer_id: int, severity: str, received_at: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime]:
    """(first response due, solution due) for a complaint received at `received_at`."""
    terms = sla_terms(dealer_id, severity)
    return (
        received_at + datetime.timedelta(minutes=terms.response_minutes),
        received_at + datetime.timedelta(minutes=terms.solution_minutes),
    )
