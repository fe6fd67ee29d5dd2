"""Recall campaigns (召回): the OEM defines which cars; each affected car is one row at the
dealer responsible for it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class RecallCampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("In progress")
    CLOSED = "closed", _("Closed")


class RecallLaunchState(models.TextChoices):
    QUEUED = "queued", _("Waiting to start")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class RecallCampaign(models.Model):
    """A recall of the brand. Affected cars: any of the models (and model years), a VIN range,
    or an uploaded VIN list (`RecallCampaignVin`); the criteria given are combined with AND,
    except the VIN list, which adds its cars whatever the other criteria say."""

    brand = models.ForeignKey("core.Brand", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("recall code"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("what is wrong"), blank=True)
    remedy = models.TextField(_("what the workshop does"), blank=True)
    car_models = models.ManyToManyField(
        "vehicles.CarModel", blank=True, related_name="+", verbose_name=_("models")
    )
    model_year_from = models.PositiveSmallIntegerField(_("model years from"), null=True, blank=True)
    model_year_to = models.PositiveSmallIntegerField(_("model years to"), null=True, blank=True)
    vin_from = models.CharField(_("VINs from"), max_length=17, blank=True)
    vin_to = models.CharField(_("VINs to"), max_length=17, blank=True)
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=RecallCampaignStatus.choices,
        default=RecallCampaignStatus.DRAFT,
    )
    starts_on = models.DateField(_("starts on"), default=timezone.localdate)
    launched_at = models.DateTimeField(_("launched at"), null=True, blank=True)
    # The launch runs as a job for big campaigns: where it stands, for the page's progress bar.
    launch_state = models.CharField(
        _("launch"), max_length=8, choices=RecallLaunchState.choices, blank=True
    )
    launch_done = models.PositiveIntegerField(default=0)
    launch_total = models.PositiveIntegerField(default=0)
    # What the last launch did (counts of cars found, copied, notified …), shown on the page.
    launch_report = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("recall campaign")
        verbose_name_plural = _("recall campaigns")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="recallcampaign_unique_code")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class RecallCampaignVin(models.Model):
    """One VIN of an uploaded list."""

    campaign = models.ForeignKey(RecallCampaign, on_delete=models.CASCADE, related_name="vins")
    vin = models.CharField(_("VIN"), max_length=17)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "vin"], name="recallcampaignvin_unique")
        ]

    def __str__(self) -> str:
        return self.vin


class RecallStatus(models.TextChoices):
    OPEN = "open", _("To notify")
    NOTIFIED = "notified", _("Owner notified")
    BOOKED = "booked", _("Appointment booked")
    COMPLETED = "completed", _("Repaired")
    UNREACHABLE = "unreachable", _("Owner unreachable")


class RecallAssignment(models.TextChoices):
    OWN_DEALER = "own_dealer", _("The car's dealer")
    NEAREST_DEALER = "nearest_dealer", _("Nearest dealer to the owner")


class RecallVehicle(DealerOwnedModel):
    """One affected car, at the dealer responsible for it (its own dealer, or — when that dealer
    no longer serves the owner — the active dealer nearest the owner's address)."""

    campaign = models.ForeignKey(
        RecallCampaign, on_delete=models.CASCADE, related_name="affected", db_index=False
    )
    vehicle = models.ForeignKey(
        "vehicles.Vehicle", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    vin = models.CharField(_("VIN"), max_length=17)
    assigned_how = models.CharField(
        _("assigned to"),
        max_length=16,
        choices=RecallAssignment.choices,
        default=RecallAssignment.OWN_DEALER,
    )
    status = models.CharField(
        _("status"), max_length=12, choices=RecallStatus.choices, default=RecallStatus.OPEN
    )
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("repaired at"), null=True, blank=True)
    repair_order = models.ForeignKey(
        "service.RepairOrder",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("recalled vehicle")
        verbose_name_plural = _("recalled vehicles")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "campaign", "vehicle"], name="recallvehicle_unique"
            )
        ]
        indexes = [
            models.Index(fields=["dealer", "campaign", "status"], name="recallvehicle_status"),
            models.Index(fields=["dealer", "vehicle"], name="recallvehicle_vehicle"),
            models.Index(fields=["dealer", "customer"], name="recallvehicle_customer"),
        ]
