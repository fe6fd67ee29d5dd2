"""Vehicles: the model catalogue, each car with its VIN and plate, owners over time, mileage."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel, DealerScopedManager, DealerScopedQuerySet


class BodyType(models.TextChoices):
    SEDAN = "sedan", _("Sedan")
    SUV = "suv", _("SUV")
    MPV = "mpv", _("MPV")
    HATCHBACK = "hatchback", _("Hatchback")
    PICKUP = "pickup", _("Pickup")


class Powertrain(models.TextChoices):
    ICE = "ice", _("Petrol / diesel (ICE)")
    HEV = "hev", _("Hybrid (HEV)")
    PHEV = "phev", _("Plug-in hybrid (PHEV)")
    BEV = "bev", _("Battery electric (BEV)")


class CarModel(models.Model):
    """A model of the catalogue: brand, series, model and model year, with its list price.

    Shared by the network (not dealer-owned): every dealer sells and services the same models.
    Other makes (trade-ins, conquest customers) are kept too, with brand left empty.
    """

    brand = models.ForeignKey(
        "core.Brand", on_delete=models.PROTECT, null=True, blank=True, related_name="car_models"
    )
    make = models.CharField(_("make"), max_length=40)
    series = models.CharField(_("series"), max_length=60)
    name = models.CharField(_("model"), max_length=100)
    model_year = models.PositiveSmallIntegerField(_("model year"))
    body_type = models.CharField(_("body type"), max_length=12, choices=BodyType.choices)
    powertrain = models.CharField(_("powertrain"), max_length=6, choices=Powertrain.choices)
    seats = models.PositiveSmallIntegerField(_("seats"), default=5)
    list_price = models.DecimalField(_("list price (¥)"), max_digits=12, decimal_places=2)
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("car model")
        verbose_name_plural = _("car models")
        ordering = ["make", "series", "-model_year", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["make", "series", "name", "model_year"], name="carmodel_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.make} {self.series} {self.name} {self.model_year}"


class VehicleQuerySet(DealerScopedQuerySet):
    def visible_to(self, user) -> VehicleQuerySet:  # noqa: ANN001
        """Vehicles whose owner the user may see (Customer.objects.visible_to): all of the
        scope's with the permission to see every customer, else those of the user's customers."""
        from dealercrm.core.permissions import Perm

        if user.has_perm(Perm.VIEW_ALL_DEALER_CUSTOMERS):
            return self
        return self.filter(owner__assigned_consultant_id=user.pk)

    def with_related(self) -> VehicleQuerySet:
        return self.select_related("car_model", "owner")


class VehicleManager(DealerScopedManager.from_queryset(VehicleQuerySet)):  # type: ignore[misc]
    pass


class Vehicle(DealerOwnedModel):
    """One car known to the dealer, by VIN. Its owner is the current VehicleOwnership."""

    vin = models.CharField(_("VIN"), max_length=17)
    car_model = models.ForeignKey(
        CarModel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("model"),
        db_index=False,
    )
    # Decoded from the VIN (vininfo) when the catalogue has no model for it.
    manufacturer = models.CharField(_("manufacturer"), max_length=80, blank=True)
    vin_model_year = models.PositiveSmallIntegerField(
        _("model year (from VIN)"), null=True, blank=True
    )
    plate = models.CharField(_("licence plate"), max_length=10, blank=True)
    colour = models.CharField(_("colour"), max_length=30, blank=True)
    purchase_date = models.DateField(_("purchase date"), null=True, blank=True)
    delivery_date = models.DateField(_("delivery date"), null=True, blank=True)
    warranty_end = models.DateField(_("warranty end"), null=True, blank=True)
    insurance_expiry = models.DateField(_("insurance expiry"), null=True, blank=True)
    # Denormalised from the latest MileageReading and the current ownership, for lists and search.
    current_mileage_km = models.PositiveIntegerField(_("mileage (km)"), null=True, blank=True)
    owner = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="vehicles",
        verbose_name=_("owner"),
        db_index=False,
    )
    # Optimistic lock: a save carries the version it read; a stale version is refused.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = VehicleManager()

    class Meta:
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        constraints = [models.UniqueConstraint(fields=["dealer", "vin"], name="vehicle_unique_vin")]
        indexes = [
            models.Index(fields=["dealer", "owner"], name="vehicle_owner"),
            models.Index(fields=["dealer", "plate"], name="vehicle_plate"),
            models.Index(fields=["dealer", "insurance_expiry"], name="vehicle_insurance"),
        ]

    def __str__(self) -> str:
        return self.plate or self.vin


class VehicleOwnership(DealerOwnedModel):
    """Who owned the vehicle, from when to when. A car changes hands; an owner has several cars."""

    vehicle = models.ForeignKey(
        Vehicle, on_delete=models.CASCADE, related_name="ownerships", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="ownerships", db_index=False
    )
    started_on = models.DateField(_("from"))
    ended_on = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("ownership")
        verbose_name_plural = _("ownerships")
        indexes = [
            models.Index(fields=["dealer", "vehicle", "started_on"], name="ownership_vehicle"),
            models.Index(fields=["dealer", "customer"], name="ownership_customer"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "vehicle"],
                condition=models.Q(ended_on__isnull=True),
                name="ownership_one_current",
            )
        ]


class MileageReading(DealerOwnedModel):
    """An odometer reading, from a service visit, the customer, an import or telematics."""

    class Source(models.TextChoices):
        SERVICE = "service", _("Service visit")
        CUSTOMER = "customer", _("Reported by the customer")
        IMPORT = "import", _("Import")
        DELIVERY = "delivery", _("Delivery")

    class Flag(models.TextChoices):
        LOWER = "lower", _("Lower than an earlier reading")
        JUMP = "jump", _("Impossible jump")

    vehicle = models.ForeignKey(
        Vehicle, on_delete=models.CASCADE, related_name="mileage_readings", db_index=False
    )
    km = models.PositiveIntegerField(_("mileage (km)"))
    read_on = models.DateField(_("date"))
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    # Set when the reading contradicts the others (lower than an earlier one, or a jump no car
    # can drive): kept, so nothing is lost, but not believed by the mileage forecast.
    flag = models.CharField(_("flag"), max_length=12, choices=Flag.choices, blank=True)

    class Meta:
        verbose_name = _("mileage reading")
        verbose_name_plural = _("mileage readings")
        indexes = [
            models.Index(fields=["dealer", "vehicle", "-read_on"], name="mileage_vehicle"),
        ]
