"""Huey job of the data-quality audit: every night, the current month of every brand is
recomputed (idempotent: the month's rows are upserted). Needs `from . import audit_jobs` in
tasks.py."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task


@db_periodic_task(crontab(hour="2", minute="30"))
@lock_task("dataquality-audit-nightly")
def audit_nightly() -> None:
    from django.utils import timezone

    from dealercrm.core.models import Brand
    from dealercrm.core.tenancy import DealerScope, dealer_scope

    from .services.audit import audit_run, month_start

    period = month_start(timezone.localdate())
    with dealer_scope(DealerScope.everything()):
        for brand_id in Brand.objects.order_by("pk").values_list("pk", flat=True):
            audit_run(brand_id=brand_id, period=period)
