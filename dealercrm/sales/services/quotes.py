"""Quotes. CONTRACT:
- `quote_create(*, actor, lead, car_model, vehicle_price, quote_date=None, discount=0, ...,
   lines=(), term_months=0, annual_rate=0, down_payment=0) -> Quote`  a new version; the
  previous current one is superseded; advances the lead to "negotiation".
The arithmetic (tax by the rules in force, annuity) is in ../pricing.py.

Also `quote_calculate(...)`: the same checks and figures without saving (the live
recalculation of the quote page, the API's calculate).
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.vehicles.models import CarModel

from ..models import Lead, LeadStage, PurchaseTaxRule, Quote, QuoteLine
from ..models.leads import CLOSED_STAGES
from ..pricing import (
    MAX_ANNUAL_RATE,
    MAX_TERM_MONTHS,
    STANDARD_RULE,
    QuoteFigures,
    QuoteInput,
    money,
    quote_figures,
)
from ..selectors.quotes import tax_rule_for

# How long a quote holds when no date is given (the price offered is for a week).
DEFAULT_VALID_DAYS = 7
MAX_LINES = 50
MAX_AMOUNT = Decimal("9999999999.99")  # what the MONEY columns hold
AMOUNT_FIELDS = (
    "vehicle_price",
    "discount",
    "compulsory_insurance",
    "commercial_insurance",
    "registration_fee",
    "extended_warranty",
    "trade_in_credit",
    "down_payment",
)


@dataclass(frozen=True)
class LineIn:
    """An itemised line: an accessory (精品), a service package, something else."""

    description: str
    amount: Decimal
    kind: str = QuoteLine.Kind.ACCESSORY


@dataclass(frozen=True)
class Calculation:
    """A quote's cleaned input, the tax rule it falls under and its figures."""

    values: QuoteInput
    lines: list[LineIn]
    rule: PurchaseTaxRule | None
    rule_name: str
    quote_date: datetime.date
    figures: QuoteFigures


class _Errors:
    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.by_field.setdefault(name, []).append(message)

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ValidationError(self.by_field)


def _amount(errors: _Errors, name: str, value: Any, *, label: str) -> Decimal:
    """A non-negative amount in yuan with at most 2 decimals, or an error naming the field."""
    if value is None or value == "":
        return Decimal("0.00")
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        errors.add(name, _("%(field)s must be an amount in yuan.") % {"field": label})
        return Decimal("0.00")
    if not amount.is_finite():
        errors.add(name, _("%(field)s must be an amount in yuan.") % {"field": label})
        return Decimal("0.00")
    if amount < 0:
        errors.add(name, _("%(field)s cannot be negative.") % {"field": label})
        return Decimal("0.00")
    if amount > MAX_AMOUNT:
        errors.add(name, _("%(field)s is too large.") % {"field": label})
        return Decimal("0.00")
    if amount != money(amount):
        errors.add(name, _("%(field)s has more than two decimals (fen).") % {"field": label})
    return money(amount)


def _labels() -> dict[str, str]:
    return {
        "vehicle_price": _("The vehicle price"),
        "discount": _("The discount"),
        "compulsory_insurance": _("Compulsory insurance"),
        "commercial_insurance": _("Commercial insurance"),
        "registration_fee": _("The registration fee"),
        "extended_warranty": _("The extended warranty"),
        "trade_in_credit": _("The trade-in credit"),
        "down_payment": _("The down payment"),
    }


def _clean_lines(errors: _Errors, lines: Iterable[Any]) -> list[LineIn]:
    cleaned: list[LineIn] = []
    kinds = set(QuoteLine.Kind.values)
    for index, raw in enumerate(lines, start=1):
        amount: Any
        if isinstance(raw, LineIn):
            description, amount, kind = raw.description, raw.amount, raw.kind
        elif isinstance(raw, Mapping):
            description = raw.get("description", "")
            amount = raw.get("amount")
            kind = raw.get("kind") or QuoteLine.Kind.ACCESSORY
        else:
            description, amount, kind = raw[0], raw[1], (raw[2] if len(raw) > 2 else "accessory")
        description = str(description or "").strip()
        if not description:
            errors.add("lines", _("Line %(n)s: say what the item is.") % {"n": index})
        elif len(description) > 200:
            errors.add("lines", _("Line %(n)s: the item's name is too long.") % {"n": index})
        if kind not in kinds:
            errors.add(
                "lines",
                _("Line %(n)s: “%(kind)s” is not a kind of line.") % {"n": index, "kind": kind},
            )
        label = _("Line %(n)s: the amount") % {"n": index}
        before = len(errors.by_field.get("lines", []))
        value = _amount(errors, "lines", amount, label=label)
        if amount is None or amount == "":
            errors.add("lines", _("Line %(n)s: give the amount.") % {"n": index})
        if len(errors.by_field.get("lines", [])) == before:
            cleaned.append(LineIn(description=description, amount=value, kind=kind))
    if len(cleaned) > MAX_LINES:
        errors.add("lines", _("At most %(n)s lines.") % {"n": MAX_LINES})
    return cleaned


