"""Maintenance schedules per model and each vehicle's service state and forecast.

`VehicleServiceState` is one row per vehicle, kept up to date set-based by
`services.forecast.forecast_refresh` (after readings and repair orders change, and for bulk
loads), so the daily care engine reads dates from one indexed table instead of aggregating
every reading and repair order of a million cars each morning.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class MaintenanceSchedule(models.Model):
    """When a model needs maintenance: first at X km or Y months, then every N km or M months,
    whichever comes first. Set by the OEM; the row without a model is the network default.
    """

    car_model = models.OneToOneField(
        "vehicles.CarModel",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="maintenance_schedule",
        verbose_name=_("model"),
    )
    first_km = models.PositiveIntegerField(_("first maintenance at (km)"), default=5000)
    first_months = models.PositiveSmallIntegerField(
        _("first maintenance after (months)"), default=6
    )
    interval_km = models.PositiveIntegerField(_("then every (km)"), default=10000)
    interval_months = models.PositiveSmallIntegerField(_("then every (months)"), default=12)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("maintenance schedule")
        verbose_name_plural = _("maintenance schedules")
        constraints = [
            models.UniqueConstraint(
                fields=["car_model"],
                condition=models.Q(car_model__isnull=True),
                name="maintenanceschedule_one_default",
            )
        ]

    def __str__(self) -> str:
        return str(self.car_model or _("Network default"))


class ForecastBasis(models.TextChoices):
    """Where a vehicle's daily distance comes from, best first."""

    READINGS = "readings", _("Its own readings")
    MODEL_REGION = "model_region", _("Average of the same model in the region")
    MODEL = "model", _("Average of the same model")
    NETWORK = "network", _("Network average")


class NextServiceKind(models.TextChoices):
    FIRST = "first", _("First maintenance")
    REGULAR = "regular", _("Regular maintenance")


class DueReason(models.TextChoices):
    """Which limit of the schedule comes first."""

    DISTANCE = "distance", _("Distance")
    TIME = "time", _("Time")


class VehicleServiceState(DealerOwnedModel):
    """A vehicle's service facts and forecast, one row per vehicle (see the module docstring)."""

    vehicle = models.OneToOneField(
        "vehicles.Vehicle", on_delete=models.CASCADE, primary_key=True, related_name="service_state"
    )
    # Daily distance and where it comes from.
    daily_km = models.FloatField(_("km per day"), null=True, blank=True)
    basis = models.CharField(
        _("based on"), max_length=14, choices=ForecastBasis.choices, default=ForecastBasis.NETWORK
    )
    readings_used = models.PositiveIntegerField(_("readings used"), default=0)
    readings_flagged = models.PositiveIntegerField(_("readings ignored"), default=0)
    last_reading_km = models.PositiveIntegerField(null=True, blank=True)
    last_reading_on = models.DateField(null=True, blank=True)
    # Visits: any repair order; maintenance: repair orders of kind maintenance.
    last_visit_on = models.DateField(_("last visit"), null=True, blank=True)
    visits = models.PositiveIntegerField(_("visits"), default=0)
    last_maintenance_on = models.DateField(_("last maintenance"), null=True, blank=True)
    last_maintenance_km = models.PositiveIntegerField(null=True, blank=True)
    maintenances = models.PositiveIntegerField(_("maintenances"), default=0)
    # The forecast.
    next_service_kind = models.CharField(
        max_length=8, choices=NextServiceKind.choices, default=NextServiceKind.FIRST
    )
    next_service_on = models.DateField(_("next service due"), null=True, blank=True)
    next_service_km = models.PositiveIntegerField(_("next service at (km)"), null=True, blank=True)
    due_reason = models.CharField(max_length=8, choices=DueReason.choices, blank=True)
    # The date the distance limit is forecast to be reached, and the date of the time limit:
    # the page explains "whichever comes first" with both.
    due_by_distance_on = models.DateField(null=True, blank=True)
    due_by_time_on = models.DateField(null=True, blank=True)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("service forecast")
        verbose_name_plural = _("service forecasts")
        indexes = [
            models.Index(fields=["dealer", "next_service_on"], name="servicestate_next"),
            models.Index(fields=["dealer", "last_visit_on"], name="servicestate_visit"),
        ]


class ForecastRefresh(DealerOwnedModel):
    """How far `forecast_refresh` has read a dealer's readings and repair orders: the incremental
    refresh recomputes only vehicles with a reading or repair order after this watermark."""

    last_reading_id = models.BigIntegerField(default=0)
    last_repair_order_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("forecast refresh")
        verbose_name_plural = _("forecast refreshes")
        constraints = [
            models.UniqueConstraint(fields=["dealer"], name="forecastrefresh_one_per_dealer")
        ]


class ForecastPeerAverage(models.Model):
    """The average daily distance of a model's vehicles that have their own readings, in one
    region (region set) or the whole network (region empty): the fallback of vehicles with too
    few readings. Written by the full refresh, read by the incremental ones, so those need not
    aggregate every reading of the network every ten minutes."""

    car_model = models.ForeignKey("vehicles.CarModel", on_delete=models.CASCADE, related_name="+")
    region = models.ForeignKey(
        "core.Region", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    vehicles = models.PositiveIntegerField(default=0)
    daily_km = models.FloatField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("average daily distance")
        verbose_name_plural = _("average daily distances")
        constraints = [
            models.UniqueConstraint(fields=["car_model", "region"], name="peeraverage_unique")
        ]

    def __str__(self) -> str:
        return f"{self.car_model_id}/{self.region_id or '-'}: {self.daily_km} km/day"
