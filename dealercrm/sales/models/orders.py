"""Orders: deposit, the car's way to the customer stage by stage, delays told in time."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel, DealerScopedManager, DealerScopedQuerySet

from .quotes import MONEY


class OrderStage(models.TextChoices):
    ORDERED = "ordered", _("Ordered")
    IN_PRODUCTION = "in_production", _("In production")
    IN_TRANSIT = "in_transit", _("In transit")
    ARRIVED = "arrived", _("Arrived at the dealer")
    PDI = "pdi", _("Pre-delivery inspection")
    READY = "ready", _("Ready for delivery")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")


# The way a car goes, in order (cancelled is off the way).
ORDER_STAGE_SEQUENCE = (
    OrderStage.ORDERED,
    OrderStage.IN_PRODUCTION,
    OrderStage.IN_TRANSIT,
    OrderStage.ARRIVED,
    OrderStage.PDI,
    OrderStage.READY,
    OrderStage.DELIVERED,
)


class OrderQuerySet(DealerScopedQuerySet):
    def open(self) -> OrderQuerySet:
        return self.exclude(stage__in=[OrderStage.DELIVERED, OrderStage.CANCELLED])

    def delayed(self) -> OrderQuerySet:
        return self.filter(delay_detected_at__isnull=False)


class OrderManager(DealerScopedManager.from_queryset(OrderQuerySet)):  # type: ignore[misc]
    pass


class Order(DealerOwnedModel):
    """A signed order with its deposit, promised delivery date and the forecast beside it.

    When the forecast (`expected_delivery_on`) first slips past `promised_delivery_on`, the
    delay is recorded (`delay_detected_at`) and a task to tell the customer is created; telling
    them (`customer_told_at`) before the promised date is what the documents measured (47.1%).
    """

    number = models.CharField(_("order number"), max_length=32)
    lead = models.ForeignKey(
        "sales.Lead", on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    quote = models.ForeignKey(
        "sales.Quote",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    car_model = models.ForeignKey(
        "vehicles.CarModel", on_delete=models.PROTECT, related_name="+", verbose_name=_("model")
    )
    colour = models.CharField(_("colour"), max_length=30, blank=True)
    # The physical car, once allocated (VIN known); registered to the customer on delivery.
    vehicle = models.ForeignKey(
        "vehicles.Vehicle",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("vehicle"),
    )
    ordered_on = models.DateField(_("order date"))
    price = models.DecimalField(_("price"), **MONEY)
    deposit = models.DecimalField(_("deposit"), default=0, **MONEY)
    deposit_paid_on = models.DateField(_("deposit paid on"), null=True, blank=True)
    promised_delivery_on = models.DateField(_("promised delivery"))
    expected_delivery_on = models.DateField(_("expected delivery"))
    stage = models.CharField(
        _("stage"), max_length=16, choices=OrderStage.choices, default=OrderStage.ORDERED
    )
    delivered_on = models.DateField(_("delivered on"), null=True, blank=True)
    cancelled_reason = models.CharField(_("why cancelled"), max_length=200, blank=True)
    # Delay: first detected when; the customer told when; told before the promised date?
    delay_detected_at = models.DateTimeField(_("delay detected"), null=True, blank=True)
    customer_told_at = models.DateTimeField(_("customer told"), null=True, blank=True)
    told_in_time = models.BooleanField(_("told before the promised date"), null=True, blank=True)
    # The customer's tracking page (no login): this order's progress and nothing else.
    tracking_token = models.CharField(max_length=64, unique=True)
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

    objects = OrderManager()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-ordered_on", "-id"]
        indexes = [
            models.Index(fields=["dealer", "stage", "expected_delivery_on"], name="order_stage"),
            models.Index(fields=["dealer", "lead"], name="order_lead"),
            models.Index(fields=["dealer", "customer"], name="order_customer"),
            models.Index(fields=["dealer", "vehicle"], name="order_vehicle"),
            models.Index(fields=["dealer", "ordered_on"], name="order_date"),
            # The delay-notice rate (per dealer, by promised date) reads only delayed orders.
            models.Index(
                fields=["dealer", "promised_delivery_on"],
                name="order_delayed",
                condition=models.Q(delay_detected_at__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["dealer", "number"], name="order_unique_number"),
            # One live order per physical car: "an order for a sold vehicle" is refused here too.
            models.UniqueConstraint(
                fields=["dealer", "vehicle"],
                name="order_one_live_per_vehicle",
                condition=models.Q(vehicle__isnull=False) & ~models.Q(stage="cancelled"),
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderMilestone(DealerOwnedModel):
    """One stage of an order's way: when it is expected, when it was reached."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="milestones", db_index=False
    )
    stage = models.CharField(_("stage"), max_length=16, choices=OrderStage.choices)
    expected_on = models.DateField(_("expected"), null=True, blank=True)
    reached_on = models.DateField(_("reached"), null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("order milestone")
        verbose_name_plural = _("order milestones")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "order", "stage"], name="milestone_unique_stage"
            )
        ]

    def __str__(self) -> str:
        return f"{self.order} {self.stage}"
