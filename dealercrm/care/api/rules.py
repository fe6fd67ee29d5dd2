"""Care API: rules."""

from ninja import Router

router = Router()
