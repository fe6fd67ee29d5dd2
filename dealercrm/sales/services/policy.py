"""The dealer's sales policy. CONTRACT:
- `sales_policy_update(*, actor, dealer_id, **fields) -> SalesPolicy`
(the read, `selectors.policy.sales_policy_for(dealer_id)`, makes the row with defaults)
"""

from __future__ import annotations
