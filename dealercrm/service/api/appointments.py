"""Service API: appointments."""

from ninja import Router

router = Router()