def _parse_rate(errors: _Errors, value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        rate = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.add("annual_rate", _("The annual rate must be a number."))
        return None
    if not rate.is_finite() or rate < 0:
        errors.add("annual_rate", _("The annual rate cannot be negative."))
        return None
    if rate > MAX_ANNUAL_RATE:
        errors.add(
            "annual_rate",
            _("An annual rate above %(max)s %% is not a car loan; check the rate.")
            % {"max": int(MAX_ANNUAL_RATE * 100)},
        )
        return None
    if rate != rate.quantize(Decimal("0.0001")):
        errors.add("annual_rate", _("Give the annual rate to at most two decimals of a percent."))
    return rate


def _parse_term(errors: _Errors, value: Any) -> int:
    if value is None or value == "":
        return 0
    try:
        term = int(value)
    except (TypeError, ValueError):
        errors.add("term_months", _("The term must be a whole number of months."))
        return 0
    if term < 0:
        errors.add("term_months", _("The term cannot be negative."))
        return 0
    if term > MAX_TERM_MONTHS:
        errors.add(
            "term_months",
            _("Car loans run at most %(n)s months.") % {"n": MAX_TERM_MONTHS},
        )
        return 0
    return term


def quote_calculate(
    *,
    car_model: CarModel,
    vehicle_price: Any,
    quote_date: datetime.date | None = None,
    discount: Any = 0,
    compulsory_insurance: Any = 0,
    commercial_insurance: Any = 0,
    registration_fee: Any = 0,
    extended_warranty: Any = 0,
    trade_in_credit: Any = 0,
    lines: Iterable[Any] = (),
    term_months: Any = 0,
    annual_rate: Any = None,
    down_payment: Any = 0,
) -> Calculation:
    """Check a quote's input and compute its figures, saving nothing.

    Refused (ValidationError keyed by field): a negative or malformed amount, a vehicle price
    of 0, a discount above the price, a line without a name or amount, a finance plan that does
    not hold together (a term without a rate, a rate or down payment without a term, a term over
    five years, a down payment covering everything financed), a trade-in credit above what the
    customer pays. `annual_rate` is a fraction (0.048 = 4.8 % a year); 0 is an interest-free
    plan, None "not given". `lines`: LineIn, mappings with description/amount/kind, or tuples.
    """
    errors = _Errors()
    labels = _labels()
    raw = {
        "vehicle_price": vehicle_price,
        "discount": discount,
        "compulsory_insurance": compulsory_insurance,
        "commercial_insurance": commercial_insurance,
        "registration_fee": registration_fee,
        "extended_warranty": extended_warranty,
        "trade_in_credit": trade_in_credit,
        "down_payment": down_payment,
    }
    amounts = {name: _amount(errors, name, raw[name], label=labels[name]) for name in AMOUNT_FIELDS}
    if "vehicle_price" not in errors.by_field and amounts["vehicle_price"] <= 0:
        errors.add("vehicle_price", _("Give the vehicle price."))
    if not errors.by_field.get("discount") and amounts["discount"] > amounts["vehicle_price"] > 0:
        errors.add("discount", _("The discount cannot be more than the vehicle price."))
    cleaned_lines = _clean_lines(errors, lines)
    term = _parse_term(errors, term_months)
    rate = _parse_rate(errors, annual_rate)
    if term > 0 and rate is None and "annual_rate" not in errors.by_field:
        errors.add("annual_rate", _("Give the loan's annual rate (0 for an interest-free plan)."))
    if term == 0 and "term_months" not in errors.by_field:
        if rate:
            errors.add("term_months", _("Give the loan's term, or clear the rate."))
        if amounts["down_payment"] > 0:
            errors.add("down_payment", _("A down payment needs a finance plan: give the term."))
    errors.raise_if_any()

    on = quote_date or timezone.localdate()
    rule = tax_rule_for(on=on, powertrain=car_model.powertrain)
    values = QuoteInput(
        vehicle_price=amounts["vehicle_price"],
        discount=amounts["discount"],
        lines=[line.amount for line in cleaned_lines],
        compulsory_insurance=amounts["compulsory_insurance"],
        commercial_insurance=amounts["commercial_insurance"],
        registration_fee=amounts["registration_fee"],
        extended_warranty=amounts["extended_warranty"],
        trade_in_credit=amounts["trade_in_credit"],
        down_payment=amounts["down_payment"],
        term_months=term,
        annual_rate=rate or Decimal("0"),
    )
    figures = quote_figures(values, rule)
    if figures.total < 0:
        errors.add(
            "trade_in_credit", _("The trade-in credit is more than the customer pays in all.")
        )
    if term > 0 and figures.loan_amount <= 0:
        errors.add(
            "down_payment",
            _("Nothing is left to finance: lower the down payment or remove the finance plan."),
        )
    errors.raise_if_any()
    return Calculation(
        values=values,
        lines=cleaned_lines,
        rule=rule,
        rule_name=(rule or STANDARD_RULE).name,
        quote_date=on,
        figures=figures,
    )


@transaction.atomic
def quote_create(
    *,
    actor: User | None,
    lead: Lead,
    car_model: CarModel,
    vehicle_price: Any,
    quote_date: datetime.date | None = None,
    valid_until: datetime.date | None = None,
    colour: str = "",
    discount: Any = 0,
    compulsory_insurance: Any = 0,
    commercial_insurance: Any = 0,
    registration_fee: Any = 0,
    extended_warranty: Any = 0,
    trade_in_credit: Any = 0,
    lines: Iterable[Any] = (),
    term_months: Any = 0,
    annual_rate: Any = None,
    down_payment: Any = 0,
    notes: str = "",
    created_at: datetime.datetime | None = None,
) -> Quote:
    """A new version of the lead's quote, every item listed; the previous current version is
    superseded, and the lead moves on to "negotiation" (if it is not further already).

    The checks of `quote_calculate`, and: the lead must be open, `valid_until` not before the
    quote date (default: a week after it). The purchase tax is computed by the rule in force on
    the quote date for the model's powertrain, and the quote keeps that rule and its name.
    """
    errors = _Errors()
    if lead.stage in CLOSED_STAGES:
        errors.add(
            "lead",
            _("This lead is closed (%(stage)s): it cannot get a new quote.")
            % {"stage": lead.get_stage_display()},
        )
    colour = (colour or "").strip()
    if len(colour) > 30:
        errors.add("colour", _("The colour is too long (at most 30 characters)."))
    try:
        calc = quote_calculate(
            car_model=car_model,
            vehicle_price=vehicle_price,
            quote_date=quote_date,
            discount=discount,
            compulsory_insurance=compulsory_insurance,
            commercial_insurance=commercial_insurance,
            registration_fee=registration_fee,
            extended_warranty=extended_warranty,
            trade_in_credit=trade_in_credit,
            lines=lines,
            term_months=term_months,
            annual_rate=annual_rate,
            down_payment=down_payment,
        )
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            for message in messages:
                errors.add(name, message)
        calc = None
    on = calc.quote_date if calc else (quote_date or timezone.localdate())
    valid_until = valid_until or on + datetime.timedelta(days=DEFAULT_VALID_DAYS)
    if valid_until < on:
        errors.add("valid_until", _("A quote cannot expire before its date."))
    errors.raise_if_any()
    assert calc is not None

    # Lock the lead: two consultants saving at once get versions n and n+1, never two n's.
    Lead.objects.select_for_update().filter(dealer_id=lead.dealer_id, pk=lead.pk).values("pk").get()
    previous = Quote.objects.filter(dealer_id=lead.dealer_id, lead_id=lead.pk)
    version = (previous.aggregate(last=Max("version"))["last"] or 0) + 1
    previous.filter(status=Quote.Status.CURRENT).update(status=Quote.Status.SUPERSEDED)
    figures = calc.figures
    values = calc.values
    quote = Quote.objects.create(
        dealer_id=lead.dealer_id,
        lead=lead,
        customer_id=lead.customer_id,
        version=version,
        status=Quote.Status.CURRENT,
        car_model=car_model,
        colour=colour,
        quote_date=on,
        valid_until=valid_until,
        vehicle_price=values.vehicle_price,
        discount=values.discount,
        tax_rule=calc.rule,
        tax_rule_name=calc.rule_name,
        purchase_tax=figures.purchase_tax,
        compulsory_insurance=values.compulsory_insurance,
        commercial_insurance=values.commercial_insurance,
        registration_fee=values.registration_fee,
        accessories_total=figures.accessories_total,
        extended_warranty=values.extended_warranty,
        trade_in_credit=values.trade_in_credit,
        down_payment=values.down_payment,
        term_months=values.term_months,
        annual_rate=values.annual_rate,
        loan_amount=figures.loan_amount,
        monthly_payment=figures.monthly_payment,
        total=figures.total,
        notes=notes or "",
        share_token=secrets.token_urlsafe(32),
        created_by=actor,
        created_at=created_at or timezone.now(),
    )
    QuoteLine.objects.bulk_create(
        [
            QuoteLine(
                dealer_id=lead.dealer_id,
                quote=quote,
                kind=line.kind,
                description=line.description,
                amount=line.amount,
            )
            for line in calc.lines
        ]
    )
    from .leads import lead_stage_advance

    lead_stage_advance(actor=actor, lead=lead, stage=LeadStage.NEGOTIATION, at=created_at)
    return quote
