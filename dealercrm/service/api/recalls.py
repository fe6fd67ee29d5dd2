"""Service API: recalls."""

from ninja import Router

router = Router()
