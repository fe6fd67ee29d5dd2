"""The sales API (mounted at /api/sales/), one router per topic, plus the inbound lead
endpoint for website forms and auto-show tablets (api/inbound.py)."""

from ninja import Router

from . import dispatch, funnel, inbound, leads, orders, quotes, test_drives

router = Router(tags=["sales"])
for _module in (leads, inbound, dispatch, test_drives, quotes, orders, funnel):
    router.add_router("", _module.router)
