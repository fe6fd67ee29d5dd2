"""Complaints (投诉): intake from every channel, two SLA clocks (first response, solution),
escalation to the dealer manager and then the OEM, the handling record, and the follow-up that
closes or reopens a complaint. Every step is a `ComplaintEvent`, timestamped, so the archive's
statistics (time to first response, to solution, SLA compliance) are computed from facts."""

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
    # "open": received, nobody has answered the customer yet (the first-response clock runs).
    OPEN = "open", _("New")
    IN_PROGRESS = "in_progress", _("In progress")
    # A solution was given; waiting for the follow-up call that closes (or reopens) it.
    SOLVED = "solved", _("Solved, awaiting follow-up")
    CLOSED = "closed", _("Closed")


# Statuses whose clocks still run (the solution clock stops at SOLVED).
ACTIVE_STATUSES = (ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS)


class RootCause(models.TextChoices):
    PROCESS = "process", _("Process not followed")
    TRAINING = "training", _("Staff skills or training")
    ATTITUDE = "attitude", _("Staff attitude")
    COMMUNICATION = "communication", _("Communication or expectations")
    PRODUCT_DEFECT = "product_defect", _("Product defect")
    WORKMANSHIP = "workmanship", _("Repair workmanship")
    PARTS_SUPPLY = "parts_supply", _("Parts supply")
    CAPACITY = "capacity", _("Capacity or waiting time")
    PRICING = "pricing", _("Pricing or policy")
    THIRD_PARTY = "third_party", _("Third party (insurer, logistics)")
    NO_FAULT = "no_fault", _("No fault found")
    OTHER = "other", _("Other")


