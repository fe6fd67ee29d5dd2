"""Forms of the vehicles pages: they check the shape of the input; the services decide."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.models import Brand

from .models import BodyType, CarModel, MileageReading, Powertrain
from .validators import validate_plate, validate_vin

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class StyledForm(forms.Form):
    """Tabler classes on every widget, and is-invalid on the fields with errors."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{css} {widget.attrs.get('class', '')}".strip()

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = widget.attrs.get("class", "") + " is-invalid"


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form's fields (or the form when no field fits)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            if field in form.fields:
                form.add_error(field, errors)
                widget = form.fields[field].widget
                widget.attrs["class"] = widget.attrs.get("class", "") + " is-invalid"
            else:
                form.add_error(None, errors)
    else:
        form.add_error(None, exc.messages)


class VehicleForm(StyledForm):
    car_model = forms.ModelChoiceField(
        label=_("Model"), queryset=CarModel.objects.none(), required=False
    )
    vin = forms.CharField(
        label=_("VIN"),
        max_length=40,
        help_text=_("17 characters; letters I, O and Q are never used."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "text-uppercase"}),
    )
    plate = forms.CharField(
        label=_("Licence plate"),
        max_length=16,
        required=False,
        help_text=_("For example 沪A12345, or 沪AD12345 for a new-energy vehicle."),
    )
    colour = forms.CharField(label=_("Colour"), max_length=30, required=False)
    purchase_date = forms.DateField(label=_("Purchase date"), required=False, widget=DATE)
    delivery_date = forms.DateField(label=_("Delivery date"), required=False, widget=DATE)
    warranty_end = forms.DateField(label=_("Warranty end"), required=False, widget=DATE)
    insurance_expiry = forms.DateField(label=_("Insurance expiry"), required=False, widget=DATE)

    def __init__(self, *args, car_models=None, **kwargs) -> None:  # noqa: ANN001
        super().__init__(*args, **kwargs)
        if car_models is not None:
            self.fields["car_model"].queryset = car_models

    def clean_vin(self) -> str:
        return validate_vin(self.cleaned_data["vin"])

    def clean_plate(self) -> str:
        value = self.cleaned_data["plate"]
        return validate_plate(value) if value.strip() else ""


class VehicleCreateForm(VehicleForm):
    mileage_km = forms.IntegerField(
        label=_("Mileage (km)"),
        required=False,
        min_value=0,
        help_text=_("The odometer now, if known."),
    )


class VehicleEditForm(VehicleForm):
    version = forms.IntegerField(widget=forms.HiddenInput)


class TransferForm(StyledForm):
    new_owner = forms.IntegerField(label=_("New owner"), widget=forms.HiddenInput)
    on = forms.DateField(label=_("Date of the change"), widget=DATE)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["on"].initial = timezone.localdate()


class MileageForm(StyledForm):
    km = forms.IntegerField(label=_("Mileage (km)"), min_value=0)
    read_on = forms.DateField(label=_("Date"), widget=DATE)
    source = forms.ChoiceField(
        label=_("Source"),
        choices=MileageReading.Source.choices,
        initial=MileageReading.Source.CUSTOMER,
    )

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["read_on"].initial = timezone.localdate()


class CarModelForm(StyledForm):
    brand = forms.ModelChoiceField(
        label=_("Brand"),
        queryset=Brand.objects.all(),
        required=False,
        help_text=_("Leave empty for other makes (trade-ins, conquest customers)."),
    )
    make = forms.CharField(label=_("Make"), max_length=40)
    series = forms.CharField(label=_("Series"), max_length=60)
    name = forms.CharField(label=_("Model"), max_length=100)
    model_year = forms.IntegerField(label=_("Model year"), min_value=1950, max_value=2100)
    body_type = forms.ChoiceField(label=_("Body type"), choices=BodyType.choices)
    powertrain = forms.ChoiceField(label=_("Powertrain"), choices=Powertrain.choices)
    seats = forms.IntegerField(label=_("Seats"), min_value=1, max_value=50, initial=5)
    list_price = forms.DecimalField(
        label=_("List price (¥)"), max_digits=12, decimal_places=2, min_value=0
    )
    is_active = forms.BooleanField(label=_("On sale"), required=False, initial=True)
