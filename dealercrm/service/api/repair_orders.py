"""Service API: repair_orders."""

from ninja import Router

router = Router()
