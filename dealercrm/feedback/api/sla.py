"""Feedback API: sla."""

from ninja import Router

router = Router()
