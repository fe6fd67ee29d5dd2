"""API: orders — create from a lead, read, list, set a milestone, record the customer told about
a delay, deliver; and the delay-notice rate per dealer.

Scoped like the pages (another dealer's order answers 404; a consultant sees the orders of their
own leads) and written through the same services, so every rule holds here too: a sold vehicle,
a negative deposit or one above the price, a promised date in the past are refused with 422 and
an error per field, and nothing is saved.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.vehicles.models import CarModel, Vehicle

from ..models import Lead, Order, Quote
from ..selectors import orders as selectors
from ..services import orders as services

router = Router(tags=["sales"])


# --- schemas ------------------------------------------------------------------------------------


class MilestoneOut(Schema):
    stage: str
    expected_on: datetime.date | None
    reached_on: datetime.date | None
    done: bool


class OrderOut(Schema):
    id: int
    dealer_id: int
    number: str
    lead_id: int
    customer_id: int
    quote_id: int | None
    car_model_id: int
    colour: str
    vehicle_id: int | None
    vin: str = Field(description="The allocated or delivered car's VIN, empty when none")
    ordered_on: datetime.date
    price: Decimal
    deposit: Decimal
    deposit_paid_on: datetime.date | None
    promised_delivery_on: datetime.date
    expected_delivery_on: datetime.date
    stage: str
    delivered_on: datetime.date | None
    cancelled_reason: str
    delay_detected_at: datetime.datetime | None
    customer_told_at: datetime.datetime | None
    told_in_time: bool | None = Field(description="Told before the promised date; null: not yet")
    tracking_url: str = Field(description="The customer's tracking page (no login)")
    milestones: list[MilestoneOut] = Field(default=[], description="Only on a single order")


class OrderListOut(Schema):
    count: int
    items: list[OrderOut]


class OrderListQuery(Schema):
    stage: str = ""
    delayed: bool = False
    not_told: bool = Field(default=False, description="Delayed, customer not told yet")
    open: bool = Field(default=False, description="Not delivered or cancelled")
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class OrderIn(Schema):
    lead_id: int
    quote_id: int | None = Field(default=None, description="The model, colour and price from it")
    car_model_id: int | None = None
    price: Decimal | None = None
    deposit: Decimal = Decimal("0")
    deposit_paid_on: datetime.date | None = None
    promised_delivery_on: datetime.date
    colour: str = ""
    vehicle_id: int | None = Field(default=None, description="A car of the dealer's stock")
    expected_dates: dict[str, datetime.date] = Field(
        default={}, description="Expected date per stage; the rest is spread to the promise"
    )


class MilestoneIn(Schema):
    stage: str
    expected_on: datetime.date | None = None
    reached_on: datetime.date | None = None


class CustomerToldIn(Schema):
    at: datetime.datetime | None = Field(default=None, description="When; default now")


class DeliverIn(Schema):
    vin: str
    plate: str = ""
    delivered_on: datetime.date | None = Field(default=None, description="Default today")


class DelayRateOut(Schema):
    dealer_id: int
    delayed: int
    decided: int
    told: int
    told_in_time: int
    pending: int
    rate: Decimal | None = Field(description="told_in_time / decided; the documents found 0.471")


class DelayRateQuery(Schema):
    since: datetime.date | None = Field(default=None, description="Promised dates from")
    until: datetime.date | None = Field(default=None, description="Promised dates up to")


# --- helpers ------------------------------------------------------------------------------------


def _order_out(request: HttpRequest, order: Order, *, with_milestones: bool = False) -> dict:
    from django.urls import reverse

    out: dict[str, Any] = {
        field: getattr(order, field)
        for field in (
            "id",
            "dealer_id",
            "number",
            "lead_id",
            "customer_id",
            "quote_id",
            "car_model_id",
            "colour",
            "vehicle_id",
            "ordered_on",
            "price",
            "deposit",
            "deposit_paid_on",
            "promised_delivery_on",
            "expected_delivery_on",
            "stage",
            "delivered_on",
            "cancelled_reason",
            "delay_detected_at",
            "customer_told_at",
            "told_in_time",
        )
    }
    out["vin"] = order.vehicle.vin if order.vehicle_id and order.vehicle else ""
    out["tracking_url"] = request.build_absolute_uri(
        reverse("sales_public:tracking", kwargs={"tracking_token": order.tracking_token})
    )
    out["milestones"] = (
        [
            {
                "stage": m.stage,
                "expected_on": m.expected_on,
                "reached_on": m.reached_on,
                "done": m.done,
            }
            for m in selectors.order_milestones(order)
        ]
        if with_milestones
        else []
    )
    return out


def _fresh(request: HttpRequest, order_id: int) -> dict:
    return _order_out(
        request, selectors.get_order_for_user(request.user, order_id), with_milestones=True
    )


# --- operations ---------------------------------------------------------------------------------


@router.post("/orders", response={201: OrderOut}, summary="Create an order from a lead")
@api_permission(Perm.WORK_LEADS)
def order_create(request: HttpRequest, payload: OrderIn) -> Status:
    """Refused with 422 (an error per field, nothing saved): a closed lead, a sold vehicle
    (registered to a customer, delivered, or on another live order), a negative deposit or one
    above the price, a promised delivery date in the past."""
    lead = Lead.objects.visible_to(request.user).filter(pk=payload.lead_id).first()
    if lead is None:
        raise ValidationError({"lead_id": _("There is no such lead.")})
    quote = None
    if payload.quote_id is not None:
        quote = Quote.objects.filter(lead_id=lead.pk, pk=payload.quote_id).first()
        if quote is None:
            raise ValidationError({"quote_id": _("Choose a quote of this lead.")})
    car_model = None
    if payload.car_model_id is not None:
        car_model = CarModel.objects.filter(pk=payload.car_model_id).first()
        if car_model is None:
            raise ValidationError({"car_model_id": _("Choose a model from the catalogue.")})
    vehicle = None
    if payload.vehicle_id is not None:
        vehicle = Vehicle.objects.filter(dealer_id=lead.dealer_id, pk=payload.vehicle_id).first()
        if vehicle is None:
            raise ValidationError({"vehicle_id": _("Choose a vehicle of this dealer.")})
    try:
        order = services.order_create(
            actor=request.user,
            lead=lead,
            car_model=car_model,
            price=payload.price,
            deposit=payload.deposit,
            deposit_paid_on=payload.deposit_paid_on,
            promised_delivery_on=payload.promised_delivery_on,
            colour=payload.colour,
            quote=quote,
            vehicle=vehicle,
            expected_dates=payload.expected_dates,
            request=request,
        )
    except ValidationError as exc:
        raise _renamed(exc, {"vehicle": "vehicle_id", "car_model": "car_model_id"}) from exc
    return Status(201, _fresh(request, order.pk))


def _renamed(exc: ValidationError, names: dict[str, str]) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return exc
    return ValidationError(
        {names.get(key, key): messages for key, messages in exc.message_dict.items()}
    )


@router.get("/orders", response=OrderListOut, summary="List orders, newest first")
@api_permission(Perm.VIEW_LEADS)
def order_list(request: HttpRequest, params: Query[OrderListQuery]) -> dict[str, Any]:
    filters = selectors.OrderFilters(
        stage=params.stage,
        delayed=params.delayed,
        not_told=params.not_told,
        open_only=params.open,
    )
    qs = selectors.order_list(request.user, filters).select_related("vehicle")
    items = [_order_out(request, o) for o in qs[params.offset : params.offset + params.limit]]
    return {"count": qs.count(), "items": items}


@router.get(
    "/orders/delay-notice-rate",
    response=list[DelayRateOut],
    summary="Delayed orders told in time, per dealer",
)
@api_permission(Perm.VIEW_LEADS)
def order_delay_rate(request: HttpRequest, params: Query[DelayRateQuery]) -> list[dict]:
    """Per dealer the user sees: delayed orders (promised date within the period), how many of
    their customers were told before the promised date, and the rate (documents: 47.1%)."""
    user = request.user
    dealer_ids = [user.dealer_id] if user.dealer_id else None
    rates = selectors.delay_notice_rate(dealer_ids, params.since, params.until)
    return [
        {**vars(rate), "rate": rate.rate}
        for rate in sorted(rates.values(), key=lambda r: r.dealer_id)
    ]


@router.get("/orders/{order_id}", response=OrderOut, summary="An order with its milestones")
@api_permission(Perm.VIEW_LEADS)
def order_get(request: HttpRequest, order_id: int) -> dict:
    return _fresh(request, order_id)


@router.post(
    "/orders/{order_id}/milestones",
    response=OrderOut,
    summary="Set a stage's expected and/or reached date",
)
@api_permission(Perm.WORK_LEADS)
def order_milestone_set(request: HttpRequest, order_id: int, payload: MilestoneIn) -> dict:
    """Reaching a stage moves the order forward; the "delivered" stage's expected date is the
    forecast: past the promised date it starts the delay rule (one task to tell the customer).
    Delivery itself is POST /orders/{order_id}/deliver."""
    order = selectors.get_order_for_user(request.user, order_id)
    services.order_milestone_set(
        actor=request.user,
        order=order,
        stage=payload.stage,
        expected_on=payload.expected_on,
        reached_on=payload.reached_on,
        request=request,
    )
    return _fresh(request, order_id)


@router.post(
    "/orders/{order_id}/customer-told",
    response=OrderOut,
    summary="Record that the customer was told about the delay",
)
@api_permission(Perm.WORK_LEADS)
def order_customer_told(request: HttpRequest, order_id: int, payload: CustomerToldIn) -> dict:
    """The first time counts; `told_in_time` says whether it was before the promised date."""
    order = selectors.get_order_for_user(request.user, order_id)
    at = payload.at
    if at is not None and timezone.is_naive(at):
        at = timezone.make_aware(at)
    services.order_customer_told(
        actor=request.user, order=order, at=at, how=_("recorded through the API"), request=request
    )
    return _fresh(request, order_id)


@router.post("/orders/{order_id}/deliver", response=OrderOut, summary="Deliver the car")
@api_permission(Perm.WORK_LEADS)
def order_deliver(request: HttpRequest, order_id: int, payload: DeliverIn) -> dict:
    """The car (by VIN: from stock, or created) is registered to the customer, who becomes an
    owner; the consultant gets a follow-up call due within 3 days."""
    order = selectors.get_order_for_user(request.user, order_id)
    services.order_deliver(
        actor=request.user,
        order=order,
        vin=payload.vin,
        plate=payload.plate,
        delivered_on=payload.delivered_on,
        request=request,
    )
    return _fresh(request, order_id)
