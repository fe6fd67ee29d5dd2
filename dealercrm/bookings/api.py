"""The bookings API (mounted at /api/bookings/): resources and their bookings."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["bookings"])
