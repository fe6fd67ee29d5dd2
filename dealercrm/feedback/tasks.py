"""Huey discovers jobs in tasks.py: the complaint SLA sweep, the survey jobs, the score rollup's
invitation recount."""

from . import score_jobs, sla_jobs, survey_jobs  # noqa: F401
