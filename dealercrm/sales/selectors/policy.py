"""The dealer's sales policy, made with its defaults on first read."""

from __future__ import annotations

from ..models import SalesPolicy


def sales_policy_for(dealer_id: int) -> SalesPolicy:
    policy, _created = SalesPolicy.objects.get_or_create(dealer_id=dealer_id)
    return policy
