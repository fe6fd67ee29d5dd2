"""Huey jobs of the care engine: the daily run (one job per dealer), the hourly
service-to-sales sweep and the reassignment of departed staff's care tasks.

Jobs take ids, enter the dealer scope (the services do) and can run twice without harm: the
occurrence keys make the engine idempotent.
"""

from __future__ import annotations

import datetime
import zoneinfo

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from dealercrm.core.tenancy import dealer_scope


def _active_dealer_ids() -> list[int]:
    from dealercrm.core.models import Dealer

    with dealer_scope(None):
        return list(
            Dealer.objects.filter(is_active=True).order_by("id").values_list("id", flat=True)
        )


@db_task()
def care_run_dealer_job(dealer_id: int, run_on: str | None = None) -> dict:
    """One dealer's daily run (for its local today unless `run_on` is given)."""
    from django.utils import timezone

    from dealercrm.core.models import Dealer

    from .services.assignment import care_tasks_reassign_departed
    from .services.engine import care_run

    with dealer_scope(None):
        tz = Dealer.objects.filter(pk=dealer_id).values_list("time_zone", flat=True).first()
    if tz is None:
        return {}
    day = (
        datetime.date.fromisoformat(run_on)
        if run_on
        else timezone.localdate(timezone=zoneinfo.ZoneInfo(tz or "Asia/Shanghai"))
    )
    with dealer_scope(dealer_id):
        care_tasks_reassign_departed(dealer_id)
    report = care_run(run_on=day, dealer_ids=[dealer_id], triggered_by="schedule")
    return {code: rep.as_dict() for dealer in report.dealers for code, rep in dealer.rules.items()}


@db_periodic_task(crontab(minute="30", hour="3"))
@lock_task("care-daily-run")
def care_daily_run() -> int:
    """03:30 every day: one job per active dealer (a failing dealer does not stop the others,
    and several workers share the network)."""
    dealer_ids = _active_dealer_ids()
    for dealer_id in dealer_ids:
        care_run_dealer_job(dealer_id)
    return len(dealer_ids)


@db_periodic_task(crontab(minute="20"))
@lock_task("care-hourly-sweep")
def care_hourly_sweep() -> int:
    """Hourly: service-to-sales for repair orders opened in the last 2 hours (imports, and any
    the listener missed), and departed staff's open care tasks handed on."""
    from django.utils import timezone

    from .services.assignment import care_tasks_reassign_departed
    from .services.engine import care_service_to_sales

    since = timezone.now() - datetime.timedelta(hours=2)
    created = 0
    for dealer_id in _active_dealer_ids():
        report = care_service_to_sales(
            dealer_id=dealer_id, opened_since=since, triggered_by="sweep"
        )
        created += report.occurrences
        with dealer_scope(dealer_id):
            care_tasks_reassign_departed(dealer_id)
    return created
