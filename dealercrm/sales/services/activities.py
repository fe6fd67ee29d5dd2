"""Follow-ups. CONTRACT:
- `activity_log(*, actor, lead, kind, result, note="", next_action="", next_action_due=None,
   occurred_at=None) -> Activity`  a reached contact marks the lead contacted (first response);
  the next step becomes the lead's next action.
"""

from __future__ import annotations
