"""Huey jobs of duplicate detection: the nightly scan of every dealer and every brand (across its
dealers), and a scan on demand (the review queue's button, after an import).

Jobs take ids. A scan can run twice without harm: pairs are upserted on their unique pair and
decided pairs keep their decision. The lock keeps two nightly sweeps from running at once.
Needs `from . import duplicate_jobs` in tasks.py.
"""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from dealercrm.core.tenancy import dealer_scope


@db_task()
def duplicates_scan_job(
    dealer_id: int | None = None,
    brand_id: int | None = None,
    customer_ids: list[int] | None = None,
) -> dict:
    """Scan one dealer (dealer_id) or one brand across its dealers (brand_id)."""
    from .services.duplicates import duplicates_scan

    return duplicates_scan(
        dealer_id=dealer_id, brand_id=brand_id, customer_ids=customer_ids
    ).as_dict()


@db_periodic_task(crontab(hour="2", minute="40"))
@lock_task("dataquality-duplicates-nightly")
def duplicates_scan_nightly() -> dict[str, int]:
    """Every active dealer, then every brand's cross-dealer scan; the totals."""
    from dealercrm.core.models import Brand, Dealer

    from .services.duplicates import duplicates_scan

    with dealer_scope(None):
        dealer_ids = list(
            Dealer.objects.filter(is_active=True).order_by("id").values_list("id", flat=True)
        )
        brand_ids = list(Brand.objects.order_by("id").values_list("id", flat=True))
    totals = {"dealers": 0, "brands": 0, "pairs": 0, "created": 0, "auto_merged": 0}
    scans = [{"dealer_id": pk} for pk in dealer_ids] + [{"brand_id": pk} for pk in brand_ids]
    for kwargs in scans:
        report = duplicates_scan(**kwargs)
        totals["dealers" if "dealer_id" in kwargs else "brands"] += 1
        totals["pairs"] += report.pairs
        totals["created"] += report.created
        totals["auto_merged"] += report.auto_merged
    return totals
