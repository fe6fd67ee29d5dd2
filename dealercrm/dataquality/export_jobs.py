"""Huey jobs of exports: writing one export's file, and the daily clean-up of old files.

Jobs take ids; the export runs in the scope of the user who asked for it (services.exports).
A queued export is claimed once, so a job delivered twice writes one file. Needs
`from . import export_jobs` in tasks.py.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task


@db_task()
def export_run_job(job_id: int) -> str:
    from .services.exports import export_run

    return export_run(job_id=job_id).status


@db_periodic_task(crontab(hour="3", minute="20"))
@lock_task("dataquality-exports-purge")
def exports_purge_job() -> dict:
    """Daily: delete export files older than 7 days, and fail exports lost with their worker."""
    from .services.exports import exports_purge

    return exports_purge()
