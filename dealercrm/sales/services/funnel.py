"""The funnel roll-up. CONTRACT:
- `funnel_refresh(*, dealer_ids=None, now=None) -> int`  recompute the cells of the months whose
  leads changed since the dealer's last refresh; set-based; idempotent.
"""

from __future__ import annotations
