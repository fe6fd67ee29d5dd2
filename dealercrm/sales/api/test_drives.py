"""API: test_drives."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["sales"])
