"""Writes of complaints (intake only, for now: see models.py)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from dealercrm.core.models import User

from .models import Complaint, ComplaintCategory, ComplaintChannel, ComplaintSeverity


@transaction.atomic
def complaint_open(
    *,
    actor: User | None,
    dealer_id: int,
    customer_id: int,
    channel: str,
    description: str,
    category: str = ComplaintCategory.OTHER,
    severity: str = ComplaintSeverity.MEDIUM,
    vehicle_id: int | None = None,
    repair_order_id: int | None = None,
    source_kind: str = "",
    source_id: str = "",
) -> Complaint:
    """Record a complaint. With a source, idempotent: the same source opens one complaint."""
    errors: dict[str, list[str]] = {}
    if not (description or "").strip():
        errors["description"] = [_("Write down what the customer complained about.")]
    if channel not in ComplaintChannel.values:
        errors["channel"] = [_("Choose how the complaint was received.")]
    if category not in ComplaintCategory.values:
        errors["category"] = [_("Choose a category.")]
    if severity not in ComplaintSeverity.values:
        errors["severity"] = [_("Choose a severity.")]
    if errors:
        raise ValidationError(errors)
    if source_kind and source_id:
        existing = Complaint.objects.filter(
            dealer_id=dealer_id, source_kind=source_kind, source_id=str(source_id)
        ).first()
        if existing is not None:
            return existing
    return Complaint.objects.create(
        dealer_id=dealer_id,
        customer_id=customer_id,
        vehicle_id=vehicle_id,
        repair_order_id=repair_order_id,
        channel=channel,
        category=category,
        severity=severity,
        description=description.strip(),
        source_kind=source_kind,
        source_id=str(source_id),
        created_by=actor,
    )
