"""The data-quality API (mounted at /api/dataquality/), one router per topic."""

from ninja import Router

from . import audit, duplicates, exports, imports, merges

router = Router(tags=["dataquality"])
for _module in (imports, duplicates, merges, audit, exports):
    router.add_router("", _module.router)
