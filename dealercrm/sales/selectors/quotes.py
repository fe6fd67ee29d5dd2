"""Reads: quotes — by id for a user, the versions of a lead, the public share link, the
purchase-tax rule in force, and what changed from one version to the next."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.tenancy import dealer_scope
from dealercrm.vehicles.models import CarModel

from ..models import Lead, PurchaseTaxRule, Quote, QuoteLine
from ..pricing import STANDARD_RULE, QuoteFigures, TaxResult, money, select_tax_rule


def visible_quotes(user: User) -> QuerySet[Quote]:
    """The scope's quotes whose lead the user sees (a consultant: their own leads')."""
    qs = Quote.objects.all()
    if not user.has_perm(Perm.VIEW_ALL_LEADS):
        qs = qs.filter(lead__consultant_id=user.pk)
    return qs


def get_lead_for_quoting(user: User, lead_id: int | str) -> Lead:
    """The lead a quote is made for, or Http404 alike for missing and not visible."""
    try:
        return (
            Lead.objects.visible_to(user)
            .select_related("customer", "car_model", "consultant")
            .get(pk=int(lead_id))
        )
    except (Lead.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def quotable_models(lead: Lead) -> QuerySet[CarModel]:
    """The models a quote on this lead may offer: the dealer's brand's models on sale, and the
    ones already chosen (the lead's model of interest, its quotes' models — perhaps no longer
    on sale, but a new version may keep them). One query."""
    quoted = Quote.objects.filter(dealer_id=lead.dealer_id, lead_id=lead.pk).values("car_model_id")
    return CarModel.objects.filter(
        Q(is_active=True, brand__dealers__id=lead.dealer_id)
        | Q(pk=lead.car_model_id or 0)
        | Q(pk__in=quoted)
    ).distinct()


def _with_lines() -> Prefetch:
    return Prefetch("lines", queryset=QuoteLine.objects.order_by("id"))


def get_quote_for_user(user: User, quote_id: int | str) -> Quote:
    """The quote with what its pages show, or Http404 alike for missing and not visible."""
    try:
        return (
            visible_quotes(user)
            .select_related(
                "lead__consultant", "customer", "car_model", "created_by", "dealer", "tax_rule"
            )
            .prefetch_related(_with_lines())
            .get(pk=int(quote_id))
        )
    except (Quote.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def lead_quotes(lead: Lead, *, with_lines: bool = False) -> QuerySet[Quote]:
    """Every version of the lead's quote, newest first."""
    qs = Quote.objects.filter(dealer_id=lead.dealer_id, lead_id=lead.pk).select_related(
        "car_model", "created_by"
    )
    if with_lines:
        qs = qs.prefetch_related(_with_lines())
    return qs.order_by("-version")


def latest_quote(lead: Lead) -> Quote | None:
    return lead_quotes(lead, with_lines=True).first()


def get_shared_quote(share_token: str) -> Quote | None:
    """The quote a share link names, for the public page: None for an unknown token and for a
    version since replaced (its figures are no longer offered; the customer should not act on
    them). Read across dealers (the token is the proof), nothing else before the dealer's scope.
    """
    if not share_token or len(share_token) > 64:
        return None
    with dealer_scope(None):
        quote = (
            Quote.objects.unscoped()
            .select_related("dealer", "car_model", "created_by", "customer")
            .filter(share_token=share_token)
            .exclude(status=Quote.Status.SUPERSEDED)
            .first()
        )
    if quote is None:
        return None
    with dealer_scope(quote.dealer_id):
        lines = list(
            QuoteLine.objects.filter(dealer_id=quote.dealer_id, quote=quote).order_by("id")
        )
    quote._prefetched_objects_cache = {"lines": lines}  # type: ignore[attr-defined]
    return quote


def share_url(quote: Quote) -> str:
    """The absolute share link a customer opens without logging in."""
    path = reverse("sales_public:quote", kwargs={"share_token": quote.share_token})
    return settings.SITE_URL.rstrip("/") + path


def tax_rules_on(on: datetime.date) -> list[PurchaseTaxRule]:
    """The purchase-tax rules in force on a date (a handful of rows: filtered in Python for the
    powertrain, since SQLite cannot search inside a JSON list)."""
    return list(PurchaseTaxRule.objects.filter(valid_from__lte=on).exclude(valid_until__lt=on))


