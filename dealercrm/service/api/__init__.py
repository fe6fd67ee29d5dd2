"""The service API (mounted at /api/service/), one router per topic."""

from ninja import Router

from . import appointments, forecast, recalls, repair_orders, rescue

router = Router(tags=["service"])
for _module in (appointments, repair_orders, forecast, recalls, rescue):
    router.add_router("", _module.router)
