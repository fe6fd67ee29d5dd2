"""Feedback API: stats."""

from ninja import Router

router = Router()