def tax_rule_for(*, on: datetime.date, powertrain: str) -> PurchaseTaxRule | None:
    """The rule in force on `on` for the powertrain; None → the plain 10 % applies."""
    return select_tax_rule(tax_rules_on(on), on=on, powertrain=powertrain)  # type: ignore[return-value]


def saved_figures(quote: Quote) -> QuoteFigures:
    """The figures of a saved quote as it was made: the stored tax, loan and payment (a rule
    edited since does not change what the customer was offered); the rest derived from them."""
    rule = quote.tax_rule or STANDARD_RULE
    net = quote.vehicle_price - quote.discount
    base = net / (1 + Decimal(rule.vat_rate))
    full = max(money(base * Decimal(rule.rate)), quote.purchase_tax)
    repaid = quote.monthly_payment * quote.term_months if quote.loan_amount > 0 else Decimal("0.00")
    parts = {
        "vehicle_net": net,
        "purchase_tax": quote.purchase_tax,
        "compulsory_insurance": quote.compulsory_insurance,
        "commercial_insurance": quote.commercial_insurance,
        "registration_fee": quote.registration_fee,
        "accessories_total": quote.accessories_total,
        "extended_warranty": quote.extended_warranty,
        "trade_in_credit": -quote.trade_in_credit,
    }
    return QuoteFigures(
        vehicle_net=net,
        tax=TaxResult(
            taxable_price=money(base),
            full_tax=full,
            relief=full - quote.purchase_tax,
            tax=quote.purchase_tax,
            rule_name=quote.tax_rule_name or rule.name,
        ),
        accessories_total=quote.accessories_total,
        insurance_total=quote.compulsory_insurance + quote.commercial_insurance,
        total=quote.total,
        loan_amount=quote.loan_amount,
        monthly_payment=quote.monthly_payment,
        total_repaid=repaid,
        interest=max(repaid - quote.loan_amount, Decimal("0.00")),
        due_at_purchase=quote.total - quote.loan_amount,
        parts=parts,
    )


# --- what changed between two versions --------------------------------------------------------

DIFF_FIELDS: tuple[tuple[str, Any], ...] = (
    ("car_model", _("Model")),
    ("colour", _("Colour")),
    ("vehicle_price", _("Vehicle price")),
    ("discount", _("Discount")),
    ("purchase_tax", _("Purchase tax")),
    ("tax_rule_name", _("Purchase-tax rule")),
    ("compulsory_insurance", _("Compulsory insurance")),
    ("commercial_insurance", _("Commercial insurance")),
    ("registration_fee", _("Registration fee")),
    ("accessories_total", _("Accessories and packages")),
    ("extended_warranty", _("Extended warranty")),
    ("trade_in_credit", _("Trade-in credit")),
    ("down_payment", _("Down payment")),
    ("term_months", _("Term (months)")),
    ("annual_rate_percent", _("Annual rate (%)")),
    ("loan_amount", _("Loan amount")),
    ("monthly_payment", _("Monthly payment")),
    ("valid_until", _("Valid until")),
    ("total", _("Total")),
)


@dataclass(frozen=True)
class DiffRow:
    """One figure or item that differs between a version and the one before."""

    label: Any
    before: Any
    after: Any
    delta: Decimal | None = None  # after − before, for amounts


def _value(quote: Quote, name: str) -> Any:
    if name == "car_model":
        return str(quote.car_model)
    if name == "annual_rate_percent":
        return f"{quote.annual_rate_percent}%" if quote.term_months else None
    return getattr(quote, name)


def quote_diff(previous: Quote, current: Quote) -> list[DiffRow]:
    """What changed from `previous` to `current`: each figure that differs, then each line
    added, removed or repriced (lines matched by kind and description). Both quotes' lines
    should be prefetched."""
    rows: list[DiffRow] = []
    for name, label in DIFF_FIELDS:
        before, after = _value(previous, name), _value(current, name)
        if before == after:
            continue
        delta = (
            after - before if isinstance(before, Decimal) and isinstance(after, Decimal) else None
        )
        rows.append(DiffRow(label=label, before=before, after=after, delta=delta))
    old = {(line.kind, line.description): line.amount for line in previous.lines.all()}
    new = {(line.kind, line.description): line.amount for line in current.lines.all()}
    for key in [*new, *(k for k in old if k not in new)]:
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        delta = (after or Decimal(0)) - (before or Decimal(0))
        rows.append(DiffRow(label=key[1], before=before, after=after, delta=delta))
    return rows
