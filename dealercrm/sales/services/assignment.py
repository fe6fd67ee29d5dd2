"""Who works a lead: the dealer's rule (round-robin, by load, manual), reassignment with its
history, and the first-response sweep (flag, escalate, reassign automatically).

CONTRACT:
- `lead_assign(*, actor, lead, consultant, note="") -> Lead`  manual (re)assignment.
- `lead_assign_auto(*, lead, actor=None) -> Lead`  the dealer's rule; manual mode (or nobody on
  duty) leaves it unassigned and notifies the managers (worklist.services.notice_create).
- `first_response_deadline(*, policy, start) -> datetime`  start + policy.first_response_minutes
  counted in opening hours only (dealer time zone).
- `lead_response_sweep(*, now=None) -> int`  all dealers (jobs), set-based: flags overdue
  leads, escalates to the managers, reassigns when the dealer turns that on. Idempotent.
"""

from __future__ import annotations
