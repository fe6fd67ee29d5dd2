"""Reads of bookings."""

from __future__ import annotations
