"""Care API: tasks."""

from ninja import Router

router = Router()
