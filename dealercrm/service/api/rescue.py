"""Service API: rescue."""

from ninja import Router

router = Router()