class EscalationLevel(models.IntegerChoices):
    NONE = 0, _("Not escalated")
    DEALER_MANAGER = 1, _("Escalated to the dealer manager")
    OEM = 2, _("Escalated to the brand")


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
        _("status"), max_length=12, choices=ComplaintStatus.choices, default=ComplaintStatus.OPEN
    )
    order = models.ForeignKey(
        "sales.Order",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("order"),
    )
    # Denormalised from the vehicle at intake, so the archive groups by model without joins.
    car_model = models.ForeignKey(
        "vehicles.CarModel",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("model"),
    )
    # The consultant or advisor the complaint is about (for the archive's per-person figures).
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("staff member concerned"),
    )
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("handled by"),
    )
    # The brand hotline's own case number when the OEM routed the complaint to the dealer.
    oem_reference = models.CharField(_("brand case number"), max_length=40, blank=True)
    # --- SLA clocks (deadlines computed at intake from the dealer's ComplaintSlaPolicy) -------
    response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    solution_due_at = models.DateTimeField(_("solution due"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    solved_at = models.DateTimeField(_("solved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    response_warned_at = models.DateTimeField(null=True, blank=True)
    solution_warned_at = models.DateTimeField(null=True, blank=True)
    escalation_level = models.PositiveSmallIntegerField(
        _("escalation"), choices=EscalationLevel.choices, default=EscalationLevel.NONE
    )
    escalated_at = models.DateTimeField(_("escalated to the manager at"), null=True, blank=True)
    oem_escalated_at = models.DateTimeField(_("escalated to the brand at"), null=True, blank=True)
    # --- The handling record --------------------------------------------------------------
    solution = models.TextField(_("solution offered"), blank=True)
    solution_accepted = models.BooleanField(_("customer accepted the solution"), null=True)
    root_cause = models.CharField(
        _("root cause"), max_length=16, choices=RootCause.choices, blank=True
    )
    root_cause_detail = models.TextField(_("root cause in detail"), blank=True)
    corrective_action = models.TextField(_("corrective action"), blank=True)
    preventive_action = models.TextField(_("preventive action"), blank=True)
    # The closing follow-up: "are you satisfied with how this was handled?"; "no" reopens.
    follow_up_satisfied = models.BooleanField(_("satisfied with the handling"), null=True)
    followed_up_at = models.DateTimeField(_("followed up at"), null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    version = models.PositiveIntegerField(default=1)  # optimistic lock for concurrent handlers
    # What raised it, e.g. ("care.occurrence", "42"), ("feedback.survey_response", "7").
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
            # The SLA sweep: active complaints by their next deadline.
            models.Index(fields=["dealer", "status", "response_due_at"], name="complaint_resp_due"),
            models.Index(fields=["dealer", "status", "solution_due_at"], name="complaint_sol_due"),
        ]

    def __str__(self) -> str:
        return self.description[:40]


class ComplaintEventKind(models.TextChoices):
    RECEIVED = "received", _("Received")
    ROUTED = "routed", _("Routed by the brand")
    ASSIGNED = "assigned", _("Assigned")
    CONTACT = "contact", _("Contact with the customer")
    RESPONDED = "responded", _("First response")
    SOLUTION = "solution", _("Solution offered")
    ACCEPTED = "accepted", _("Solution accepted")
    DECLINED = "declined", _("Solution declined")
    ANALYSIS = "analysis", _("Root cause and actions")
    RESPONSE_WARNING = "response_warning", _("First response due soon")
    SOLUTION_WARNING = "solution_warning", _("Solution due soon")
    ESCALATED = "escalated", _("Escalated to the dealer manager")
    ESCALATED_OEM = "escalated_oem", _("Escalated to the brand")
    SOLVED = "solved", _("Solved")
    FOLLOW_UP = "follow_up", _("Follow-up")
    CLOSED = "closed", _("Closed")
    REOPENED = "reopened", _("Reopened")
    NOTE = "note", _("Note")


class ComplaintEvent(DealerOwnedModel):
    """One timestamped step of a complaint's handling: the contact log, the solution, the
    clocks' warnings and escalations, the follow-up. Never edited; the handling history."""

    complaint = models.ForeignKey(
        Complaint, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(_("step"), max_length=20, choices=ComplaintEventKind.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("by"),
    )
    # How the customer was contacted (a ComplaintChannel value), for CONTACT steps.
    channel = models.CharField(_("by way of"), max_length=12, blank=True)
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("complaint step")
        verbose_name_plural = _("complaint steps")
        indexes = [
            models.Index(fields=["dealer", "complaint", "at"], name="complaint_event_at"),
            models.Index(fields=["dealer", "kind", "at"], name="complaint_event_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"


class ComplaintSlaPolicy(DealerOwnedModel):
    """A dealer's SLA for one severity. Without a row the documents' figures apply: first
    response within 30 minutes, solution within 24 hours (see services/sla.py DEFAULTS)."""

    severity = models.CharField(_("severity"), max_length=8, choices=ComplaintSeverity.choices)
    response_minutes = models.PositiveIntegerField(_("first response within (minutes)"), default=30)
    solution_minutes = models.PositiveIntegerField(_("solution within (minutes)"), default=1440)
    response_warn_minutes = models.PositiveIntegerField(
        _("warn before the response is due (minutes)"), default=10
    )
    solution_warn_minutes = models.PositiveIntegerField(
        _("warn before the solution is due (minutes)"), default=120
    )
    # The second escalation level: still unsolved this long after the solution deadline.
    oem_after_minutes = models.PositiveIntegerField(
        _("escalate to the brand after a further (minutes)"), default=1440
    )
    # Count only the dealer's opening hours (service.ServicePolicy) instead of the wall clock.
    business_hours_only = models.BooleanField(_("count opening hours only"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("complaint SLA")
        verbose_name_plural = _("complaint SLAs")
        constraints = [
            models.UniqueConstraint(fields=["dealer", "severity"], name="complaint_sla_unique")
        ]

    def __str__(self) -> str:
        return f"{self.severity}: {self.response_minutes}/{self.solution_minutes} min"
