"""The care rules: codes (the catalogue itself, with defaults, is code: `care.rules`), each
dealer's switches and settings, the regions' seasonal checks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class CareRuleCode(models.TextChoices):
    DELIVERY_FOLLOW_UP = "delivery_follow_up", _("Follow-up call after delivery")
    SERVICE_FOLLOW_UP = "service_follow_up", _("Follow-up call after a service visit")
    FIRST_MAINTENANCE = "first_maintenance", _("First maintenance reminder")
    MAINTENANCE_DUE = "maintenance_due", _("Maintenance due")
    MAINTENANCE_OVERDUE = "maintenance_overdue", _("Maintenance overdue (win-back)")
    INSURANCE_RENEWAL = "insurance_renewal", _("Insurance renewal")
    ANNUAL_INSPECTION = "annual_inspection", _("Annual inspection")
    WARRANTY_ENDING = "warranty_ending", _("Warranty about to end")
    BIRTHDAY = "birthday", _("Birthday greeting")
    FESTIVAL = "festival", _("Festival greeting")
    DORMANT_AT_RISK = "dormant_at_risk", _("Dormant owner: at risk")
    DORMANT_LOST = "dormant_lost", _("Dormant owner: lost")
    REPLACEMENT_CANDIDATE = "replacement_candidate", _("Replacement candidate")
    SERVICE_TO_SALES = "service_to_sales", _("Replacement candidate in the workshop")
    SEASONAL_CHECK = "seasonal_check", _("Seasonal check")


class CareRuleSetting(DealerOwnedModel):
    """A dealer's switch and settings for one rule. No row: the rule's defaults (`care.rules`).

    `config` holds only what the dealer changed (offsets in days, channel, assignee role,
    script, message template id …); `care.rules.<rule>.config_for(setting)` merges defaults.
    """

    rule = models.CharField(_("rule"), max_length=32, choices=CareRuleCode.choices)
    enabled = models.BooleanField(_("on"), default=True)
    config = models.JSONField(_("settings"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("care rule setting")
        verbose_name_plural = _("care rule settings")
        constraints = [
            models.UniqueConstraint(fields=["dealer", "rule"], name="careruleseting_unique")
        ]


class SeasonalCheck(models.Model):
    """A seasonal check the OEM sets per region (before the rainy season, before winter …):
    owners in the region are invited `remind_days_before` the season starts. A row without a
    region applies to every region that has no row of the same `code`."""

    brand = models.ForeignKey("core.Brand", on_delete=models.CASCADE, related_name="+")
    region = models.ForeignKey(
        "core.Region", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    code = models.SlugField(_("code"), max_length=32)  # "rainy_season", "winter" …
    title = models.CharField(_("title"), max_length=100)
    season_starts_month = models.PositiveSmallIntegerField(_("season starts (month)"))
    season_starts_day = models.PositiveSmallIntegerField(_("season starts (day)"))
    remind_days_before = models.PositiveSmallIntegerField(_("remind days before"), default=14)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("seasonal check")
        verbose_name_plural = _("seasonal checks")
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "region", "code"], name="seasonalcheck_unique"
            ),
            models.UniqueConstraint(
                fields=["brand", "code"],
                condition=models.Q(region__isnull=True),
                name="seasonalcheck_unique_default",
            ),
        ]

    def __str__(self) -> str:
        return self.title
