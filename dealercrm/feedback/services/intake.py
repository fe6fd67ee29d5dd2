"""Taking a complaint in: from any channel, with its SLA deadlines set and a RECEIVED step."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.vehicles.models import Vehicle

from ..models import (
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintSeverity,
)
from .sla import sla_deadlines


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
    received_at = timezone.now()
    response_due, solution_due = sla_deadlines(
        dealer_id=dealer_id, severity=severity, received_at=received_at
    )
    car_model_id = None
    if vehicle_id is not None:
        car_model_id = (
            Vehicle.objects.filter(pk=vehicle_id).values_list("car_model_id", flat=True).first()
        )
    complaint = Complaint.objects.create(
        dealer_id=dealer_id,
        created_at=received_at,
        response_due_at=response_due,
        solution_due_at=solution_due,
        car_model_id=car_model_id,
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
    ComplaintEvent.objects.create(
        dealer_id=dealer_id,
        complaint=complaint,
        kind=ComplaintEventKind.RECEIVED,
        at=received_at,
        actor=actor,
        channel=channel,
    )
    return complaint
