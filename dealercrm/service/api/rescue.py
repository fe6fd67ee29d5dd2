"""The roadside rescue API (under /api/service/): list, log a call, one rescue, and its steps
(dispatch, arrived, finish). Scoped like the pages: another dealer's rescue answers 404; a step
out of order is refused (422, keyed "status", saying which step comes first)."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.models import Customer
from dealercrm.vehicles.models import Vehicle

from ..models import RescueCall
from ..selectors import rescue as selectors
from ..services import rescue as services

router = Router(tags=["service"])


class RescueOut(Schema):
    id: int
    dealer_id: int
    customer_id: int | None
    vehicle_id: int | None
    caller_name: str
    caller_phone: str = Field(description="Masked: 138****1234")
    location: str
    problem: str
    description: str
    status: str
    called_at: datetime.datetime
    dispatched_at: datetime.datetime | None
    arrived_at: datetime.datetime | None
    done_at: datetime.datetime | None
    responder_id: int | None
    dispatched_to: str
    outcome: str
    outcome_note: str
    repair_order_id: int | None
    follow_up_task_id: int | None

    @staticmethod
    def resolve_caller_phone(obj: RescueCall) -> str:
        return mask_phone(obj.caller_phone) if obj.caller_phone else ""


class RescueListQuery(Schema):
    status: str = Field(
        default="", description="open, called, dispatched, arrived, done, cancelled"
    )
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class RescueIn(Schema):
    caller_phone: str
    location: str
    problem: str
    caller_name: str = ""
    description: str = ""
    customer_id: int | None = None
    vehicle_id: int | None = None


class DispatchIn(Schema):
    responder_id: int | None = None
    partner: str = ""


class FinishIn(Schema):
    outcome: str = Field(description="fixed_on_site, towed_to_dealer, towed_elsewhere, cancelled")
    note: str = ""
    open_repair_order: bool = False


def _rescue(request: HttpRequest, rescue_id: int) -> RescueCall:
    return selectors.get_rescue_for_user(request.user, rescue_id)


@router.get("/rescues", response=list[RescueOut])
@api_permission(Perm.WORK_RESCUE)
def rescues_list(request: HttpRequest, query: Query[RescueListQuery]):  # noqa: ANN201
    qs = selectors.rescue_list(status=query.status)
    return list(qs[query.offset : query.offset + query.limit])


@router.post("/rescues", response={201: RescueOut})
@api_permission(Perm.WORK_RESCUE)
def rescues_create(request: HttpRequest, payload: RescueIn):  # noqa: ANN201
    dealer_id = request.user.dealer_id
    customer = vehicle = None
    if payload.vehicle_id is not None:
        vehicle = Vehicle.objects.filter(pk=payload.vehicle_id).first()
        if vehicle is None:
            raise ValidationError({"vehicle_id": _("Choose a car of this dealer.")})
        dealer_id = dealer_id or vehicle.dealer_id
    if payload.customer_id is not None:
        customer = Customer.objects.filter(pk=payload.customer_id, is_deleted=False).first()
        if customer is None:
            raise ValidationError({"customer_id": _("Choose a customer of this dealer.")})
        dealer_id = dealer_id or customer.dealer_id
    if not dealer_id:
        raise ValidationError({"customer_id": _("Say whose rescue this is: a customer or a car.")})
    rescue = services.rescue_create(
        actor=request.user,
        dealer_id=dealer_id,
        customer=customer,
        vehicle=vehicle,
        caller_name=payload.caller_name,
        caller_phone=payload.caller_phone,
        location=payload.location,
        problem=payload.problem,
        description=payload.description,
    )
    return Status(201, rescue)


@router.get("/rescues/{rescue_id}", response=RescueOut)
@api_permission(Perm.WORK_RESCUE)
def rescues_get(request: HttpRequest, rescue_id: int):  # noqa: ANN201
    return _rescue(request, rescue_id)


@router.post("/rescues/{rescue_id}/dispatch", response=RescueOut)
@api_permission(Perm.WORK_RESCUE)
def rescues_dispatch(request: HttpRequest, rescue_id: int, payload: DispatchIn):  # noqa: ANN201
    rescue = _rescue(request, rescue_id)
    responder = None
    if payload.responder_id is not None:
        responder = User.objects.filter(pk=payload.responder_id, dealer_id=rescue.dealer_id).first()
        if responder is None:
            raise ValidationError({"responder_id": _("Choose someone of this dealer.")})
    return services.rescue_dispatch(
        actor=request.user, rescue=rescue, responder=responder, partner=payload.partner
    )


@router.post("/rescues/{rescue_id}/arrived", response=RescueOut)
@api_permission(Perm.WORK_RESCUE)
def rescues_arrived(request: HttpRequest, rescue_id: int):  # noqa: ANN201
    return services.rescue_arrive(actor=request.user, rescue=_rescue(request, rescue_id))


@router.post("/rescues/{rescue_id}/finish", response=RescueOut)
@api_permission(Perm.WORK_RESCUE)
def rescues_finish(request: HttpRequest, rescue_id: int, payload: FinishIn):  # noqa: ANN201
    return services.rescue_finish(
        actor=request.user,
        rescue=_rescue(request, rescue_id),
        outcome=payload.outcome,
        note=payload.note,
        open_repair_order=payload.open_repair_order,
    )
