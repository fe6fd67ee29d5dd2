"""Huey jobs of surveys: scheduling invitations from their triggers, sending the due ones,
expiring old links, catching missed low-score alerts.

Each job is safe to run twice: the invitation's unique source key, the message's idempotency
key and the alert's claim on `alerted_at` make a repeat a no-op; `lock_task` keeps two workers
from running the same sweep at once.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task


@db_periodic_task(crontab(minute="*/10"))
@lock_task("survey-invitations")
def survey_invitations_job() -> dict:
    """Every 10 minutes: invitations for new deliveries, repair orders and complaints, then the
    messages of those whose time has come (a repair order's survey goes out a few hours after
    it closes, before the brand's own survey)."""
    from .services.invitations import survey_invitations_schedule, survey_invitations_send_due

    scheduled = survey_invitations_schedule()
    sent = survey_invitations_send_due()
    return {"scheduled": scheduled.as_dict(), "sent": sent.as_dict()}


@db_periodic_task(crontab(minute="40"))
@lock_task("survey-hourly")
def survey_hourly_job() -> dict:
    """Hourly: expire unanswered links, and alert low answers the listener missed."""
    from .services.alerts import survey_alerts_sweep
    from .services.invitations import survey_invitations_expire

    return {"expired": survey_invitations_expire(), "alerted": survey_alerts_sweep()}
