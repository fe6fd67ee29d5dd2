"""The funnel's roll-up: lead counts per dealer, month, channel, consultant and model.

The dashboard reads these cells, never the leads: a network of 2,000,000 leads is a few
hundred thousand cells at most, summed by indexed ranges. A cell counts the leads *created* in
its month (a cohort) that reached each stage by the last refresh. `FunnelRefresh` remembers,
per dealer, up to when lead changes (`Lead.updated_at`) have been rolled up; the refresh job
recomputes only the months whose leads changed since.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class FunnelCell(DealerOwnedModel):
    """Counts for the leads created in one month, one channel, one consultant, one model."""

    month = models.DateField()  # first day of the month
    channel = models.CharField(max_length=16)
    consultant_id = models.IntegerField(null=True)
    car_model_id = models.IntegerField(null=True)
    leads = models.IntegerField(default=0)
    contacted = models.IntegerField(default=0)
    test_driven = models.IntegerField(default=0)
    negotiated = models.IntegerField(default=0)
    ordered = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    lost = models.IntegerField(default=0)
    # First response: how many were answered, in how many seconds in all, how many in time.
    responded = models.IntegerField(default=0)
    response_seconds = models.BigIntegerField(default=0)
    responded_in_time = models.IntegerField(default=0)
    # Decision cycle: days from creation to order, summed over the ordered leads.
    decision_days = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("funnel cell")
        verbose_name_plural = _("funnel cells")
        indexes = [models.Index(fields=["dealer", "month"], name="funnelcell_month")]

    def __str__(self) -> str:
        return f"{self.dealer_id} {self.month} {self.channel}"


class FunnelLossCell(DealerOwnedModel):
    """Approved losses per dealer, month (of the loss), channel and reason."""

    month = models.DateField()
    channel = models.CharField(max_length=16)
    reason = models.CharField(max_length=16)
    lost = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("funnel loss cell")
        verbose_name_plural = _("funnel loss cells")
        indexes = [models.Index(fields=["dealer", "month"], name="funnelloss_month")]

    def __str__(self) -> str:
        return f"{self.dealer_id} {self.month} {self.reason}"


class FunnelRefresh(DealerOwnedModel):
    """Up to when this dealer's lead changes are in the funnel cells."""

    refreshed_through = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("funnel refresh")
        verbose_name_plural = _("funnel refreshes")
        constraints = [
            models.UniqueConstraint(fields=["dealer"], name="funnelrefresh_one_per_dealer")
        ]

    def __str__(self) -> str:
        return f"{self.dealer_id} {self.refreshed_through}"
