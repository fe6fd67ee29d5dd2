"""Huey discovers jobs in tasks.py: the data-quality jobs (imports, exports, duplicates, merges,
the audit)."""

from . import (  # noqa: F401 — imported for their @db_task / @db_periodic_task
    audit_jobs,
    duplicate_jobs,
    export_jobs,
    import_jobs,
    merge_jobs,
)
