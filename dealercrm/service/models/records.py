"""Service appointments and repair orders (工单), with their labour and parts lines."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel, DealerScopedManager, DealerScopedQuerySet


def _default_open_weekdays() -> list[int]:
    return [0, 1, 2, 3, 4, 5, 6]  # a 4S workshop opens every day


class ServicePolicy(DealerOwnedModel):
    """The workshop's booking rules: opening hours, slot length, appointments per day.

    Absent row = these defaults (`services.policy.policy_for_dealer`). Service bays and loan cars
    are `bookings.Resource` rows (kinds service_bay / loan_car), so a bay is never double-booked
    and the sales floor's demo cars follow the same rule.
    """

    dealer = models.OneToOneField(
        "core.Dealer", on_delete=models.CASCADE, related_name="service_policy"
    )
    opens_at = models.TimeField(_("workshop opens"), default="08:30")
    closes_at = models.TimeField(_("workshop closes"), default="17:30")
    open_weekdays = models.JSONField(_("open on"), default=_default_open_weekdays)
    slot_minutes = models.PositiveSmallIntegerField(_("slot length (minutes)"), default=60)
    # Appointments accepted per day, whatever the bays: reception and parts have limits too.
    daily_capacity = models.PositiveSmallIntegerField(_("appointments per day"), default=40)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("service policy")
        verbose_name_plural = _("service policies")


class AppointmentChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    ONLINE = "online", _("Online")
    WALK_IN = "walk_in", _("Walk-in")
    CARE_CALL = "care_call", _("Care call")


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    ARRIVED = "arrived", _("Arrived")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("No-show")


class RepairKind(models.TextChoices):
    MAINTENANCE = "maintenance", _("Maintenance")
    REPAIR = "repair", _("Repair")
    WARRANTY = "warranty", _("Warranty")
    ACCIDENT = "accident", _("Accident")
    RECALL = "recall", _("Recall")
    INSPECTION = "inspection", _("Inspection")
    ACCESSORY = "accessory", _("Accessory fitting")


class Payer(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    WARRANTY = "warranty", _("Warranty")
    INSURER = "insurer", _("Insurer")


class AppointmentQuerySet(DealerScopedQuerySet):
    def booked(self) -> AppointmentQuerySet:
        return self.filter(status=AppointmentStatus.BOOKED)


class AppointmentManager(DealerScopedManager.from_queryset(AppointmentQuerySet)):  # type: ignore[misc]
    pass


class Appointment(DealerOwnedModel):
    """A customer's car booked into the workshop for a time slot, on a bay."""

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
    channel = models.CharField(_("booked by"), max_length=10, choices=AppointmentChannel.choices)
    kind = models.CharField(
        _("service type"), max_length=12, choices=RepairKind.choices, default=RepairKind.MAINTENANCE
    )
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("service advisor"),
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    # The bay (and optionally a loan car) held for the slot; bookings.booking_create refuses
    # a clash. Null for a walk-in without a bay yet.
    bay_booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("bay"),
    )
    loan_car_booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("loan car"),
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.BOOKED,
    )
    concern = models.TextField(_("what the customer wants done"), blank=True)
    # What led to it, e.g. ("care.occurrence", "42") for an appointment booked on a care call.
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
    cancel_reason = models.CharField(_("why cancelled"), max_length=200, blank=True)

    objects = AppointmentManager()

    class Meta:
        verbose_name = _("service appointment")
        verbose_name_plural = _("service appointments")
        indexes = [
            models.Index(fields=["dealer", "starts_at"], name="appointment_day"),
            models.Index(fields=["dealer", "customer", "-starts_at"], name="appointment_customer"),
            models.Index(fields=["dealer", "source_kind", "source_id"], name="appointment_source"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="appointment_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M}"


class RepairOrderStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


class RepairOrderSource(models.TextChoices):
    MANUAL = "manual", _("Entered here")
    IMPORT = "import", _("DMS import")


class RepairOrderQuerySet(DealerScopedQuerySet):
    def open(self) -> RepairOrderQuerySet:
        return self.filter(status=RepairOrderStatus.OPEN)


class RepairOrderManager(DealerScopedManager.from_queryset(RepairOrderQuerySet)):  # type: ignore[misc]
    pass


class RepairOrder(DealerOwnedModel):
    """A repair order (工单) as a DMS exports it: one visit of one car.

    The columns of a typical DMS export map one to one: 工单号 number, 车架号 vin, 车牌号 plate,
    进厂日期 opened_at, 结算日期 closed_at, 进厂里程 mileage_km, 维修类型 kind, 服务顾问
    advisor_name, 付费方 payer, 工时费 labour_amount, 材料费 parts_amount, 合计 total_amount,
    客户描述 customer_concern. The VIN must belong to a known vehicle of the dealer (an unknown
    VIN is refused with the VIN named), and `vin`/`plate` keep what the DMS said.
    """

    number = models.CharField(_("repair order number"), max_length=40)
    vehicle = models.ForeignKey(
        "vehicles.Vehicle",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        verbose_name=_("vehicle"),
    )
    # The owner when the car came in (the vehicle may change hands later).
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("customer"),
    )
    vin = models.CharField(_("VIN"), max_length=17)
    plate = models.CharField(_("licence plate"), max_length=10, blank=True)
    kind = models.CharField(_("type"), max_length=12, choices=RepairKind.choices)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=RepairOrderStatus.choices,
        default=RepairOrderStatus.OPEN,
    )
    opened_at = models.DateTimeField(_("opened"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    mileage_km = models.PositiveIntegerField(_("mileage in (km)"), null=True, blank=True)
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("service advisor"),
    )
    # The advisor as the DMS names them, kept when no user matches.
    advisor_name = models.CharField(_("service advisor (as exported)"), max_length=50, blank=True)
    payer = models.CharField(
        _("paid by"), max_length=10, choices=Payer.choices, default=Payer.CUSTOMER
    )
    customer_concern = models.TextField(_("customer's description"), blank=True)
    diagnosis = models.TextField(_("findings"), blank=True)
    labour_amount = models.DecimalField(_("labour (¥)"), max_digits=12, decimal_places=2, default=0)
    parts_amount = models.DecimalField(_("parts (¥)"), max_digits=12, decimal_places=2, default=0)
    total_amount = models.DecimalField(_("total (¥)"), max_digits=12, decimal_places=2, default=0)
    appointment = models.OneToOneField(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="repair_order",
        verbose_name=_("appointment"),
    )
    recall_campaign = models.ForeignKey(
        "service.RecallCampaign",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("recall campaign"),
    )
    # The reading this visit recorded (flagged there when it contradicts the others).
    mileage_reading = models.ForeignKey(
        "vehicles.MileageReading",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    source = models.CharField(
        _("source"),
        max_length=8,
        choices=RepairOrderSource.choices,
        default=RepairOrderSource.MANUAL,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    objects = RepairOrderManager()

    class Meta:
        verbose_name = _("repair order")
        verbose_name_plural = _("repair orders")
        constraints = [
            models.UniqueConstraint(fields=["dealer", "number"], name="repairorder_unique_number")
        ]
        indexes = [
            models.Index(fields=["dealer", "vehicle", "-opened_at"], name="repairorder_vehicle"),
            models.Index(fields=["dealer", "customer", "-opened_at"], name="repairorder_customer"),
            models.Index(fields=["dealer", "status", "-opened_at"], name="repairorder_status"),
            models.Index(fields=["dealer", "closed_at"], name="repairorder_closed"),
        ]

    def __str__(self) -> str:
        return self.number


class LineType(models.TextChoices):
    LABOUR = "labour", _("Labour")
    PART = "part", _("Part")
    OTHER = "other", _("Other")


class RepairOrderLine(DealerOwnedModel):
    """A labour or parts line of a repair order (工时 / 材料), as the DMS lists them."""

    repair_order = models.ForeignKey(
        RepairOrder, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    line_type = models.CharField(_("line type"), max_length=8, choices=LineType.choices)
    code = models.CharField(_("code"), max_length=40, blank=True)
    description = models.CharField(_("description"), max_length=200)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2, default=1)
    unit_price = models.DecimalField(
        _("unit price (¥)"), max_digits=12, decimal_places=2, default=0
    )
    amount = models.DecimalField(_("amount (¥)"), max_digits=12, decimal_places=2, default=0)
    payer = models.CharField(
        _("paid by"), max_length=10, choices=Payer.choices, default=Payer.CUSTOMER
    )

    class Meta:
        verbose_name = _("repair order line")
        verbose_name_plural = _("repair order lines")
        indexes = [models.Index(fields=["dealer", "repair_order"], name="repairorderline_order")]

    def __str__(self) -> str:
        return self.description
