"""The complaints and surveys API (mounted at /api/feedback/), one router per topic."""

from ninja import Router

from . import complaints, questionnaires, sla, stats, surveys

router = Router(tags=["feedback"])
for _module in (complaints, sla, stats, questionnaires, surveys):
    router.add_router("", _module.router)
