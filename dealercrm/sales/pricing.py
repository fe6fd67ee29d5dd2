"""The arithmetic of a quote: purchase tax by the rules in force, the finance plan, the total.

Pure functions over Decimals (no database, no Django models): the quote service, the live
recalculation of the quote page and the API all call these, so a figure the customer sees is
computed one way only. Money is rounded ROUND_HALF_UP to the fen (0.01 yuan), once per figure,
at the end of its computation.

**Purchase tax (车辆购置税).** 10 % of the price before VAT: taxable price = price paid for the
vehicle (after discount) / (1 + 13 % VAT). New-energy vehicles (BEV and PHEV; a plain hybrid is
not new energy) have had reliefs, kept as configurable `PurchaseTaxRule` rows (seeded by the
migration 0002 with the national rules):

- 2014-09-01 … 2023-12-31: exempt, no cap;
- 2024-01-01 … 2025-12-31: exempt, at most ¥30,000 of tax waived per vehicle;
- 2026-01-01 … 2027-12-31: halved, at most ¥15,000 waived per vehicle.

A rule's relief is `exemption_share` of the full tax, at most `exemption_cap`. A date and
powertrain no rule covers pays the plain 10 % (`STANDARD_RULE`).

**Finance.** See `loan_principal` for what is financed, `monthly_payment` for the annuity.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Protocol

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
# Car loans run at most five years (汽车贷款管理办法): a longer term is refused.
MAX_TERM_MONTHS = 60
# An annual rate above this is a typing error (4.8 typed as a fraction would be 480 %).
MAX_ANNUAL_RATE = Decimal("0.36")


def money(value: Any) -> Decimal:
    """A Decimal rounded half-up to the fen (0.01)."""
    return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


class TaxRuleLike(Protocol):
    """What pricing reads of a rule: a PurchaseTaxRule row or a TaxRuleTerms."""

    @property
    def name(self) -> str: ...
    @property
    def powertrains(self) -> Any: ...
    @property
    def valid_from(self) -> datetime.date: ...
    @property
    def valid_until(self) -> datetime.date | None: ...
    @property
    def rate(self) -> Any: ...
    @property
    def vat_rate(self) -> Any: ...
    @property
    def exemption_share(self) -> Any: ...
    @property
    def exemption_cap(self) -> Any: ...


@dataclass(frozen=True)
class TaxRuleTerms:
    """A purchase-tax rule as plain values (the fallback, and tests)."""

    name: str
    rate: Decimal = Decimal("0.10")
    vat_rate: Decimal = Decimal("0.13")
    exemption_share: Decimal = Decimal("0")
    exemption_cap: Decimal | None = None
    powertrains: tuple[str, ...] = ()
    valid_from: datetime.date = datetime.date(2001, 1, 1)
    valid_until: datetime.date | None = None
    pk: int | None = None


# What a date and powertrain without a configured rule pays: the plain 10 %.
STANDARD_RULE = TaxRuleTerms(name="车辆购置税 10%")


def rule_applies(rule: TaxRuleLike, *, on: datetime.date, powertrain: str) -> bool:
    """In force on `on` (both ends inclusive) for this powertrain."""
    if powertrain not in (rule.powertrains or ()):
        return False
    return rule.valid_from <= on and (rule.valid_until is None or on <= rule.valid_until)


def select_tax_rule(
    rules: Iterable[TaxRuleLike], *, on: datetime.date, powertrain: str
) -> TaxRuleLike | None:
    """The rule in force on `on` for the powertrain; of several, the one that started last (a
    newer rule overrides an open-ended older one). None when no rule covers the date."""
    matching = [r for r in rules if rule_applies(r, on=on, powertrain=powertrain)]
    if not matching:
        return None
    return max(matching, key=lambda r: r.valid_from)


@dataclass(frozen=True)
class TaxResult:
    """The purchase tax of one vehicle and how it was arrived at."""

    taxable_price: Decimal  # price before VAT, rounded for display
    full_tax: Decimal  # what the plain rate gives
    relief: Decimal  # what the rule waives
    tax: Decimal  # what is paid
    rule_name: str


def purchase_tax(price: Decimal, rule: TaxRuleLike | None) -> TaxResult:
    """Tax on a vehicle sold at `price` (VAT included, after discount) under `rule` (None →
    the standard 10 %). The full tax is `price / (1 + VAT) × rate` rounded to the fen; the
    relief is `exemption_share` of it, at most `exemption_cap`."""
    terms: TaxRuleLike = rule if rule is not None else STANDARD_RULE
    price = Decimal(price)
    if price <= 0:
        return TaxResult(ZERO, ZERO, ZERO, ZERO, terms.name)
    with localcontext() as ctx:
        ctx.prec = 34
        base = price / (Decimal(1) + Decimal(terms.vat_rate))
        full = money(base * Decimal(terms.rate))
        relief = money(full * Decimal(terms.exemption_share))
    if terms.exemption_cap is not None:
        relief = min(relief, money(terms.exemption_cap))
    relief = min(relief, full)
    return TaxResult(
        taxable_price=money(base),
        full_tax=full,
        relief=relief,
        tax=full - relief,
        rule_name=terms.name,
    )


def monthly_payment(principal: Decimal, *, annual_rate: Decimal, term_months: int) -> Decimal:
    """The annuity payment P·r / (1 − (1 + r)^−n), r = annual rate / 12 (a fraction: 0.048 is
    4.8 % a year), rounded half-up to the fen. A 0 % rate pays P / n; no term (0) or nothing to
    borrow means no finance: 0.

    n equal payments always repay the principal: where rounding down would leave the loan a
    few fen short (¥100,000 at 0 % over 7 months: 14,285.71 × 7 = 99,999.97), the payment is
    P / n rounded up to the fen instead."""
    principal = Decimal(principal)
    if term_months <= 0 or principal <= 0:
        return ZERO
    rate = Decimal(annual_rate)
    with localcontext() as ctx:
        ctx.prec = 40
        if rate == 0:
            exact = principal / term_months
        else:
            r = rate / 12
            exact = principal * r / (1 - (1 + r) ** -term_months)
        min_share = (principal / term_months).quantize(FEN, rounding=ROUND_CEILING)
    return max(money(exact), min_share)


@dataclass(frozen=True)
class QuoteInput:
    """What a quote's figures are computed from (amounts in yuan, VAT included)."""

    vehicle_price: Decimal
    discount: Decimal = ZERO
    lines: Sequence[Decimal] = ()
    compulsory_insurance: Decimal = ZERO
    commercial_insurance: Decimal = ZERO
    registration_fee: Decimal = ZERO
    extended_warranty: Decimal = ZERO
    trade_in_credit: Decimal = ZERO
    down_payment: Decimal = ZERO
    term_months: int = 0
    annual_rate: Decimal = ZERO


