"""Roadside rescue (道路救援): a call, the dispatch, the times, the outcome."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class RescueProblem(models.TextChoices):
    BREAKDOWN = "breakdown", _("Will not start / breakdown")
    BATTERY = "battery", _("Flat battery")
    TYRE = "tyre", _("Flat tyre")
    ACCIDENT = "accident", _("Accident")
    LOCKOUT = "lockout", _("Locked out")
    FUEL = "fuel", _("Out of fuel or charge")
    OTHER = "other", _("Other")


class RescueStatus(models.TextChoices):
    CALLED = "called", _("Call taken")
    DISPATCHED = "dispatched", _("Dispatched")
    ARRIVED = "arrived", _("On site")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class RescueOutcome(models.TextChoices):
    FIXED_ON_SITE = "fixed_on_site", _("Fixed on site")
    TOWED_TO_DEALER = "towed_to_dealer", _("Towed to our workshop")
    TOWED_ELSEWHERE = "towed_elsewhere", _("Towed elsewhere")
    CANCELLED = "cancelled", _("Cancelled by the customer")


class RescueCall(DealerOwnedModel):
    """One rescue: call → dispatched → arrived → done, each step timestamped."""

    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("customer"),
    )
    vehicle = models.ForeignKey(
        "vehicles.Vehicle",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("vehicle"),
    )
    caller_name = models.CharField(_("caller"), max_length=50, blank=True)
    caller_phone = models.CharField(_("call-back number"), max_length=20)  # E.164
    location = models.CharField(_("location"), max_length=300)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    problem = models.CharField(_("problem"), max_length=10, choices=RescueProblem.choices)
    description = models.TextField(_("details"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=RescueStatus.choices, default=RescueStatus.CALLED
    )
    called_at = models.DateTimeField(_("call received"), default=timezone.now)
    dispatched_at = models.DateTimeField(_("dispatched"), null=True, blank=True)
    arrived_at = models.DateTimeField(_("arrived"), null=True, blank=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    # Who went: a technician of the dealer, or a partner's truck (name and phone as text).
    responder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("technician"),
    )
    dispatched_to = models.CharField(_("sent"), max_length=100, blank=True)
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=RescueOutcome.choices, blank=True
    )
    outcome_note = models.TextField(_("outcome notes"), blank=True)
    repair_order = models.ForeignKey(
        "service.RepairOrder",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    follow_up_task = models.ForeignKey(
        "worklist.Task",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("rescue call")
        verbose_name_plural = _("rescue calls")
        indexes = [
            models.Index(fields=["dealer", "status", "-called_at"], name="rescue_status"),
            models.Index(fields=["dealer", "customer", "-called_at"], name="rescue_customer"),
        ]
