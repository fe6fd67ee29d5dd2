"""The OEM's data-quality audit: the brand's weights and rules, each dealer's monthly score,
and the rebate bands that turn a score into a rebate percentage for the finance team."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel

# The five dimensions, in the order they are shown; their weights default to these.
DEFAULT_WEIGHTS = {
    "completeness": 30,
    "validity": 25,
    "uniqueness": 20,
    "timeliness": 15,
    "consistency": 10,
}
# The customer fields the OEM requires by default (completeness).
DEFAULT_REQUIRED_FIELDS = ["name", "phone", "gender", "province", "city", "source_channel"]


class AuditPolicy(models.Model):
    """A brand's audit rules, set by its OEM admins."""

    brand = models.OneToOneField("core.Brand", on_delete=models.CASCADE, related_name="+")
    weights = models.JSONField(_("weights"), default=dict)
    required_fields = models.JSONField(_("required fields"), default=list)
    # Timeliness: a sale is entered within this many days of delivery.
    timeliness_days = models.PositiveSmallIntegerField(_("days to enter a sale"), default=7)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("audit policy")
        verbose_name_plural = _("audit policies")

    def __str__(self) -> str:
        return str(self.brand)


class RebateBand(models.Model):
    """Scores from `min_score` up to the next band's earn `rebate_percent` of the dealer's rebate."""

    brand = models.ForeignKey("core.Brand", on_delete=models.CASCADE, related_name="+")
    min_score = models.DecimalField(_("from score"), max_digits=5, decimal_places=2)
    rebate_percent = models.DecimalField(_("rebate %"), max_digits=5, decimal_places=2)
    label = models.CharField(_("label"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("rebate band")
        verbose_name_plural = _("rebate bands")
        ordering = ["brand", "-min_score"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "min_score"], name="rebateband_unique_min")
        ]

    def __str__(self) -> str:
        return f"≥{self.min_score}: {self.rebate_percent}%"


class DealerAuditScore(DealerOwnedModel):
    """A dealer's audit result for one period (a month): the five dimensions, score and rank."""

    period = models.DateField(_("period"))  # the first day of the month
    completeness = models.FloatField(_("completeness"))
    validity = models.FloatField(_("validity"))
    uniqueness = models.FloatField(_("uniqueness"))
    timeliness = models.FloatField(_("timeliness"))
    consistency = models.FloatField(_("consistency"))
    score = models.FloatField(_("score"))
    rank = models.PositiveIntegerField(_("rank"), null=True, blank=True)
    ranked_of = models.PositiveIntegerField(null=True, blank=True)
    customers = models.PositiveIntegerField(_("customers audited"), default=0)
    # {check code: failing records}, so the page links each failing count to its records.
    failures = models.JSONField(default=dict)
    weights = models.JSONField(default=dict)  # the weights the score was computed with
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("data-quality score")
        verbose_name_plural = _("data-quality scores")
        constraints = [
            models.UniqueConstraint(fields=["dealer", "period"], name="auditscore_unique_period")
        ]
