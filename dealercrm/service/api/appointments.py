"""The service appointment API (under /api/service/): list, book, get, cancel, the free slots.

Scoped like the pages: another dealer's appointment, customer, car or bay answers 404 or is
refused as "not one of the dealer's". Writes go through services.appointments, so the rules are
the calendar's (422 keyed by the field, naming the clash). Times without a zone are the dealer's
local time.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.bookings.models import Resource
from dealercrm.bookings.services import dealer_time_zone
from dealercrm.core.access import api_permission
from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import get_dealer_for_user, visible_dealers
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.models import Customer
from dealercrm.vehicles.models import Vehicle

from ..models import Appointment, AppointmentChannel, RepairKind
from ..selectors import appointments as selectors
from ..services import appointments as services

router = Router(tags=["service"])


class AppointmentOut(Schema):
    id: int
    dealer_id: int
    customer_id: int
    customer_name: str
    customer_phone: str = Field(description="Masked: 138****1234")
    vehicle_id: int | None
    plate: str
    channel: str
    kind: str
    advisor_id: int | None
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    bay_id: int | None
    bay: str
    loan_car_id: int | None
    status: str
    concern: str
    source_kind: str
    source_id: str
    cancel_reason: str
    repair_order_id: int | None


def _out(appointment: Appointment) -> dict:
    bay = appointment.bay_booking.resource if appointment.bay_booking_id else None
    loan = appointment.loan_car_booking.resource if appointment.loan_car_booking_id else None
    repair_order = getattr(appointment, "repair_order", None)
    phone = getattr(appointment, "customer_phone", "") or ""
    return {
        "id": appointment.pk,
        "dealer_id": appointment.dealer_id,
        "customer_id": appointment.customer_id,
        "customer_name": appointment.customer.name,
        "customer_phone": mask_phone(phone) if phone else "",
        "vehicle_id": appointment.vehicle_id,
        "plate": appointment.vehicle.plate if appointment.vehicle_id else "",
        "channel": appointment.channel,
        "kind": appointment.kind,
        "advisor_id": appointment.advisor_id,
        "starts_at": appointment.starts_at,
        "ends_at": appointment.ends_at,
        "bay_id": bay.pk if bay else None,
        "bay": bay.name if bay else "",
        "loan_car_id": loan.pk if loan else None,
        "status": appointment.status,
        "concern": appointment.concern,
        "source_kind": appointment.source_kind,
        "source_id": appointment.source_id,
        "cancel_reason": appointment.cancel_reason,
        "repair_order_id": repair_order.pk if repair_order else None,
    }


class AppointmentListOut(Schema):
    count: int
    items: list[AppointmentOut]


class AppointmentListQuery(Schema):
    day_from: datetime.date | None = Field(default=None, description="Default: today")
    day_to: datetime.date | None = None
    status: str = Field(default="", description="booked, arrived, cancelled, no_show")
    customer_id: int | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class AppointmentIn(Schema):
    customer_id: int
    vehicle_id: int | None = None
    starts_at: datetime.datetime
    ends_at: datetime.datetime | None = Field(default=None, description="Default: one slot")
    channel: str = Field(
        default=AppointmentChannel.PHONE, description="phone, online, walk_in, care_call"
    )
    kind: str = RepairKind.MAINTENANCE
    advisor_id: int | None = None
    bay_id: int | None = Field(default=None, description="Default: the first free bay")
    loan_car_id: int | None = None
    concern: str = ""
    source_kind: str = Field(
        default="", description="With source_id: booking twice returns the first"
    )
    source_id: str = ""


class CancelIn(Schema):
    reason: str = ""


class FreeSlotOut(Schema):
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    free_bays: int


class FreeSlotQuery(Schema):
    day: datetime.date | None = Field(default=None, description="Default: today")
    dealer_id: int | None = Field(default=None, description="Network users: the dealer")


def _get(request: HttpRequest, appointment_id: int) -> Appointment:
    return selectors.get_appointment_for_user(request.user, appointment_id)


@router.get(
    "/appointments", response=AppointmentListOut, summary="List appointments, soonest first"
)
@api_permission(Perm.VIEW_SERVICE)
def appointments_list(request: HttpRequest, params: Query[AppointmentListQuery]) -> dict:
    day_from = params.day_from
    if day_from is None and request.user.dealer_id:
        day_from = timezone.now().astimezone(dealer_time_zone(request.user.dealer_id)).date()
    qs = selectors.appointment_list(
        request.user,
        status=params.status,
        day_from=day_from,
        day_to=params.day_to,
        customer_id=params.customer_id,
    ).select_related("loan_car_booking__resource", "repair_order")
    items = [_out(a) for a in qs[params.offset : params.offset + params.limit]]
    return {"count": qs.count(), "items": items}


@router.get("/appointments/free-slots", response=list[FreeSlotOut], summary="Free slots of a day")
@api_permission(Perm.VIEW_SERVICE)
def appointments_free_slots(request: HttpRequest, params: Query[FreeSlotQuery]) -> list[dict]:
    dealer_id = request.user.dealer_id or params.dealer_id
    if dealer_id:
        dealer = get_dealer_for_user(request.user, dealer_id)
    else:
        dealer = visible_dealers(request.user).order_by("name").first()
        if dealer is None:
            return []
    day = params.day or timezone.now().astimezone(dealer_time_zone(dealer.pk)).date()
    return [
        {"starts_at": s, "ends_at": e, "free_bays": n}
        for s, e, n in selectors.free_slots(dealer.pk, day)
    ]


def _one(model, dealer_id: int, pk: int | None, field: str, message: str):  # noqa: ANN001, ANN202
    if pk is None:
        return None
    found = model.objects.filter(dealer_id=dealer_id, pk=pk).first()
    if found is None:
        raise ValidationError({field: message})
    return found


@router.post("/appointments", response={201: AppointmentOut}, summary="Book an appointment")
@api_permission(Perm.WORK_SERVICE)
def appointments_create(request: HttpRequest, payload: AppointmentIn):  # noqa: ANN201
    customer = Customer.objects.filter(pk=payload.customer_id).first()
    if customer is None or (
        request.user.dealer_id and customer.dealer_id != request.user.dealer_id
    ):
        raise ValidationError({"customer_id": _("Choose one of the dealer's customers.")})
    dealer_id = customer.dealer_id
    vehicle = _one(
        Vehicle,
        dealer_id,
        payload.vehicle_id,
        "vehicle_id",
        _("Choose one of the customer's cars."),
    )
    advisor = None
    if payload.advisor_id is not None:
        advisor = User.objects.filter(dealer_id=dealer_id, pk=payload.advisor_id).first()
        if advisor is None:
            raise ValidationError({"advisor_id": _("Choose a service advisor of the dealer.")})
    bay = _one(Resource, dealer_id, payload.bay_id, "bay_id", _("Choose one of the dealer's bays."))
    loan_car = _one(
        Resource,
        dealer_id,
        payload.loan_car_id,
        "loan_car_id",
        _("Choose one of the dealer's loan cars."),
    )
    try:
        appointment = services.appointment_create(
            actor=request.user,
            customer=customer,
            starts_at=payload.starts_at,
            ends_at=payload.ends_at,
            channel=payload.channel,
            vehicle=vehicle,
            kind=payload.kind,
            advisor=advisor,
            bay=bay,
            loan_car=loan_car,
            concern=payload.concern,
            source_kind=payload.source_kind,
            source_id=payload.source_id,
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            names = {
                "vehicle": "vehicle_id",
                "advisor": "advisor_id",
                "bay": "bay_id",
                "loan_car": "loan_car_id",
            }
            raise ValidationError(
                {names.get(k, k): v for k, v in exc.message_dict.items()}
            ) from exc
        raise
    return Status(201, _out(_get(request, appointment.pk)))


@router.get("/appointments/{appointment_id}", response=AppointmentOut, summary="An appointment")
@api_permission(Perm.VIEW_SERVICE)
def appointments_get(request: HttpRequest, appointment_id: int) -> dict:
    return _out(_get(request, appointment_id))


@router.post(
    "/appointments/{appointment_id}/cancel",
    response=AppointmentOut,
    summary="Cancel; frees the bay",
)
@api_permission(Perm.WORK_SERVICE)
def appointments_cancel(request: HttpRequest, appointment_id: int, payload: CancelIn) -> dict:
    appointment = _get(request, appointment_id)
    services.appointment_cancel(actor=request.user, appointment=appointment, reason=payload.reason)
    return _out(_get(request, appointment_id))
