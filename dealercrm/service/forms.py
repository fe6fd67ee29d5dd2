"""Forms of the service pages (policy, appointments, repair orders). They convert what was typed;
the services decide what is allowed. Times typed are the dealer's wall-clock time (the views
parse them under the dealer's time zone)."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.bookings.models import Resource
from dealercrm.core.forms import StyledForm
from dealercrm.core.models import User
from dealercrm.vehicles.models import Vehicle
from dealercrm.vehicles.validators import normalise_plate, normalise_vin

from .models import (
    AppointmentChannel,
    AppointmentStatus,
    LineType,
    Payer,
    RepairKind,
    RepairOrderStatus,
)

DATETIME_INPUT = {
    "widget": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    "input_formats": ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
}
WEEKDAY_CHOICES = [
    ("0", _("Mon")),
    ("1", _("Tue")),
    ("2", _("Wed")),
    ("3", _("Thu")),
    ("4", _("Fri")),
    ("5", _("Sat")),
    ("6", _("Sun")),
]


def _datetime_field(label: Any, *, required: bool = True) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=required,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=DATETIME_INPUT["input_formats"],
    )


def resource_label(resource: Resource) -> str:
    plate = f" ({resource.plate})" if resource.plate else ""
    return f"{resource.name}{plate}"


def user_choices(users: list[User]) -> list[tuple[Any, str]]:
    return [("", "—")] + [(u.pk, str(u)) for u in users]


def find_vehicle(dealer_id: int, text: str) -> Vehicle | None:
    """The dealer's car by its plate or VIN as typed (one query)."""
    value = (text or "").strip()
    if not value:
        return None
    vin, plate = normalise_vin(value), normalise_plate(value)
    qs = Vehicle.objects.filter(dealer_id=dealer_id).select_related("owner", "car_model")
    if len(vin) == 17:
        return qs.filter(vin=vin).first()
    return qs.filter(plate=plate).order_by("-id").first()


