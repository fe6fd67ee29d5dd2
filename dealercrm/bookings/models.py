"""Bookable resources of a dealer and their bookings.

One model for every resource that can be double-booked — the sales floor's demo cars, and later
the workshop's service bays and loan cars — so "no resource is ever booked twice for the same
time" is one rule, checked in one place (`services.booking_create`), not once per app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel, DealerScopedManager, DealerScopedQuerySet


class ResourceKind(models.TextChoices):
    DEMO_CAR = "demo_car", _("Demo car")
    SERVICE_BAY = "service_bay", _("Service bay")
    LOAN_CAR = "loan_car", _("Loan car")


class ResourceQuerySet(DealerScopedQuerySet):
    def active(self) -> ResourceQuerySet:
        return self.filter(is_active=True)

    def demo_cars(self) -> ResourceQuerySet:
        return self.filter(kind=ResourceKind.DEMO_CAR)


class ResourceManager(DealerScopedManager.from_queryset(ResourceQuerySet)):  # type: ignore[misc]
    pass


class Resource(DealerOwnedModel):
    """Something of the dealer's that one booking at a time can hold: a demo car, a bay."""

    kind = models.CharField(_("kind"), max_length=16, choices=ResourceKind.choices)
    name = models.CharField(_("name"), max_length=100)
    # A demo car or loan car is a model of the catalogue, optionally a registered vehicle.
    car_model = models.ForeignKey(
        "vehicles.CarModel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("model"),
    )
    plate = models.CharField(_("licence plate"), max_length=10, blank=True)
    # Bookings are refused outside these hours (dealer's local time).
    opens_at = models.TimeField(_("available from"), default="09:00")
    closes_at = models.TimeField(_("available until"), default="18:00")
    is_active = models.BooleanField(_("in use"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = ResourceManager()

    class Meta:
        verbose_name = _("resource")
        verbose_name_plural = _("resources")
        ordering = ["kind", "name"]
        indexes = [models.Index(fields=["dealer", "kind", "is_active"], name="resource_kind")]
        constraints = [
            models.UniqueConstraint(fields=["dealer", "kind", "name"], name="resource_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class BookingStatus(models.TextChoices):
    ACTIVE = "active", _("Booked")
    CANCELLED = "cancelled", _("Cancelled")


class BookingQuerySet(DealerScopedQuerySet):
    def active(self) -> BookingQuerySet:
        return self.filter(status=BookingStatus.ACTIVE)

    def overlapping(self, starts_at, ends_at) -> BookingQuerySet:  # noqa: ANN001
        """Bookings that share any instant with [starts_at, ends_at)."""
        return self.filter(starts_at__lt=ends_at, ends_at__gt=starts_at)


class BookingManager(DealerScopedManager.from_queryset(BookingQuerySet)):  # type: ignore[misc]
    pass


class Booking(DealerOwnedModel):
    """A resource held for [starts_at, ends_at), for a purpose another app owns.

    `source_kind`/`source_id` say what holds it ("sales.test_drive", "42"), like worklist tasks,
    so this app never imports the apps that book.
    """

    resource = models.ForeignKey(
        Resource, on_delete=models.PROTECT, related_name="bookings", db_index=False
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    status = models.CharField(
        _("status"), max_length=12, choices=BookingStatus.choices, default=BookingStatus.ACTIVE
    )
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("customer"),
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
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
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    objects = BookingManager()

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        indexes = [
            models.Index(
                fields=["dealer", "resource", "starts_at"],
                name="booking_calendar",
                condition=models.Q(status="active"),
            ),
            models.Index(fields=["dealer", "source_kind", "source_id"], name="booking_source"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="booking_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource} {self.starts_at:%Y-%m-%d %H:%M}"
