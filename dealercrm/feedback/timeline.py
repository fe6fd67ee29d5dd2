"""Complaints on the customer 360 timeline (one query): the category and status, and how it
ended — closed with the customer satisfied — or how often it was reopened."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dealercrm.customers.timeline import ProviderQuery, TimelineEntry

from .models import Complaint, ComplaintCategory, ComplaintChannel, ComplaintStatus


def _outcome(row: dict) -> str:
    parts = []
    if row["status"] == ComplaintStatus.CLOSED:
        parts.append(_("closed, customer satisfied") if row["follow_up_satisfied"] else _("closed"))
    if row["reopen_count"]:
        parts.append(
            ngettext("reopened %(n)d time", "reopened %(n)d times", row["reopen_count"])
            % {"n": row["reopen_count"]}
        )
    return "; ".join(parts)


def _complaints(dealer_id: int, customer_id: int, before: datetime.datetime | None) -> QuerySet:
    qs = Complaint.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    return qs.order_by("-created_at", "-id").values(
        "id",
        "created_at",
        "category",
        "status",
        "channel",
        "description",
        "follow_up_satisfied",
        "reopen_count",
        "created_by__display_name",
        "created_by__username",
    )


_COMPLAINTS = ProviderQuery(_complaints)


def complaint_timeline(
    customer,  # noqa: ANN001 — a customers.Customer
    *,
    limit: int,
    before: datetime.datetime | None,
) -> list[TimelineEntry]:
    entries = []
    for row in _COMPLAINTS(customer, limit=limit, before=before):
        outcome = _outcome(row)
        title = _("Complaint: %(category)s (%(status)s)") % {
            "category": ComplaintCategory(row["category"]).label,
            "status": ComplaintStatus(row["status"]).label,
        }
        if outcome:
            title = f"{title} · {outcome}"
        body = row["description"]
        if row["channel"] in ComplaintChannel.values:
            body = f"{ComplaintChannel(row['channel']).label}: {body}"
        entries.append(
            TimelineEntry(
                occurred_at=row["created_at"],
                kind="complaint",
                icon="message-report",
                title=title,
                body=body,
                actor=row["created_by__display_name"] or row["created_by__username"] or "",
                source="feedback",
                url=reverse("feedback:complaint", kwargs={"complaint_id": row["id"]}),
            )
        )
    return entries
