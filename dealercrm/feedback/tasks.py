"""Huey discovers jobs in tasks.py: the complaint SLA sweep and the survey jobs."""

from . import sla_jobs, survey_jobs  # noqa: F401
