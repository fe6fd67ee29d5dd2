"""The dealer's sales policy, made with its defaults on first read."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from ..models import SalesPolicy


def sales_policy_for(dealer_id: int, *, for_update: bool = False) -> SalesPolicy:
    """The dealer's policy (made with the defaults when it has none yet).

    `for_update` locks the row (inside a transaction): the round-robin pointer is read and
    moved under this lock, so two leads arriving at once go to two consultants.
    """
    qs = SalesPolicy.objects.filter(dealer_id=dealer_id).select_related("dealer")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    policy = qs.first()
    if policy is not None:
        return policy
    try:
        with transaction.atomic():
            SalesPolicy.objects.create(dealer_id=dealer_id)
    except IntegrityError:
        pass  # made meanwhile by a concurrent first read
    return qs.get()
