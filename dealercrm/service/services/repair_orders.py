"""Writes of repair orders (工单). CONTRACT (the appointment arrival, the API, imports call these):

- `repair_order_open(*, actor, dealer_id, vin, kind, opened_at=None, number="", mileage_km=None,
   advisor=None, advisor_name="", payer=Payer.CUSTOMER, customer_concern="", appointment=None,
   recall_campaign=None, lines=()) -> RepairOrder`
- `repair_order_add_line(*, actor, repair_order, line_type, description, quantity=1,
   unit_price=0, amount=None, code="", payer=None) -> RepairOrderLine`
- `repair_order_update(*, actor, repair_order, **fields) -> RepairOrder`
- `repair_order_close(*, actor, repair_order, closed_at=None) -> RepairOrder`
- `repair_order_cancel(*, actor, repair_order) -> RepairOrder`

A VIN of the wrong shape is refused with what is wrong with it; a VIN the dealer does not know is
refused naming it (nothing is created: the vehicle is added first, with its owner). A mileage
that contradicts the car's readings is not refused — the repair order is real — but its reading
is stored flagged by the forecast's `mileage_reading_record`, and the page warns.

Opening and closing tell the listeners of `events` on commit (recall completion, the care
engine's follow-up and service-to-sales rules) and refresh the vehicle's service forecast.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.bookings.services import as_local, dealer_time_zone
from dealercrm.core.models import User
from dealercrm.core.tenancy import DealerScope, dealer_scope
from dealercrm.vehicles.models import Vehicle
from dealercrm.vehicles.validators import validate_vin

from ..events import repair_order_event
from ..models import (
    Appointment,
    LineType,
    Payer,
    RecallCampaign,
    RepairKind,
    RepairOrder,
    RepairOrderLine,
    RepairOrderStatus,
)

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")
NUMBER_ATTEMPTS = 20
UPDATE_FIELDS = ("kind", "payer", "advisor", "advisor_name", "customer_concern", "diagnosis")


def _decimal(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    try:
        number = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, TypeError, ValueError):
        errors.setdefault(field, []).append(_("Enter a number."))
        return None
    if abs(number) > MAX_AMOUNT:
        errors.setdefault(field, []).append(_("This number is too large."))
        return None
    return number


def _clean_line(values: Mapping[str, Any], default_payer: str) -> dict[str, Any]:
    """A line's values, or a ValidationError naming each wrong field."""
    errors: dict[str, list[str]] = {}
    line_type = values.get("line_type", LineType.LABOUR)
    if line_type not in LineType.values:
        errors.setdefault("line_type", []).append(_("Choose labour, part or other."))
    description = str(values.get("description") or "").strip()
    if not description:
        errors.setdefault("description", []).append(_("Describe the work or the part."))
    elif len(description) > 200:
        errors.setdefault("description", []).append(_("At most 200 characters."))
    quantity = _decimal(values.get("quantity", 1), "quantity", errors)
    if quantity is not None and quantity <= 0:
        errors.setdefault("quantity", []).append(_("The quantity must be more than 0."))
    unit_price = _decimal(values.get("unit_price", 0) or 0, "unit_price", errors)
    if unit_price is not None and unit_price < 0:
        errors.setdefault("unit_price", []).append(_("A price cannot be negative."))
    amount_given = values.get("amount")
    amount = None
    if amount_given not in (None, ""):
        amount = _decimal(amount_given, "amount", errors)
    payer = values.get("payer") or default_payer
    if payer not in Payer.values:
        errors.setdefault("payer", []).append(_("Choose who pays."))
    code = str(values.get("code") or "").strip()[:40]
    if errors:
        raise ValidationError(errors)
    if amount is None:
        amount = (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
    return {
        "line_type": line_type,
        "code": code,
        "description": description,
        "quantity": quantity,
        "unit_price": unit_price,
        "amount": amount,
        "payer": payer,
    }


def totals_recompute(*, dealer_id: int, repair_order_ids: list[int]) -> int:
    """Labour, parts and total of the repair orders from their lines, in one UPDATE."""

    def line_sum(condition: Q | None = None) -> Coalesce:
        lines = RepairOrderLine.objects.filter(dealer_id=dealer_id, repair_order_id=OuterRef("pk"))
        if condition is not None:
            lines = lines.filter(condition)
        total = lines.order_by().values("repair_order_id").annotate(s=Sum("amount")).values("s")
        return Coalesce(
            Subquery(total, output_field=DecimalField(max_digits=12, decimal_places=2)),
            Value(Decimal("0.00")),
            output_field=DecimalField(max_digits=12, decimal_places=2),
        )

    return RepairOrder.objects.filter(dealer_id=dealer_id, pk__in=repair_order_ids).update(
        labour_amount=line_sum(Q(line_type=LineType.LABOUR)),
        parts_amount=line_sum(Q(line_type=LineType.PART)),
        total_amount=line_sum(),
        updated_at=timezone.now(),
    )


def _next_number(dealer_id: int, opened_at: datetime.datetime, tz: Any, offset: int) -> str:
    """R + the local date + a sequence of the dealer's day: R20250305001."""
    prefix = "R" + opened_at.astimezone(tz).strftime("%Y%m%d")
    taken = RepairOrder.objects.filter(dealer_id=dealer_id, number__startswith=prefix).count()
    return f"{prefix}{taken + 1 + offset:03d}"


def _forecast_scope(dealer_id: int) -> Any:
    """The forecast's functions read with .unscoped() (they are written for the network-wide
    jobs), which a dealer's request scope refuses. This scope still limits every scoped read to
    the one dealer; it only lets their explicit unscoped reads through."""
    return dealer_scope(DealerScope.for_dealers([dealer_id], is_network=True))


def _forecast_refresh(dealer_id: int, vehicle_id: int) -> None:
    """The vehicle's last visit and next service follow at once."""
    from .forecast import forecast_refresh

    with _forecast_scope(dealer_id):
        forecast_refresh(dealer_id=dealer_id, vehicle_ids=[vehicle_id])


def _find_vehicle(dealer_id: int, vin: str) -> Vehicle:
    try:
        clean = validate_vin(vin or "")
    except ValidationError as exc:
        raise ValidationError({"vin": exc.messages}) from exc
    vehicle = Vehicle.objects.filter(dealer_id=dealer_id, vin=clean).select_related("owner").first()
    if vehicle is None:
        raise ValidationError(
            {
                "vin": _(
                    "No vehicle with VIN %(vin)s is known at this dealer; add the vehicle first."
                )
                % {"vin": clean}
            }
        )
    return vehicle


@transaction.atomic
def repair_order_open(
    *,
    actor: User | None,
    dealer_id: int,
    vin: str,
    kind: str,
    opened_at: datetime.datetime | None = None,
    number: str = "",
    mileage_km: int | None = None,
    advisor: User | None = None,
    advisor_name: str = "",
    payer: str = Payer.CUSTOMER,
    customer_concern: str = "",
    appointment: Appointment | None = None,
    recall_campaign: RecallCampaign | None = None,
    lines: Iterable[Mapping[str, Any]] = (),
) -> RepairOrder:
    """Open the repair order of a car that came in, or refuse with the reasons, writing nothing."""
    vehicle = _find_vehicle(dealer_id, vin)
    tz = dealer_time_zone(dealer_id)
    errors: dict[str, list[str]] = {}
    if kind not in RepairKind.values:
        errors.setdefault("kind", []).append(_("Choose the type of repair order."))
    if payer not in Payer.values:
        errors.setdefault("payer", []).append(_("Choose who pays."))
    now = timezone.now()
    opened_at = as_local(opened_at, tz) if opened_at is not None else now
    if not isinstance(opened_at, datetime.datetime):
        errors.setdefault("opened_at", []).append(_("Enter when the car came in."))
    elif opened_at > now + datetime.timedelta(minutes=5):
        errors.setdefault("opened_at", []).append(
            _("A repair order is opened when the car is here, not in the future.")
        )
    if mileage_km is not None:
        try:
            mileage_km = int(mileage_km)
        except (TypeError, ValueError):
            errors.setdefault("mileage_km", []).append(_("Enter the mileage in whole km."))
        else:
            if mileage_km < 0:
                errors.setdefault("mileage_km", []).append(_("Mileage cannot be negative."))
    if advisor is not None and advisor.dealer_id != dealer_id:
        errors.setdefault("advisor", []).append(_("Choose a service advisor of the dealer."))
    if appointment is not None:
        if appointment.dealer_id != dealer_id:
            errors.setdefault("appointment", []).append(
                _("Choose one of the dealer's appointments.")
            )
        elif RepairOrder.objects.filter(
            dealer_id=dealer_id, appointment_id=appointment.pk
        ).exists():
            errors.setdefault("appointment", []).append(
                _("This appointment already has its repair order.")
            )
    number = (number or "").strip()
    if number:
        if len(number) > 40:
            errors.setdefault("number", []).append(_("At most 40 characters."))
        elif RepairOrder.objects.filter(dealer_id=dealer_id, number=number).exists():
            errors.setdefault("number", []).append(
                _("Repair order %(number)s exists already.") % {"number": number}
            )
    cleaned_lines = []
    for index, values in enumerate(lines):
        try:
            cleaned_lines.append(_clean_line(values, payer if payer in Payer.values else ""))
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault("lines", []).extend(
                    _("Line %(n)d, %(field)s: %(message)s")
                    % {"n": index + 1, "field": field, "message": message}
                    for message in messages
                )
    if errors:
        raise ValidationError(errors)

    reading = None
    if mileage_km is not None:
        from .forecast import mileage_reading_record

        try:
            with _forecast_scope(dealer_id):
                reading = mileage_reading_record(
                    dealer_id=dealer_id,
                    vehicle_id=vehicle.pk,
                    km=mileage_km,
                    read_on=opened_at.astimezone(tz).date(),
                    source="service",
                )
        except ValidationError as exc:
            raise ValidationError({"mileage_km": exc.messages}) from exc

    repair_order = RepairOrder(
        dealer_id=dealer_id,
        vehicle=vehicle,
        customer_id=vehicle.owner_id,
        vin=vehicle.vin,
        plate=vehicle.plate,
        kind=kind,
        opened_at=opened_at,
        mileage_km=mileage_km,
        advisor=advisor,
        advisor_name=(advisor_name or (str(advisor) if advisor else "")).strip()[:50],
        payer=payer,
        customer_concern=(customer_concern or "").strip(),
        appointment=appointment,
        recall_campaign=recall_campaign,
        mileage_reading=reading,
        created_by=actor,
    )
    for attempt in range(NUMBER_ATTEMPTS):
        repair_order.number = number or _next_number(dealer_id, opened_at, tz, attempt)
        try:
            with transaction.atomic():
                repair_order.save(force_insert=True)
            break
        except IntegrityError:
            repair_order.pk = None
            if number:
                raise ValidationError(
                    {"number": _("Repair order %(number)s exists already.") % {"number": number}}
                ) from None
    else:  # pragma: no cover - twenty concurrent openings in the same instant
        raise ValidationError({"number": _("No free repair order number: try again.")})
    if cleaned_lines:
        RepairOrderLine.objects.bulk_create(
            [
                RepairOrderLine(dealer_id=dealer_id, repair_order=repair_order, **values)
                for values in cleaned_lines
            ]
        )
        totals_recompute(dealer_id=dealer_id, repair_order_ids=[repair_order.pk])
        repair_order.refresh_from_db(
            fields=["labour_amount", "parts_amount", "total_amount", "updated_at"]
        )
    repair_order_event("opened", repair_order.pk, dealer_id)
    _forecast_refresh(dealer_id, vehicle.pk)
    return repair_order


def _locked(repair_order: RepairOrder) -> RepairOrder:
    return RepairOrder.objects.select_for_update().get(
        pk=repair_order.pk, dealer_id=repair_order.dealer_id
    )


def _refuse_unless_open(repair_order: RepairOrder) -> None:
    if repair_order.status != RepairOrderStatus.OPEN:
        raise ValidationError(
            {
                "status": _("Repair order %(number)s is %(status)s: it can no longer be changed.")
                % {
                    "number": repair_order.number,
                    "status": repair_order.get_status_display().lower(),
                }
            }
        )


def _copy(target: RepairOrder, source: RepairOrder) -> RepairOrder:
    for name in (
        "status",
        "closed_at",
        "labour_amount",
        "parts_amount",
        "total_amount",
        "updated_at",
        *UPDATE_FIELDS,
    ):
        setattr(target, name, getattr(source, name))
    target.advisor_id = source.advisor_id
    return target


@transaction.atomic
def repair_order_add_line(
    *,
    actor: User | None,
    repair_order: RepairOrder,
    line_type: str,
    description: str,
    quantity: Any = 1,
    unit_price: Any = 0,
    amount: Any = None,
    code: str = "",
    payer: str | None = None,
) -> RepairOrderLine:
    """A labour or parts line; the amount is quantity × unit price unless given (a DMS's
    discounted amount). The order's totals follow."""
    current = _locked(repair_order)
    _refuse_unless_open(current)
    values = _clean_line(
        {
            "line_type": line_type,
            "description": description,
            "quantity": quantity,
            "unit_price": unit_price,
            "amount": amount,
            "code": code,
            "payer": payer,
        },
        current.payer,
    )
    line = RepairOrderLine.objects.create(
        dealer_id=current.dealer_id, repair_order=current, **values
    )
    totals_recompute(dealer_id=current.dealer_id, repair_order_ids=[current.pk])
    current.refresh_from_db(fields=["labour_amount", "parts_amount", "total_amount", "updated_at"])
    _copy(repair_order, current)
    return line


@transaction.atomic
def repair_order_update(
    *, actor: User | None, repair_order: RepairOrder, **fields: Any
) -> RepairOrder:
    """Change the type, payer, advisor, the customer's description or the findings of an open
    order; the totals are recomputed from the lines."""
    unknown = set(fields) - set(UPDATE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown repair order fields: {sorted(unknown)}")
    current = _locked(repair_order)
    _refuse_unless_open(current)
    errors: dict[str, list[str]] = {}
    if "kind" in fields and fields["kind"] not in RepairKind.values:
        errors.setdefault("kind", []).append(_("Choose the type of repair order."))
    if "payer" in fields and fields["payer"] not in Payer.values:
        errors.setdefault("payer", []).append(_("Choose who pays."))
    advisor = fields.get("advisor")
    if advisor is not None and advisor.dealer_id != current.dealer_id:
        errors.setdefault("advisor", []).append(_("Choose a service advisor of the dealer."))
    if errors:
        raise ValidationError(errors)
    changed = []
    for name, value in fields.items():
        if name in ("advisor_name", "customer_concern", "diagnosis"):
            value = (value or "").strip()
            if name == "advisor_name":
                value = value[:50]
        if getattr(current, name) != value:
            setattr(current, name, value)
            changed.append(name)
    if "advisor" in changed and "advisor_name" not in fields and advisor is not None:
        current.advisor_name = str(advisor)[:50]
        changed.append("advisor_name")
    if changed:
        current.updated_at = timezone.now()
        current.save(update_fields=[*changed, "updated_at"])
    totals_recompute(dealer_id=current.dealer_id, repair_order_ids=[current.pk])
    current.refresh_from_db(fields=["labour_amount", "parts_amount", "total_amount", "updated_at"])
    return _copy(repair_order, current)


@transaction.atomic
def repair_order_close(
    *, actor: User | None, repair_order: RepairOrder, closed_at: datetime.datetime | None = None
) -> RepairOrder:
    """Settle the order (结算): closed, the listeners told once on commit, the forecast refreshed."""
    current = _locked(repair_order)
    _refuse_unless_open(current)
    tz = dealer_time_zone(current.dealer_id)
    now = timezone.now()
    closed_at = as_local(closed_at, tz) if closed_at is not None else now
    if closed_at < current.opened_at:
        raise ValidationError(
            {"closed_at": _("A repair order cannot be closed before it was opened.")}
        )
    if closed_at > now + datetime.timedelta(minutes=5):
        raise ValidationError({"closed_at": _("A repair order cannot be closed in the future.")})
    totals_recompute(dealer_id=current.dealer_id, repair_order_ids=[current.pk])
    current.status = RepairOrderStatus.CLOSED
    current.closed_at = closed_at
    current.updated_at = now
    current.save(update_fields=["status", "closed_at", "updated_at"])
    current.refresh_from_db(fields=["labour_amount", "parts_amount", "total_amount"])
    repair_order_event("closed", current.pk, current.dealer_id)
    _forecast_refresh(current.dealer_id, current.vehicle_id)
    return _copy(repair_order, current)


@transaction.atomic
def repair_order_cancel(*, actor: User | None, repair_order: RepairOrder) -> RepairOrder:
    """An order opened by mistake: cancelled (kept, never deleted), and no longer a visit."""
    current = _locked(repair_order)
    if current.status == RepairOrderStatus.CANCELLED:
        return _copy(repair_order, current)
    _refuse_unless_open(current)
    current.status = RepairOrderStatus.CANCELLED
    current.updated_at = timezone.now()
    current.save(update_fields=["status", "updated_at"])
    _forecast_refresh(current.dealer_id, current.vehicle_id)
    return _copy(repair_order, current)
