"""Test drives: a demo car booked for a prospect, the licence check, the outcome."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel, DealerScopedManager, DealerScopedQuerySet


class TestDriveStatus(models.TextChoices):
    __test__ = False  # not a pytest test class, whatever its name

    SCHEDULED = "scheduled", _("Scheduled")
    COMPLETED = "completed", _("Driven")
    NO_SHOW = "no_show", _("Did not come")
    CANCELLED = "cancelled", _("Cancelled")


class TestDriveQuerySet(DealerScopedQuerySet):
    def visible_to(self, user) -> TestDriveQuerySet:  # noqa: ANN001
        """The test drives of the leads the user sees (a consultant: their own leads')."""
        from dealercrm.core.permissions import Perm

        if user.has_perm(Perm.VIEW_ALL_LEADS):
            return self
        return self.filter(lead__consultant_id=user.pk)

    def scheduled(self) -> TestDriveQuerySet:
        return self.filter(status=TestDriveStatus.SCHEDULED)

    def between(self, start, end) -> TestDriveQuerySet:  # noqa: ANN001
        """Test drives that share any instant with [start, end)."""
        return self.filter(starts_at__lt=end, ends_at__gt=start)


class TestDriveManager(DealerScopedManager.from_queryset(TestDriveQuerySet)):  # type: ignore[misc]
    pass


class TestDrive(DealerOwnedModel):
    """A test drive; its demo car is held by a bookings.Booking, so a car cannot be booked twice."""

    __test__ = False  # not a pytest test class, whatever its name

    lead = models.ForeignKey(
        "sales.Lead", on_delete=models.CASCADE, related_name="test_drives", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    demo_car = models.ForeignKey(
        "bookings.Resource",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("demo car"),
    )
    booking = models.OneToOneField(
        "bookings.Booking", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("consultant"),
    )
    pickup = models.BooleanField(_("we pick the customer up"), default=False)
    pickup_address = models.CharField(_("pick-up address"), max_length=200, blank=True)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=TestDriveStatus.choices,
        default=TestDriveStatus.SCHEDULED,
    )
    # The driving-licence check, recorded before the keys are handed over.
    licence_checked_at = models.DateTimeField(_("licence checked"), null=True, blank=True)
    licence_checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    licence_valid_until = models.DateField(_("licence valid until"), null=True, blank=True)
    # Outcome and what the prospect said.
    feedback = models.TextField(_("the customer's feedback"), blank=True)
    rating = models.PositiveSmallIntegerField(_("rating (1–5)"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("reason"), max_length=200, blank=True)
    # The day-before reminder: set once it is queued, so the hourly job sends it once.
    reminder_sent_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TestDriveManager()

    class Meta:
        verbose_name = _("test drive")
        verbose_name_plural = _("test drives")
        ordering = ["starts_at"]
        indexes = [
            models.Index(fields=["dealer", "starts_at"], name="testdrive_calendar"),
            models.Index(fields=["dealer", "lead"], name="testdrive_lead"),
            models.Index(fields=["dealer", "customer", "-starts_at"], name="testdrive_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.demo_car} {self.starts_at:%Y-%m-%d %H:%M}"
