"""Huey job of the satisfaction scores: the rollup's invitation counts, recounted every quarter
of an hour for the last two months (a response recounts its dealer's month at once; this
catches the invitations sent since, and the months without responses). Set-based and
idempotent: running twice gives the same rows. Needs `from . import score_jobs` in tasks.py."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task


@db_periodic_task(crontab(minute="*/15"))
@lock_task("feedback-score-invitations")
def score_invitations_refresh() -> None:
    from .services.scores import rollup_refresh_invitations

    rollup_refresh_invitations(months=2)
