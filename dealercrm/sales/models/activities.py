"""Follow-up activities: what a consultant did with a lead, what came of it, what comes next."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class ActivityKind(models.TextChoices):
    CALL = "call", _("Phone call")
    VISIT = "visit", _("Showroom visit")
    WECHAT = "wechat", _("WeChat")
    SMS = "sms", _("SMS")


class ActivityResult(models.TextChoices):
    REACHED = "reached", _("Talked to the customer")
    NO_ANSWER = "no_answer", _("No answer")
    CALL_BACK = "call_back", _("Asked to be called back")
    TEST_DRIVE_BOOKED = "test_drive_booked", _("Test drive booked")
    VISIT_BOOKED = "visit_booked", _("Visit arranged")
    QUOTE_GIVEN = "quote_given", _("Quote given")
    THINKING = "thinking", _("Still deciding")
    NOT_INTERESTED = "not_interested", _("Not interested")


class Activity(DealerOwnedModel):
    """One follow-up with a lead. Logging one with a next step moves the lead's next action."""

    lead = models.ForeignKey(
        "sales.Lead", on_delete=models.CASCADE, related_name="activities", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=10, choices=ActivityKind.choices)
    result = models.CharField(_("result"), max_length=20, choices=ActivityResult.choices)
    note = models.TextField(_("note"), blank=True)
    next_action = models.CharField(_("next step"), max_length=200, blank=True)
    next_action_due = models.DateField(_("next step due"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("by"),
    )

    class Meta:
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["dealer", "lead", "-occurred_at"], name="activity_lead"),
            models.Index(fields=["dealer", "customer", "-occurred_at"], name="activity_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"
