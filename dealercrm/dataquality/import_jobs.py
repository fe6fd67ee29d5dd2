"""Huey job of imports: run one import in the background (a web upload's, or a resumed run's).

Safe to run twice: each batch is claimed by its starting row in the same transaction as its
writes, so a second job for the same run stops at the first batch the other committed.
"""

from __future__ import annotations

from huey.contrib.djhuey import db_task


@db_task()
def import_run_job(run_id: int) -> dict:
    from .services.import_runs import import_run_execute

    run = import_run_execute(run_id=run_id)
    return {
        "status": run.status,
        "processed": run.processed_rows,
        "created": run.created_count,
        "updated": run.updated_count,
        "unchanged": run.unchanged_count,
        "errors": run.error_count,
    }
