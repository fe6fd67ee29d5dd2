"""Writes of bookings. CONTRACT:
- `resource_create(*, actor, dealer_id, kind, name, car_model_id=None, plate="", ...) -> Resource`
- `resource_update(*, actor, resource, **fields) -> Resource`
- `booking_create(*, dealer_id, resource, starts_at, ends_at, customer_id=None, title="",
   source_kind="", source_id="", actor=None) -> Booking`  refuses an overlap with an active
  booking of the same resource (ValidationError on "starts_at", naming the clash), the past,
  ends before starts, an inactive resource, hours outside the resource's availability.
  Safe under concurrency: the resource row is locked (PostgreSQL also has an exclusion
  constraint).
- `booking_cancel(*, actor, booking) -> Booking`
- `booking_move(*, actor, booking, starts_at, ends_at) -> Booking`
"""

from __future__ import annotations
