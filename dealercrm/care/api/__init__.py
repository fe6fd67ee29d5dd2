"""The care API (mounted at /api/care/), one router per topic."""

from ninja import Router

from . import rules, runs, tasks

router = Router(tags=["care"])
for _module in (tasks, rules, runs):
    router.add_router("", _module.router)
