"""Background jobs of the sales pipeline. Each runs across all dealers, in the network scope,
calls one service, and can run twice without harm (the services are idempotent)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from dealercrm.core.tenancy import dealer_scope


@db_periodic_task(crontab(minute="*"))
@lock_task("sales-first-response-sweep")
def first_response_sweep() -> int:
    """Every minute: flag, escalate and (where the dealer wants it) reassign unanswered leads."""
    from .services.assignment import lead_response_sweep

    with dealer_scope(None):
        return lead_response_sweep()


@db_periodic_task(crontab(minute="5"))
@lock_task("sales-dispatch-release")
def dispatch_release() -> int:
    """Hourly: hand the OEM's dispatched leads to their dealers when their release day comes."""
    from .services.dispatch import dispatch_release_due

    with dealer_scope(None):
        return dispatch_release_due()


@db_periodic_task(crontab(minute="15"))
@lock_task("sales-test-drive-reminders")
def test_drive_reminders() -> int:
    """Hourly: the day-before reminder of tomorrow's test drives (once per test drive)."""
    from .services.test_drives import test_drive_reminders_send

    with dealer_scope(None):
        return test_drive_reminders_send()


@db_periodic_task(crontab(minute="30", hour="6"))
@lock_task("sales-order-delays")
def order_delays() -> int:
    """Daily: orders whose expected delivery slipped past the promise get their "tell the
    customer" task (milestone changes check at once too; this catches dates passing)."""
    from .services.orders import order_delays_detect

    with dealer_scope(None):
        return order_delays_detect()


@db_periodic_task(crontab(minute="*/5"))
@lock_task("sales-funnel-refresh")
def funnel_refresh() -> int:
    """Every 5 minutes: roll the changed months of each dealer's leads up into the funnel."""
    from .services.funnel import funnel_refresh as refresh

    with dealer_scope(None):
        return refresh()
