"""Declaring a lead lost (战败): the consultant asks, the manager decides. CONTRACT:
- `lead_loss_request(*, actor, lead, reason, competitor="", note="") -> Lead`
- `lead_loss_approve(*, actor, lead) -> Lead`  (MANAGE_LEADS) → stage lost
- `lead_loss_return(*, actor, lead, note="", reassign_to=None) -> Lead`  back to work
"""

from __future__ import annotations
