"""Feedback API: questionnaires."""

from ninja import Router

router = Router()