class PolicyForm(StyledForm):
    opens_at = forms.TimeField(
        label=_("Workshop opens"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    closes_at = forms.TimeField(
        label=_("Workshop closes"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    open_weekdays = forms.MultipleChoiceField(
        label=_("Open on"),
        choices=WEEKDAY_CHOICES,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        required=False,
    )
    slot_minutes = forms.IntegerField(label=_("Slot length (minutes)"))
    daily_capacity = forms.IntegerField(label=_("Appointments per day"))

    def service_kwargs(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["open_weekdays"] = [int(d) for d in data.get("open_weekdays") or []]
        return data


class AppointmentForm(StyledForm):
    """Book an appointment: for a customer given (their car chosen), or for the car whose plate
    or VIN is typed (its owner is the customer)."""

    customer = forms.IntegerField(widget=forms.HiddenInput, required=False)
    vehicle = forms.TypedChoiceField(label=_("Car"), coerce=int, required=False, empty_value=None)
    car = forms.CharField(
        label=_("Plate or VIN"),
        max_length=20,
        required=False,
        help_text=_("The car's licence plate or its 17-character VIN; its owner is the customer."),
    )
    starts_at = _datetime_field(_("Starts at"))
    minutes = forms.IntegerField(
        label=_("Length (minutes)"), min_value=15, max_value=600, required=False
    )
    channel = forms.ChoiceField(
        label=_("Booked by"), choices=AppointmentChannel.choices, initial=AppointmentChannel.PHONE
    )
    kind = forms.ChoiceField(
        label=_("Service type"), choices=RepairKind.choices, initial=RepairKind.MAINTENANCE
    )
    advisor = forms.TypedChoiceField(
        label=_("Service advisor"), coerce=int, required=False, empty_value=None
    )
    bay = forms.TypedChoiceField(
        label=_("Bay"),
        coerce=int,
        required=False,
        empty_value=None,
        help_text=_("Leave empty for the first free bay."),
    )
    loan_car = forms.TypedChoiceField(
        label=_("Loan car"), coerce=int, required=False, empty_value=None
    )
    concern = forms.CharField(
        label=_("What the customer wants done"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self,
        *args: Any,
        dealer_id: int,
        vehicles: list[Vehicle],
        advisors: list[User],
        bays: list[Resource],
        loan_cars: list[Resource],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.dealer_id = dealer_id
        self._vehicles = {v.pk: v for v in vehicles}
        self._advisors = {u.pk: u for u in advisors}
        self._resources = {r.pk: r for r in [*bays, *loan_cars]}
        self.fields["vehicle"].choices = [("", "—")] + [
            (v.pk, f"{v.plate or v.vin}{' · ' + str(v.car_model) if v.car_model_id else ''}")
            for v in vehicles
        ]
        self.fields["advisor"].choices = user_choices(advisors)
        self.fields["bay"].choices = [("", _("First free bay"))] + [
            (b.pk, resource_label(b)) for b in bays
        ]
        self.fields["loan_car"].choices = [("", _("None"))] + [
            (c.pk, resource_label(c)) for c in loan_cars
        ]
        self.resolved_vehicle: Vehicle | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        vehicle_id = data.get("vehicle")
        if vehicle_id:
            self.resolved_vehicle = self._vehicles.get(vehicle_id)
        elif not data.get("customer"):
            car = data.get("car") or ""
            if not car.strip():
                self.add_error("car", _("Enter the car's plate or VIN."))
            else:
                vehicle = find_vehicle(self.dealer_id, car)
                if vehicle is None:
                    self.add_error(
                        "car",
                        _("No car with plate or VIN %(car)s is known at this dealer.")
                        % {"car": car.strip()},
                    )
                elif vehicle.owner_id is None:
                    self.add_error(
                        "car", _("This car has no owner on record: add the owner first.")
                    )
                else:
                    self.resolved_vehicle = vehicle
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        starts_at: datetime.datetime = data["starts_at"]
        minutes = data.get("minutes")
        return {
            "vehicle": self.resolved_vehicle,
            "starts_at": starts_at,
            "ends_at": starts_at + datetime.timedelta(minutes=minutes) if minutes else None,
            "channel": data["channel"],
            "kind": data["kind"],
            "advisor": self._advisors.get(data.get("advisor") or 0),
            "bay": self._resources.get(data.get("bay") or 0),
            "loan_car": self._resources.get(data.get("loan_car") or 0),
            "concern": data.get("concern") or "",
        }


class MoveForm(StyledForm):
    starts_at = _datetime_field(_("New start"))
    bay = forms.TypedChoiceField(label=_("Bay"), coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, bays: list[Resource], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bays = {b.pk: b for b in bays}
        self.fields["bay"].choices = [("", _("Keep the bay if free"))] + [
            (b.pk, resource_label(b)) for b in bays
        ]

    def bay_resource(self) -> Resource | None:
        return self._bays.get(self.cleaned_data.get("bay") or 0)


class CancelForm(StyledForm):
    reason = forms.CharField(label=_("Why"), max_length=200, required=False)


class ArriveForm(StyledForm):
    mileage_km = forms.IntegerField(label=_("Mileage (km)"), min_value=0, required=False)


class RepairOrderForm(StyledForm):
    car = forms.CharField(
        label=_("VIN or plate"),
        max_length=20,
        help_text=_("The 17-character VIN, or the licence plate of a car known at this dealer."),
    )
    kind = forms.ChoiceField(label=_("Type"), choices=RepairKind.choices)
    mileage_km = forms.IntegerField(label=_("Mileage in (km)"), min_value=0, required=False)
    advisor = forms.TypedChoiceField(
        label=_("Service advisor"), coerce=int, required=False, empty_value=None
    )
    payer = forms.ChoiceField(label=_("Paid by"), choices=Payer.choices, initial=Payer.CUSTOMER)
    customer_concern = forms.CharField(
        label=_("Customer's description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    number = forms.CharField(
        label=_("Repair order number"),
        max_length=40,
        required=False,
        help_text=_("Leave empty for the next number (R + date + sequence)."),
    )

    def __init__(self, *args: Any, dealer_id: int, advisors: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dealer_id = dealer_id
        self._advisors = {u.pk: u for u in advisors}
        self.fields["advisor"].choices = user_choices(advisors)

    def clean_car(self) -> str:
        """A plate becomes its car's VIN; a VIN goes to the service as typed (it explains a
        malformed or unknown VIN itself)."""
        value = (self.cleaned_data.get("car") or "").strip()
        vin = normalise_vin(value)
        if len(vin) == 17:
            return vin
        vehicle = find_vehicle(self.dealer_id, value)
        if vehicle is None:
            raise forms.ValidationError(
                _(
                    "No car with plate %(plate)s is known at this dealer; enter the VIN or add "
                    "the vehicle first."
                )
                % {"plate": normalise_plate(value)}
            )
        return vehicle.vin

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "vin": data["car"],
            "kind": data["kind"],
            "mileage_km": data.get("mileage_km"),
            "advisor": self._advisors.get(data.get("advisor") or 0),
            "payer": data["payer"],
            "customer_concern": data.get("customer_concern") or "",
            "number": data.get("number") or "",
        }


class LineForm(StyledForm):
    line_type = forms.ChoiceField(label=_("Line type"), choices=LineType.choices)
    code = forms.CharField(label=_("Code"), max_length=40, required=False)
    description = forms.CharField(label=_("Description"), max_length=200)
    quantity = forms.DecimalField(label=_("Quantity"), max_digits=10, decimal_places=2, initial=1)
    unit_price = forms.DecimalField(
        label=_("Unit price (¥)"), max_digits=12, decimal_places=2, initial=0
    )
    amount = forms.DecimalField(
        label=_("Amount (¥)"),
        max_digits=12,
        decimal_places=2,
        required=False,
        help_text=_("Leave empty for quantity × unit price."),
    )
    payer = forms.ChoiceField(
        label=_("Paid by"), choices=[("", _("As the order")), *Payer.choices], required=False
    )


class CloseForm(StyledForm):
    closed_at = _datetime_field(_("Settled at"), required=False)


class RepairOrderFilterForm(StyledForm):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("Any status")), *RepairOrderStatus.choices],
        required=False,
    )
    kind = forms.ChoiceField(
        label=_("Type"), choices=[("", _("Any type")), *RepairKind.choices], required=False
    )
    advisor = forms.TypedChoiceField(
        label=_("Service advisor"), coerce=int, required=False, empty_value=None
    )
    opened_from = forms.DateField(
        label=_("Opened from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    opened_to = forms.DateField(
        label=_("Opened until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, advisors: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["advisor"].choices = [("", _("Any advisor"))] + [
            (u.pk, str(u)) for u in advisors
        ]


class AppointmentFilterForm(StyledForm):
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("Any status")), *AppointmentStatus.choices],
        required=False,
    )
    day_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    day_to = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
