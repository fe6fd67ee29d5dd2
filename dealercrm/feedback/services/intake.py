"""Taking a complaint in: from any channel, with its SLA deadlines set and a RECEIVED step.

Dealer staff record complaints for their own dealer. The brand's hotline is an OEM user (no
dealer) who records the complaint for a dealer of their brand and routes it there: the channel
is then OEM_HOTLINE, a ROUTED step follows RECEIVED, and the dealer's managers and care
specialists get a notice. Every related record (customer, vehicle, repair order, order, staff
member, handler) must be the dealer's own; anything else is refused naming the field, before
anything is written.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import Dealer, User
from dealercrm.core.permissions import Perm, Role
from dealercrm.customers.models import Customer
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

# Who hears of a complaint the brand routed to the dealer.
ROUTED_NOTICE_ROLES = (Role.DEALER_MANAGER, Role.CARE_SPECIALIST)


def _int_or_none(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return -1  # never an id: refused below as "not this dealer's"


def complaint_handlers(dealer_id: int) -> list[User]:
    """Active users of the dealer who may handle complaints (Perm.WORK_COMPLAINTS)."""
    users = User.objects.filter(dealer_id=dealer_id, is_active=True).order_by(
        "display_name", "username"
    )
    return [u for u in users if u.has_perm(Perm.WORK_COMPLAINTS)]


def is_complaint_handler(user_id: int | None, dealer_id: int) -> bool:
    if not user_id:
        return False
    user = User.objects.filter(pk=user_id, dealer_id=dealer_id, is_active=True).first()
    return user is not None and user.has_perm(Perm.WORK_COMPLAINTS)


def _check_dealer(actor: User | None, dealer_id: int) -> Dealer:
    """The dealer, when the actor may record complaints for it (ValidationError on dealer_id)."""
    dealer = Dealer.objects.filter(pk=dealer_id).first() if dealer_id else None
    if dealer is None:
        raise ValidationError({"dealer_id": [_("Choose the dealer the complaint is for.")]})
    if actor is None or not actor.is_authenticated:
        return dealer  # jobs (survey alerts) run in the dealer's scope already
    if actor.dealer_id:
        if actor.dealer_id != dealer.pk:
            raise PermissionDenied(_("You may record complaints for your own dealer only."))
    elif actor.role != Role.SYSTEM_ADMIN and dealer.brand_id != actor.brand_id:
        raise ValidationError(
            {"dealer_id": [_("The brand hotline routes complaints to its own dealers only.")]}
        )
    return dealer


@transaction.atomic
def complaint_open(
    *,
    actor: User | None,
    dealer_id: int,
    customer_id: int | None = None,
    channel: str,
    description: str,
    category: str = ComplaintCategory.OTHER,
    severity: str = ComplaintSeverity.MEDIUM,
    vehicle_id: int | None = None,
    repair_order_id: int | None = None,
    order_id: int | None = None,
    staff_id: int | None = None,
    handler_id: int | None = None,
    oem_reference: str = "",
    customer_name: str = "",
    customer_phone: str = "",
    source_kind: str = "",
    source_id: str = "",
) -> Complaint:
    """Record a complaint. With a source, idempotent: the same source opens one complaint.

    Without `customer_id`, `customer_name` (and optionally `customer_phone`) create a prospect
    at the dealer through the customers service, in the same transaction. `staff_id` defaults to
    the repair order's advisor, else the order's consultant; the vehicle to the repair order's
    or the order's car. An OEM user's complaint is a brand-hotline complaint routed to the dealer.
    """
    dealer = _check_dealer(actor, dealer_id)
    routed = actor is not None and actor.is_authenticated and not actor.dealer_id
    if routed:
        channel = ComplaintChannel.OEM_HOTLINE
    errors: dict[str, list[str]] = {}
    if not (description or "").strip():
        errors["description"] = [_("Write down what the customer complained about.")]
    if channel not in ComplaintChannel.values:
        errors["channel"] = [_("Choose how the complaint was received.")]
    if category not in ComplaintCategory.values:
        errors["category"] = [_("Choose a category.")]
    if severity not in ComplaintSeverity.values:
        errors["severity"] = [_("Choose a severity.")]
    oem_reference = (oem_reference or "").strip()
    if len(oem_reference) > 40:
        errors["oem_reference"] = [_("The brand case number has at most 40 characters.")]
    if errors:
        raise ValidationError(errors)
    if source_kind and source_id:
        existing = Complaint.objects.filter(
            dealer_id=dealer.pk, source_kind=source_kind, source_id=str(source_id)
        ).first()
        if existing is not None:
            return existing

    customer_pk = _int_or_none(customer_id)
    if customer_pk is not None:
        if not Customer.objects.filter(
            pk=customer_pk, dealer_id=dealer.pk, is_deleted=False
        ).exists():
            errors["customer_id"] = [_("Choose a customer of this dealer.")]
    elif not (customer_name or "").strip():
        errors["customer_id"] = [
            _("Choose the customer, or enter a name to record them as a new prospect.")
        ]
    vehicle = None
    vehicle_pk = _int_or_none(vehicle_id)
    if vehicle_pk is not None:
        vehicle = (
            Vehicle.objects.filter(pk=vehicle_pk, dealer_id=dealer.pk)
            .values("id", "car_model_id")
            .first()
        )
        if vehicle is None:
            errors["vehicle_id"] = [_("Choose a vehicle of this dealer.")]
    repair_order = None
    repair_order_pk = _int_or_none(repair_order_id)
    if repair_order_pk is not None:
        from dealercrm.service.models import RepairOrder

        repair_order = (
            RepairOrder.objects.filter(pk=repair_order_pk, dealer_id=dealer.pk)
            .values("id", "vehicle_id", "vehicle__car_model_id", "advisor_id")
            .first()
        )
        if repair_order is None:
            errors["repair_order_id"] = [_("Choose a repair order of this dealer.")]
    order = None
    order_pk = _int_or_none(order_id)
    if order_pk is not None:
        from dealercrm.sales.models import Order

        order = (
            Order.objects.filter(pk=order_pk, dealer_id=dealer.pk)
            .values("id", "vehicle_id", "car_model_id", "lead__consultant_id")
            .first()
        )
        if order is None:
            errors["order_id"] = [_("Choose an order of this dealer.")]
    staff_pk = _int_or_none(staff_id)
    if (
        staff_pk is not None
        and not User.objects.filter(pk=staff_pk, dealer_id=dealer.pk, is_active=True).exists()
    ):
        errors["staff_id"] = [_("Choose a staff member of this dealer.")]
    handler_pk = _int_or_none(handler_id)
    if handler_pk is not None and not is_complaint_handler(handler_pk, dealer.pk):
        errors["handler_id"] = [
            _("Choose an active colleague of this dealer who handles complaints.")
        ]
    if errors:
        raise ValidationError(errors)

    if customer_pk is None:
        customer_pk = _new_prospect(
            actor=actor, dealer_id=dealer.pk, name=customer_name, phone=customer_phone
        )
    car_model_id = None
    if vehicle is not None:
        car_model_id = vehicle["car_model_id"]
    elif repair_order is not None:
        vehicle_pk = repair_order["vehicle_id"]
        car_model_id = repair_order["vehicle__car_model_id"]
    elif order is not None:
        vehicle_pk = order["vehicle_id"]
        car_model_id = order["car_model_id"]
    if staff_pk is None:
        staff_pk = (repair_order or {}).get("advisor_id") or (order or {}).get(
            "lead__consultant_id"
        )

    received_at = timezone.now()
    response_due, solution_due = sla_deadlines(
        dealer_id=dealer.pk, severity=severity, received_at=received_at
    )
    by = actor if actor is not None and actor.is_authenticated else None
    complaint = Complaint.objects.create(
        dealer_id=dealer.pk,
        created_at=received_at,
        response_due_at=response_due,
        solution_due_at=solution_due,
        car_model_id=car_model_id,
        customer_id=customer_pk,
        vehicle_id=vehicle_pk,
        repair_order_id=repair_order_pk,
        order_id=order_pk,
        staff_id=staff_pk,
        handler_id=handler_pk,
        oem_reference=oem_reference,
        channel=channel,
        category=category,
        severity=severity,
        description=description.strip(),
        source_kind=source_kind,
        source_id=str(source_id),
        created_by=by,
    )
    events = [
        ComplaintEvent(
            dealer_id=dealer.pk,
            complaint=complaint,
            kind=ComplaintEventKind.RECEIVED,
            at=received_at,
            actor=by,
            channel=channel,
        )
    ]
    if routed:
        events.append(
            ComplaintEvent(
                dealer_id=dealer.pk,
                complaint=complaint,
                kind=ComplaintEventKind.ROUTED,
                at=received_at,
                actor=by,
                channel=channel,
                note=oem_reference,
                data={"oem_reference": oem_reference} if oem_reference else {},
            )
        )
    if handler_pk is not None:
        events.append(
            ComplaintEvent(
                dealer_id=dealer.pk,
                complaint=complaint,
                kind=ComplaintEventKind.ASSIGNED,
                at=received_at,
                actor=by,
                data={"handler_id": handler_pk},
            )
        )
    ComplaintEvent.objects.bulk_create(events)
    if routed:
        _tell_the_dealer(complaint)
    return complaint


def _new_prospect(*, actor: User | None, dealer_id: int, name: str, phone: str) -> int:
    """A prospect at the dealer, through the customers service; its errors renamed to the
    complaint's fields."""
    from dealercrm.customers.models import LifecycleStage
    from dealercrm.customers.services import customer_create

    try:
        created = customer_create(
            actor=actor,
            dealer_id=dealer_id,
            name=(name or "").strip(),
            phones=[phone.strip()] if (phone or "").strip() else [],
            lifecycle_stage=LifecycleStage.PROSPECT,
        )
    except ValidationError as exc:
        renamed = {"name": "customer_name", "phones": "customer_phone"}
        raise ValidationError({renamed.get(k, k): v for k, v in exc.message_dict.items()}) from exc
    return created.customer.pk


def _tell_the_dealer(complaint: Complaint) -> None:
    """A notice to the dealer's managers and care specialists: the brand routed a complaint."""
    from dealercrm.worklist.services import NoticeSpec, notices_create_bulk

    recipients = list(
        User.objects.filter(
            dealer_id=complaint.dealer_id, is_active=True, role__in=ROUTED_NOTICE_ROLES
        ).values_list("id", flat=True)
    )
    customer_name = (
        Customer.objects.filter(pk=complaint.customer_id).values_list("name", flat=True).first()
    )
    notices_create_bulk(
        [
            NoticeSpec(
                dealer_id=complaint.dealer_id,
                recipient_ids=recipients,
                title=_("The brand routed a complaint: %(customer)s")
                % {"customer": customer_name or ""},
                body=complaint.description[:500],
                link=reverse("feedback:complaint", kwargs={"complaint_id": complaint.pk}),
                source_kind="feedback.complaint",
                source_id=str(complaint.pk),
                reason="routed",
            )
        ]
    )
