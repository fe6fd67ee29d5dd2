"""Complaints (投诉). This first part is the intake the care engine needs — a care call that ends
in a complaint opens one here — so no complaint is lost before the complaint issue builds the
SLA clocks, escalation, handling record and archive on this same model."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class ComplaintChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    WALK_IN = "walk_in", _("Walk-in")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("E-mail")
    OEM_HOTLINE = "oem_hotline", _("Brand hotline")
    SURVEY = "survey", _("Survey answer")
    CARE_TASK = "care_task", _("Care call")


class ComplaintCategory(models.TextChoices):
    SALES_PROCESS = "sales_process", _("Sales process")
    SERVICE_QUALITY = "service_quality", _("Service quality")
    PRODUCT_QUALITY = "product_quality", _("Product quality")
    PRICE = "price", _("Price")
    STAFF_ATTITUDE = "staff_attitude", _("Staff attitude")
    WAITING_TIME = "waiting_time", _("Waiting time")
    PARTS = "parts", _("Parts availability")
    DELIVERY_DELAY = "delivery_delay", _("Delivery delay")
    OTHER = "other", _("Other")


class ComplaintSeverity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class ComplaintStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")


class Complaint(DealerOwnedModel):
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
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
    repair_order = models.ForeignKey(
        "service.RepairOrder",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("repair order"),
    )
    channel = models.CharField(_("received by"), max_length=12, choices=ComplaintChannel.choices)
    category = models.CharField(
        _("category"),
        max_length=16,
        choices=ComplaintCategory.choices,
        default=ComplaintCategory.OTHER,
    )
    severity = models.CharField(
        _("severity"),
        max_length=8,
        choices=ComplaintSeverity.choices,
        default=ComplaintSeverity.MEDIUM,
    )
    description = models.TextField(_("what the customer said"))
    status = models.CharField(
        _("status"), max_length=10, choices=ComplaintStatus.choices, default=ComplaintStatus.OPEN
    )
    # What raised it, e.g. ("care.occurrence", "42").
    source_kind = models.CharField(max_length=40, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        indexes = [
            models.Index(fields=["dealer", "status", "-created_at"], name="complaint_status"),
            models.Index(fields=["dealer", "customer", "-created_at"], name="complaint_customer"),
            models.Index(fields=["dealer", "source_kind", "source_id"], name="complaint_source"),
        ]

    def __str__(self) -> str:
        return self.description[:40]
