"""Feedback API: complaints."""

from ninja import Router

router = Router()
