"""OEM dispatch. CONTRACT:
- `dispatch_create(*, actor, dealer_id, prospect_name, phone, test_drive_date, car_model_id=None,
   wechat_id="", preferred_time="", pickup_requested=False, pickup_address="", note="",
   campaign="", external_ref="") -> OemDispatch`
- `dispatch_import(*, actor, rows | file ...) -> DispatchImportResult`
- `dispatch_release(*, dispatch_id, now=None) -> Lead | None`  creates the lead (channel
  oem_dispatch), assigns it, notifies manager + consultant, creates the three tasks.
  Idempotent (a released dispatch is left alone).
- `dispatch_release_due(*, today=None) -> int`  every dealer's dispatches whose release_on has come.
"""

from __future__ import annotations
