"""API: quotes — create a version (with its lines), get one, list a lead's versions, and
calculate the figures without saving.

Amounts are yuan with two decimals, sent and answered as decimal strings ("199800.00") so no
fen is lost to floating point. `annual_rate` is a fraction: 0.048 is 4.8 % a year; 0 is an
interest-free plan. The checks are the pages' (services/quotes.py): a refused input answers 422
with the errors keyed by field, and nothing is saved.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.vehicles.models import CarModel

from ..models import Quote, QuoteLine
from ..selectors import quotes as selectors
from ..services import quotes as services

router = Router(tags=["sales"])


class LineIn(Schema):
    kind: str = Field(default=QuoteLine.Kind.ACCESSORY, description="accessory, service or other")
    description: str
    amount: Decimal


class FiguresIn(Schema):
    car_model_id: int
    vehicle_price: Decimal = Field(description="List or agreed price of the vehicle, VAT included")
    quote_date: datetime.date | None = Field(
        default=None, description="Decides the purchase-tax rule; today when left out"
    )
    discount: Decimal = Decimal("0")
    compulsory_insurance: Decimal = Decimal("0")
    commercial_insurance: Decimal = Decimal("0")
    registration_fee: Decimal = Decimal("0")
    extended_warranty: Decimal = Decimal("0")
    trade_in_credit: Decimal = Decimal("0")
    lines: list[LineIn] = Field(default_factory=list, description="Accessories, service packages")
    term_months: int = Field(default=0, description="0: no loan")
    annual_rate: Decimal | None = Field(
        default=None, description="A fraction: 0.048 = 4.8 % a year; needed with a term"
    )
    down_payment: Decimal = Decimal("0")


class QuoteIn(FiguresIn):
    lead_id: int
    colour: str = ""
    valid_until: datetime.date | None = Field(
        default=None, description="A week after the quote date when left out"
    )
    notes: str = Field(default="", description="Internal: never shown to the customer")


class LineOut(Schema):
    kind: str
    description: str
    amount: Decimal


class QuoteOut(Schema):
    id: int
    lead_id: int
    customer_id: int
    version: int
    status: str
    car_model_id: int
    car_model: str
    colour: str
    quote_date: datetime.date
    valid_until: datetime.date | None
    vehicle_price: Decimal
    discount: Decimal
    purchase_tax: Decimal
    tax_rule_id: int | None
    tax_rule_name: str
    compulsory_insurance: Decimal
    commercial_insurance: Decimal
    registration_fee: Decimal
    accessories_total: Decimal
    extended_warranty: Decimal
    trade_in_credit: Decimal
    lines: list[LineOut]
    down_payment: Decimal
    term_months: int
    annual_rate: Decimal
    loan_amount: Decimal
    monthly_payment: Decimal
    total: Decimal
    notes: str
    share_url: str = Field(description="The customer's read-only link (no login)")
    created_by: str | None
    created_at: datetime.datetime


class QuoteSummaryOut(Schema):
    id: int
    version: int
    status: str
    car_model_id: int
    quote_date: datetime.date
    valid_until: datetime.date | None
    total: Decimal
    monthly_payment: Decimal
    term_months: int
    created_at: datetime.datetime


class CalculationOut(Schema):
    quote_date: datetime.date
    tax_rule_id: int | None
    tax_rule_name: str
    vehicle_net: Decimal = Field(description="Vehicle price less discount")
    taxable_price: Decimal = Field(description="Vehicle net before 13 % VAT")
    full_tax: Decimal = Field(description="10 % of the taxable price")
    tax_relief: Decimal
    purchase_tax: Decimal
    accessories_total: Decimal
    insurance_total: Decimal
    total: Decimal
    loan_amount: Decimal
    monthly_payment: Decimal
    total_repaid: Decimal
    interest: Decimal
    due_at_purchase: Decimal


def _quote_out(quote: Quote) -> dict[str, Any]:
    return {
        **{
            name: getattr(quote, name)
            for name in (
                "id",
                "lead_id",
                "customer_id",
                "version",
                "status",
                "car_model_id",
                "colour",
                "quote_date",
                "valid_until",
                "vehicle_price",
                "discount",
                "purchase_tax",
                "tax_rule_id",
                "tax_rule_name",
                "compulsory_insurance",
                "commercial_insurance",
                "registration_fee",
                "accessories_total",
                "extended_warranty",
                "trade_in_credit",
                "down_payment",
                "term_months",
                "annual_rate",
                "loan_amount",
                "monthly_payment",
                "total",
                "notes",
                "created_at",
            )
        },
        "car_model": str(quote.car_model),
        "lines": [
            {"kind": line.kind, "description": line.description, "amount": line.amount}
            for line in quote.lines.all()
        ],
        "share_url": selectors.share_url(quote),
        "created_by": str(quote.created_by) if quote.created_by_id else None,
    }


def _car_model(car_model_id: int) -> CarModel:
    model = CarModel.objects.filter(pk=car_model_id).first()
    if model is None:
        raise ValidationError({"car_model_id": _("There is no such model in the catalogue.")})
    return model


def _figure_kwargs(payload: FiguresIn) -> dict[str, Any]:
    values = payload.dict()
    values.pop("car_model_id")
    for name in ("lead_id", "colour", "valid_until", "notes"):
        values.pop(name, None)
    values["lines"] = [line.dict() for line in payload.lines]
    return values


@router.post(
    "/quotes",
    response={201: QuoteOut},
    summary="Create a quote (a new version for the lead)",
)
@api_permission(Perm.WORK_LEADS)
def quote_create(request: HttpRequest, payload: QuoteIn) -> Status:
    """The lead's previous current version is superseded and the lead moves on to
    "negotiation". Purchase tax, loan and monthly payment are computed, not sent."""
    lead = selectors.get_lead_for_quoting(request.user, payload.lead_id)
    quote = services.quote_create(
        actor=request.user,
        lead=lead,
        car_model=_car_model(payload.car_model_id),
        colour=payload.colour,
        valid_until=payload.valid_until,
        notes=payload.notes,
        **_figure_kwargs(payload),
    )
    return Status(201, _quote_out(selectors.get_quote_for_user(request.user, quote.pk)))


@router.post(
    "/quotes/calculate",
    response=CalculationOut,
    summary="Compute a quote's figures without saving",
)
@api_permission(Perm.WORK_LEADS)
def quote_calculate(request: HttpRequest, payload: FiguresIn) -> dict[str, Any]:
    """Purchase tax by the rule in force on the date for the model's powertrain, the loan and
    its monthly payment, the total — exactly as a saved quote would have them."""
    calc = services.quote_calculate(
        car_model=_car_model(payload.car_model_id), **_figure_kwargs(payload)
    )
    f = calc.figures
    return {
        "quote_date": calc.quote_date,
        "tax_rule_id": calc.rule.pk if calc.rule else None,
        "tax_rule_name": calc.rule_name,
        "vehicle_net": f.vehicle_net,
        "taxable_price": f.tax.taxable_price,
        "full_tax": f.tax.full_tax,
        "tax_relief": f.tax.relief,
        "purchase_tax": f.purchase_tax,
        "accessories_total": f.accessories_total,
        "insurance_total": f.insurance_total,
        "total": f.total,
        "loan_amount": f.loan_amount,
        "monthly_payment": f.monthly_payment,
        "total_repaid": f.total_repaid,
        "interest": f.interest,
        "due_at_purchase": f.due_at_purchase,
    }


@router.get("/quotes/{quote_id}", response=QuoteOut, summary="A quote, every item listed")
@api_permission(Perm.VIEW_LEADS)
def quote_get(request: HttpRequest, quote_id: int) -> dict[str, Any]:
    return _quote_out(selectors.get_quote_for_user(request.user, quote_id))


@router.get(
    "/leads/{lead_id}/quotes",
    response=list[QuoteSummaryOut],
    summary="The versions of a lead's quote, newest first",
)
@api_permission(Perm.VIEW_LEADS)
def lead_quote_list(request: HttpRequest, lead_id: int) -> list[Quote]:
    lead = selectors.get_lead_for_quoting(request.user, lead_id)
    return list(selectors.lead_quotes(lead))
