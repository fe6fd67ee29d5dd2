"""Test drives. CONTRACT:
- `test_drive_book(*, actor, lead, demo_car, starts_at, ends_at=None, pickup=False,
   pickup_address="") -> TestDrive`  books the car through bookings.services.booking_create
  (double booking refused), refuses the past.
- `test_drive_licence_check(*, actor, test_drive, valid_until) -> TestDrive`
- `test_drive_complete(*, actor, test_drive, feedback="", rating=None) -> TestDrive`
  needs the licence check; advances the lead to "test_drive".
- `test_drive_cancel(*, actor, test_drive, reason="")`, `test_drive_no_show(*, actor, test_drive)`
- `test_drive_reminders_send(*, now=None) -> int`  the day-before reminder (messaging), idempotent.
"""

from __future__ import annotations
