"""The repair order API (under /api/service/): list, open (with lines), get, add a line, close.

An unknown VIN is refused (422 on "vin", naming it); a mileage that contradicts the car's
readings is saved and reported (`mileage_flag`). Scoped like the pages: another dealer's
repair order answers 404.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import get_dealer_for_user

from ..models import LineType, Payer, RepairOrder
from ..selectors import repair_orders as selectors
from ..services import repair_orders as services

router = Router(tags=["service"])


class LineOut(Schema):
    id: int
    line_type: str
    code: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    payer: str


class RepairOrderOut(Schema):
    id: int
    dealer_id: int
    number: str
    vehicle_id: int
    customer_id: int | None
    vin: str
    plate: str
    kind: str
    status: str
    opened_at: datetime.datetime
    closed_at: datetime.datetime | None
    mileage_km: int | None
    mileage_flag: str = Field(description="lower / jump when the reading contradicts the others")
    advisor_id: int | None
    advisor_name: str
    payer: str
    customer_concern: str
    labour_amount: Decimal
    parts_amount: Decimal
    total_amount: Decimal
    appointment_id: int | None
    recall_campaign_id: int | None
    lines: list[LineOut] = []


class RepairOrderListOut(Schema):
    count: int
    items: list[RepairOrderOut]


class RepairOrderListQuery(Schema):
    status: str = Field(default="", description="open, closed, cancelled")
    kind: str = ""
    advisor_id: int | None = None
    vehicle_id: int | None = None
    customer_id: int | None = None
    opened_from: datetime.date | None = None
    opened_to: datetime.date | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class LineIn(Schema):
    line_type: str = Field(default=LineType.LABOUR, description="labour, part, other")
    code: str = ""
    description: str
    quantity: Decimal = Decimal("1")
    unit_price: Decimal = Decimal("0")
    amount: Decimal | None = Field(default=None, description="Default: quantity × unit price")
    payer: str = Field(default="", description="Default: the order's payer")


class RepairOrderIn(Schema):
    vin: str
    kind: str
    opened_at: datetime.datetime | None = Field(default=None, description="Default: now")
    number: str = Field(default="", description="Default: R + date + sequence")
    mileage_km: int | None = None
    advisor_id: int | None = None
    advisor_name: str = ""
    payer: str = Payer.CUSTOMER
    customer_concern: str = ""
    lines: list[LineIn] = []
    dealer_id: int | None = Field(default=None, description="Network users: the dealer")


class CloseIn(Schema):
    closed_at: datetime.datetime | None = Field(default=None, description="Default: now")


def _out(repair_order: RepairOrder, *, lines: bool = True) -> dict:
    reading = repair_order.mileage_reading if repair_order.mileage_reading_id else None
    data = {
        name: getattr(repair_order, name)
        for name in (
            "number",
            "dealer_id",
            "vehicle_id",
            "customer_id",
            "vin",
            "plate",
            "kind",
            "status",
            "opened_at",
            "closed_at",
            "mileage_km",
            "advisor_id",
            "advisor_name",
            "payer",
            "customer_concern",
            "labour_amount",
            "parts_amount",
            "total_amount",
            "appointment_id",
            "recall_campaign_id",
        )
    }
    data["id"] = repair_order.pk
    data["mileage_flag"] = reading.flag if reading else ""
    data["lines"] = selectors.repair_order_lines(repair_order) if lines else []
    return data


def _get(request: HttpRequest, repair_order_id: int) -> RepairOrder:
    return selectors.get_repair_order_for_user(request.user, repair_order_id)


@router.get(
    "/repair-orders", response=RepairOrderListOut, summary="List repair orders, newest first"
)
@api_permission(Perm.VIEW_SERVICE)
def repair_orders_list(request: HttpRequest, params: Query[RepairOrderListQuery]) -> dict:
    qs = selectors.repair_order_list(
        request.user,
        status=params.status,
        kind=params.kind,
        advisor_id=params.advisor_id,
        opened_from=params.opened_from,
        opened_to=params.opened_to,
        vehicle_id=params.vehicle_id,
        customer_id=params.customer_id,
    ).select_related("mileage_reading")
    items = [_out(ro, lines=False) for ro in qs[params.offset : params.offset + params.limit]]
    return {"count": qs.count(), "items": items}


@router.post("/repair-orders", response={201: RepairOrderOut}, summary="Open a repair order")
@api_permission(Perm.WORK_SERVICE)
def repair_orders_create(request: HttpRequest, payload: RepairOrderIn):  # noqa: ANN201
    dealer_id = request.user.dealer_id
    if not dealer_id:
        if payload.dealer_id is None:
            raise ValidationError({"dealer_id": _("Choose the dealer.")})
        dealer_id = get_dealer_for_user(request.user, payload.dealer_id).pk
    advisor = None
    if payload.advisor_id is not None:
        advisor = User.objects.filter(dealer_id=dealer_id, pk=payload.advisor_id).first()
        if advisor is None:
            raise ValidationError({"advisor_id": _("Choose a service advisor of the dealer.")})
    repair_order = services.repair_order_open(
        actor=request.user,
        dealer_id=dealer_id,
        vin=payload.vin,
        kind=payload.kind,
        opened_at=payload.opened_at,
        number=payload.number,
        mileage_km=payload.mileage_km,
        advisor=advisor,
        advisor_name=payload.advisor_name,
        payer=payload.payer,
        customer_concern=payload.customer_concern,
        lines=[line.dict() for line in payload.lines],
    )
    return Status(201, _out(_get(request, repair_order.pk)))


@router.get("/repair-orders/{repair_order_id}", response=RepairOrderOut, summary="A repair order")
@api_permission(Perm.VIEW_SERVICE)
def repair_orders_get(request: HttpRequest, repair_order_id: int) -> dict:
    return _out(_get(request, repair_order_id))


@router.post(
    "/repair-orders/{repair_order_id}/lines", response={201: RepairOrderOut}, summary="Add a line"
)
@api_permission(Perm.WORK_SERVICE)
def repair_orders_add_line(request: HttpRequest, repair_order_id: int, payload: LineIn):  # noqa: ANN201
    repair_order = _get(request, repair_order_id)
    services.repair_order_add_line(
        actor=request.user,
        repair_order=repair_order,
        line_type=payload.line_type,
        description=payload.description,
        quantity=payload.quantity,
        unit_price=payload.unit_price,
        amount=payload.amount,
        code=payload.code,
        payer=payload.payer or None,
    )
    return Status(201, _out(_get(request, repair_order_id)))


@router.post(
    "/repair-orders/{repair_order_id}/close", response=RepairOrderOut, summary="Close (settle)"
)
@api_permission(Perm.WORK_SERVICE)
def repair_orders_close(request: HttpRequest, repair_order_id: int, payload: CloseIn) -> dict:
    repair_order = _get(request, repair_order_id)
    services.repair_order_close(
        actor=request.user, repair_order=repair_order, closed_at=payload.closed_at
    )
    return _out(_get(request, repair_order_id))
