"""Huey jobs of the complaint SLA: the sweep that warns before a breach and escalates after.

Every 5 minutes, one sweep over all active dealers: it costs a few queries per dealer with
complaints still running (set-based, see services/sla.py), and a second run at the same moment
does nothing, so a slow worker or a retried job harms nobody. The lock keeps two workers from
sweeping at once.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from dealercrm.core.tenancy import dealer_scope


@db_periodic_task(crontab(minute="*/5"))
@lock_task("feedback-sla-sweep")
def complaints_sla_sweep_job() -> dict[str, int]:
    """Warn and escalate the complaints of every active dealer; returns the counts per step."""
    from dealercrm.core.models import Dealer

    from .services.sla import complaints_sla_sweep

    with dealer_scope(None):
        dealer_ids = list(
            Dealer.objects.filter(is_active=True).order_by("id").values_list("id", flat=True)
        )
    return complaints_sla_sweep(dealer_ids=dealer_ids).as_dict()
