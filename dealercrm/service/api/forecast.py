"""Service API: forecast."""

from ninja import Router

router = Router()
