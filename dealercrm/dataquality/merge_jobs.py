"""Huey job of merges: every night, finalise the merges past the 30-day undo window (their undo
data, which holds the merged customer's personal data, is dropped; the counts stay).

Safe to run twice: a finalised merge is not picked again. Needs `from . import merge_jobs` in
tasks.py.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task


@db_periodic_task(crontab(hour="3", minute="20"))
@lock_task("dataquality-merges-finalise")
def merges_finalise_nightly() -> int:
    from dealercrm.core.tenancy import dealer_scope

    from .services.merges import merges_finalise

    with dealer_scope(None):
        return merges_finalise()
