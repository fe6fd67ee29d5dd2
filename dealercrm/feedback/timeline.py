"""Complaints on the customer 360 timeline (one query)."""

from __future__ import annotations

import datetime

from django.utils.translation import gettext as _

from dealercrm.customers.timeline import TimelineEntry

from .models import Complaint, ComplaintCategory, ComplaintStatus


def complaint_timeline(
    customer,  # noqa: ANN001 — a customers.Customer
    *,
    limit: int,
    before: datetime.datetime | None,
) -> list[TimelineEntry]:
    qs = Complaint.objects.filter(dealer_id=customer.dealer_id, customer_id=customer.pk)
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    rows = qs.order_by("-created_at", "-id").values(
        "created_at",
        "category",
        "status",
        "description",
        "created_by__display_name",
        "created_by__username",
    )[:limit]
    return [
        TimelineEntry(
            occurred_at=row["created_at"],
            kind="complaint",
            icon="message-report",
            title=_("Complaint: %(category)s (%(status)s)")
            % {
                "category": ComplaintCategory(row["category"]).label,
                "status": ComplaintStatus(row["status"]).label,
            },
            body=row["description"],
            actor=row["created_by__display_name"] or row["created_by__username"] or "",
            source="feedback",
        )
        for row in rows
    ]
