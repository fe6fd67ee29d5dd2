"""Background jobs of messaging: the outbox worker, its minute-by-minute sweep, campaign queueing.

Jobs take ids, not objects, and can run twice without harm: the outbox claims rows atomically
(see outbox.py), so two runs at once share the queue instead of sending anything twice.

Services that queue messages call `schedule_dispatch()`; the job then starts as soon as their
transaction commits, so a one-off message leaves within seconds. Messages held back by quiet
hours or a retry's backoff carry a future `not_before`, and the periodic sweep picks them up
when it passes — nothing else has to remember them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from dealercrm.core.tenancy import dealer_scope

from .outbox import dispatch_due, recover_stuck

# One job run sends at most this many batches, then hands over to a fresh job, so a 100,000
# message campaign does not hold one worker thread for its whole length and the queue's other
# jobs (and a second worker) get their turn.
MAX_BATCHES_PER_RUN = 40


def schedule_dispatch() -> None:
    """Start the outbox job once the current transaction commits (immediately outside one)."""
    transaction.on_commit(outbox_dispatch)


def dispatch_until_empty(*, max_batches: int = MAX_BATCHES_PER_RUN) -> tuple[int, bool]:
    """Send due messages batch after batch. Returns (claimed, whether anything may be left)."""
    limit = settings.MESSAGING_BATCH_SIZE
    total = 0
    for _ in range(max_batches):
        claimed = dispatch_due(limit=limit)
        total += claimed
        if claimed < limit:
            return total, False
    return total, True


@db_task()
def outbox_dispatch() -> int:
    """Send everything due now; if the run's bound was reached, queue a follow-up run."""
    total, more = dispatch_until_empty()
    if more:
        outbox_dispatch()
    return total


@db_periodic_task(crontab(minute="*"))
@lock_task("messaging-outbox-sweep")
def outbox_sweep() -> int:
    """Every minute: settle messages a dead worker left "sending", then send what fell due
    (quiet hours ended, a retry's backoff passed). Locked, so a slow sweep is never doubled."""
    recover_stuck()
    total, more = dispatch_until_empty()
    if more:
        outbox_dispatch()
    return total


@db_task()
def campaign_queue_job(campaign_id: int, dealer_id: int) -> None:
    """Queue a campaign's messages (services.campaign_queue writes progress as it goes)."""
    from .services import campaign_queue

    with dealer_scope(dealer_id):
        campaign_queue(campaign_id=campaign_id, dealer_id=dealer_id)
