"""duplicates API."""

from ninja import Router

router = Router(tags=["dataquality"])
