"""A dealer's sales rules: how leads are assigned, how fast they must be answered."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class AssignmentMode(models.TextChoices):
    ROUND_ROBIN = "round_robin", _("Round-robin among consultants on duty")
    BY_LOAD = "by_load", _("The consultant on duty with the fewest open leads")
    MANUAL = "manual", _("Manual: the manager assigns")


class SalesPolicy(DealerOwnedModel):
    """One per dealer, made with defaults on first use (`selectors.sales_policy_for`)."""

    assignment_mode = models.CharField(
        _("assignment"),
        max_length=16,
        choices=AssignmentMode.choices,
        default=AssignmentMode.ROUND_ROBIN,
    )
    # The documents' figure: a new lead is contacted within 30 minutes (of opening hours).
    first_response_minutes = models.PositiveIntegerField(
        _("first-response time (minutes)"), default=30
    )
    opens_at = models.TimeField(_("opening time"), default=datetime.time(9, 0))
    closes_at = models.TimeField(_("closing time"), default=datetime.time(18, 0))
    # ISO weekdays the showroom is open, "1234567" = every day (4S showrooms open at weekends).
    open_weekdays = models.CharField(_("open days"), max_length=7, default="1234567")
    # Reassign an unanswered lead to the next consultant when its first-response time passes.
    auto_reassign = models.BooleanField(_("reassign unanswered leads automatically"), default=False)
    # OEM dispatch: a lead is released to the dealer this many days before the test drive.
    dispatch_release_days = models.PositiveSmallIntegerField(
        _("release dispatched leads (days before the test drive)"), default=3
    )
    test_drive_minutes = models.PositiveSmallIntegerField(
        _("test-drive length (minutes)"), default=60
    )
    # Round-robin pointer: the consultant who got the last lead.
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("sales policy")
        verbose_name_plural = _("sales policies")
        constraints = [
            models.UniqueConstraint(fields=["dealer"], name="salespolicy_one_per_dealer")
        ]

    def __str__(self) -> str:
        return str(_("Sales policy"))
