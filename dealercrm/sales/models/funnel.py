"""The funnel's roll-up: lead counts per dealer, month, channel, consultant and model.

The dashboard reads these cells, never the leads: a network of 2,000,000 leads is a few
hundred thousand cells at most, summed by indexed ranges. A cell counts the leads *created* in
its month (a cohort, in the dealer's time zone) that reached each stage by the last refresh.
`FunnelRefresh` remembers, per dealer, up to when lead changes (`Lead.updated_at`) have been
rolled up; the refresh (services.funnel) recomputes only the months whose leads changed since.

Loss cells carry the cohort month too, beside the month of the loss: a lead's cohort never
changes, so recomputing the changed leads' cohort months rebuilds every cell they touch, both
kinds alike, with one set of months.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class Grain(models.IntegerChoices):
    """Which dimensions a cell keeps; the others are summed away (and left empty).

    The full grain crosses channel, consultant and model, which at 2,000,000 leads makes about
    as many cells as there are leads in a dealer's month: too many to sum for a network-wide
    chart. The coarser grains are summed from the full cells at each refresh and are two to
    three orders of magnitude smaller; the dashboard reads, for each chart, the coarsest grain
    that still has the dimensions it groups and filters by (`grain_for`).
    """

    FULL = 0, "channel, consultant, model"
    TOTAL = 1, "-"
    CHANNEL = 2, "channel"
    MODEL = 3, "model"
    CONSULTANT = 4, "consultant"
    CHANNEL_MODEL = 5, "channel, model"


GRAIN_DIMENSIONS: dict[int, frozenset[str]] = {
    Grain.TOTAL: frozenset(),
    Grain.CHANNEL: frozenset({"channel"}),
    Grain.MODEL: frozenset({"car_model_id"}),
    Grain.CONSULTANT: frozenset({"consultant_id"}),
    Grain.CHANNEL_MODEL: frozenset({"channel", "car_model_id"}),
    Grain.FULL: frozenset({"channel", "consultant_id", "car_model_id"}),
}


def grain_for(dimensions: set[str] | frozenset[str]) -> int:
    """The coarsest grain that keeps all these dimensions (dicts keep the order above)."""
    for grain, kept in GRAIN_DIMENSIONS.items():
        if kept >= dimensions:
            return grain
    raise ValueError(f"no grain keeps {sorted(dimensions)}")


class FunnelCell(DealerOwnedModel):
    """Counts for the leads created in one month, one channel, one consultant, one model.

    A stage counts as reached when its timestamp or any later stage's is set, so the funnel
    never widens downwards even for a lead that skipped a stage (a walk-in who orders at once).
    """

    grain = models.PositiveSmallIntegerField(default=Grain.FULL, choices=Grain.choices)
    month = models.DateField()  # first day of the month of creation, dealer's time zone
    channel = models.CharField(max_length=16)  # "" in grains without the channel
    consultant_id = models.IntegerField(null=True)
    car_model_id = models.IntegerField(null=True)
    leads = models.IntegerField(default=0)
    contacted = models.IntegerField(default=0)
    test_driven = models.IntegerField(default=0)
    negotiated = models.IntegerField(default=0)
    ordered = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    lost = models.IntegerField(default=0)
    # First response: how many were answered, in how many seconds in all, how many in time
    # (first contact no later than first_response_due_at; no due date counts as in time).
    responded = models.IntegerField(default=0)
    response_seconds = models.BigIntegerField(default=0)
    responded_in_time = models.IntegerField(default=0)
    # Decision cycle: seconds from creation to order, summed over the ordered leads.
    decision_seconds = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("funnel cell")
        verbose_name_plural = _("funnel cells")
        indexes = [models.Index(fields=["dealer", "grain", "month"], name="funnelcell_month")]

    def __str__(self) -> str:
        return f"{self.dealer_id} {self.month} {self.channel}"


class FunnelLossCell(DealerOwnedModel):
    """Approved losses per dealer, month of the loss, channel, reason (and cohort month,
    consultant and model, so the dashboard's filters apply to losses as to the funnel)."""

    grain = models.PositiveSmallIntegerField(default=Grain.FULL, choices=Grain.choices)
    cohort_month = models.DateField()  # month the lost leads were created (refresh unit)
    month = models.DateField()  # month of the loss, dealer's time zone
    channel = models.CharField(max_length=16)
    consultant_id = models.IntegerField(null=True)
    car_model_id = models.IntegerField(null=True)
    reason = models.CharField(max_length=16)
    lost = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("funnel loss cell")
        verbose_name_plural = _("funnel loss cells")
        indexes = [
            models.Index(fields=["dealer", "grain", "month"], name="funnelloss_month"),
            models.Index(fields=["dealer", "cohort_month"], name="funnelloss_cohort"),
        ]

    def __str__(self) -> str:
        return f"{self.dealer_id} {self.month} {self.reason}"


class FunnelRefresh(DealerOwnedModel):
    """Up to when this dealer's lead changes are in the funnel cells, and when that was run."""

    refreshed_through = models.DateTimeField(null=True)
    refreshed_at = models.DateTimeField(null=True)
    # The highest lead id rolled up: leads inserted later with an old updated_at are found too.
    last_lead_id = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("funnel refresh")
        verbose_name_plural = _("funnel refreshes")
        constraints = [
            models.UniqueConstraint(fields=["dealer"], name="funnelrefresh_one_per_dealer")
        ]

    def __str__(self) -> str:
        return f"{self.dealer_id} {self.refreshed_through}"
