"""Quotes: every item of the price listed, versioned, shareable; and the purchase-tax rules."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel

MONEY = {"max_digits": 12, "decimal_places": 2}


class PurchaseTaxRule(models.Model):
    """Vehicle purchase tax (车辆购置税) in force from `valid_from` to `valid_until` (both
    inclusive; open-ended when empty), for the powertrains listed (Powertrain values).

    Network-wide configuration, not dealer-owned. Tax = price before VAT × `rate`, less an
    exemption of `exemption_share` of it (1 = exempt, 0.5 = halved), at most `exemption_cap`
    yuan per vehicle when a cap applies. The rules in force on the quote's date are applied and
    the quote keeps which rule it used. Seeded with the national rules (see the migration).
    """

    name = models.CharField(_("name"), max_length=100)
    powertrains = models.JSONField(_("powertrains"), default=list)
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    rate = models.DecimalField(_("tax rate"), max_digits=5, decimal_places=4, default="0.1000")
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4, default="0.1300")
    exemption_share = models.DecimalField(
        _("exempt share"), max_digits=5, decimal_places=4, default="0"
    )
    exemption_cap = models.DecimalField(
        _("exemption cap (¥ per vehicle)"), null=True, blank=True, **MONEY
    )

    class Meta:
        verbose_name = _("purchase-tax rule")
        verbose_name_plural = _("purchase-tax rules")
        ordering = ["valid_from"]

    def __str__(self) -> str:
        return self.name


class Quote(DealerOwnedModel):
    """One version of the price offered on a lead. A change is a new version; old ones stay."""

    class Status(models.TextChoices):
        CURRENT = "current", _("Current")
        SUPERSEDED = "superseded", _("Superseded")
        ACCEPTED = "accepted", _("Accepted")

    lead = models.ForeignKey(
        "sales.Lead", on_delete=models.CASCADE, related_name="quotes", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.CURRENT
    )
    car_model = models.ForeignKey(
        "vehicles.CarModel", on_delete=models.PROTECT, related_name="+", verbose_name=_("model")
    )
    colour = models.CharField(_("colour"), max_length=30, blank=True)
    quote_date = models.DateField(_("quote date"))
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    vehicle_price = models.DecimalField(_("vehicle price"), **MONEY)
    discount = models.DecimalField(_("discount"), default=0, **MONEY)
    # The rule the tax was computed by (null: no rule covered the date, the plain 10 %), and its
    # name as it was then: an edit of the rule later does not rewrite what the customer was told.
    tax_rule = models.ForeignKey(
        PurchaseTaxRule, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tax_rule_name = models.CharField(_("purchase-tax rule"), max_length=100, blank=True)
    purchase_tax = models.DecimalField(_("purchase tax"), default=0, **MONEY)
    compulsory_insurance = models.DecimalField(_("compulsory insurance"), default=0, **MONEY)
    commercial_insurance = models.DecimalField(_("commercial insurance"), default=0, **MONEY)
    registration_fee = models.DecimalField(_("registration fee"), default=0, **MONEY)
    accessories_total = models.DecimalField(_("accessories"), default=0, **MONEY)
    extended_warranty = models.DecimalField(_("extended warranty"), default=0, **MONEY)
    trade_in_credit = models.DecimalField(_("trade-in credit"), default=0, **MONEY)
    # Finance plan (none when term_months is 0).
    down_payment = models.DecimalField(_("down payment"), default=0, **MONEY)
    term_months = models.PositiveSmallIntegerField(_("term (months)"), default=0)
    annual_rate = models.DecimalField(_("annual rate"), max_digits=6, decimal_places=4, default=0)
    loan_amount = models.DecimalField(_("loan amount"), default=0, **MONEY)
    monthly_payment = models.DecimalField(_("monthly payment"), default=0, **MONEY)
    # What the customer pays in all, trade-in credit deducted (finance interest not included).
    total = models.DecimalField(_("total"), **MONEY)
    notes = models.TextField(_("notes"), blank=True)
    # The unguessable link a customer opens without logging in (read-only, this quote only).
    share_token = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "lead", "version"], name="quote_unique_version"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.lead_id} v{self.version}"

    @property
    def annual_rate_percent(self) -> str:
        """The rate as people write it: 0.0480 → "4.8"."""
        value = (Decimal(self.annual_rate) * 100).quantize(Decimal("0.01")).normalize()
        return f"{value:f}"

    @property
    def is_current(self) -> bool:
        return self.status != self.Status.SUPERSEDED


class QuoteLine(DealerOwnedModel):
    """An itemised extra of a quote: an accessory (精品), a service package."""

    class Kind(models.TextChoices):
        ACCESSORY = "accessory", _("Accessory")
        SERVICE = "service", _("Service package")
        OTHER = "other", _("Other")

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines", db_index=False)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.ACCESSORY)
    description = models.CharField(_("item"), max_length=200)
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")
        indexes = [models.Index(fields=["dealer", "quote"], name="quoteline_quote")]

    def __str__(self) -> str:
        return self.description