@dataclass(frozen=True)
class QuoteFigures:
    """Every figure a quote shows, computed by `quote_figures`."""

    vehicle_net: Decimal  # vehicle price − discount: what the tax is levied on
    tax: TaxResult
    accessories_total: Decimal
    insurance_total: Decimal
    total: Decimal  # what the customer pays in all, trade-in deducted, interest not included
    loan_amount: Decimal
    monthly_payment: Decimal
    total_repaid: Decimal  # monthly payment × term
    interest: Decimal  # total repaid − loan
    due_at_purchase: Decimal  # total − loan: down payment and what is not financed
    parts: dict[str, Decimal] = field(default_factory=dict)  # the signed parts of the total

    @property
    def purchase_tax(self) -> Decimal:
        return self.tax.tax

    @property
    def is_financed(self) -> bool:
        return self.loan_amount > 0


def loan_principal(values: QuoteInput) -> Decimal:
    """What is borrowed: the price of what the dealer sells — the vehicle after discount, the
    itemised accessories and service packages, the extended warranty — less the trade-in credit
    (it pays part of the car) and the down payment; never below 0; none without a term.

    Purchase tax, insurance and the registration fee are paid at purchase: they go to the tax
    office, the insurer and the vehicle administration, and car loans in China are granted
    against the vehicle's price (the lender's loan-to-value limit is a share of it), not
    against those charges."""
    if values.term_months <= 0:
        return ZERO
    financed = (
        money(values.vehicle_price)
        - money(values.discount)
        + sum((money(a) for a in values.lines), ZERO)
        + money(values.extended_warranty)
        - money(values.trade_in_credit)
        - money(values.down_payment)
    )
    return max(financed, ZERO)


def quote_figures(values: QuoteInput, rule: TaxRuleLike | None) -> QuoteFigures:
    """All the figures of a quote under a purchase-tax rule (None → the standard 10 %).

    total = (vehicle price − discount) + purchase tax + compulsory insurance + commercial
    insurance + registration fee + accessories and packages + extended warranty − trade-in
    credit. Finance changes when it is paid, not the total; the interest is shown apart."""
    vehicle_net = money(values.vehicle_price) - money(values.discount)
    tax = purchase_tax(vehicle_net, rule)
    accessories = sum((money(a) for a in values.lines), ZERO)
    parts = {
        "vehicle_net": vehicle_net,
        "purchase_tax": tax.tax,
        "compulsory_insurance": money(values.compulsory_insurance),
        "commercial_insurance": money(values.commercial_insurance),
        "registration_fee": money(values.registration_fee),
        "accessories_total": accessories,
        "extended_warranty": money(values.extended_warranty),
        "trade_in_credit": -money(values.trade_in_credit),
    }
    total = sum(parts.values(), ZERO)
    loan = loan_principal(values)
    payment = monthly_payment(loan, annual_rate=values.annual_rate, term_months=values.term_months)
    repaid = payment * values.term_months if loan > 0 else ZERO
    return QuoteFigures(
        vehicle_net=vehicle_net,
        tax=tax,
        accessories_total=accessories,
        insurance_total=parts["compulsory_insurance"] + parts["commercial_insurance"],
        total=total,
        loan_amount=loan,
        monthly_payment=payment,
        total_repaid=repaid,
        interest=max(repaid - loan, ZERO),
        due_at_purchase=total - loan,
        parts=parts,
    )
