"""Forms of the order pages: create, a milestone's dates, delivery, the delay message, cancel.

The forms only read input; the rules (sold vehicles, deposits, dates) are the services'.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.messaging.models import Channel
from dealercrm.vehicles.models import CarModel

from ..models import OrderStage
from ..models.orders import ORDER_STAGE_SEQUENCE

_DATE = forms.DateInput(attrs={"type": "date", "class": "form-control"})
_TEXT = {"class": "form-control"}


class OrderForm(forms.Form):
    car_model = forms.ModelChoiceField(
        label=_("Model"),
        queryset=CarModel.objects.filter(is_active=True).order_by("make", "series", "name"),
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    colour = forms.CharField(
        label=_("Colour"), max_length=30, required=False, widget=forms.TextInput(attrs=_TEXT)
    )
    price = forms.DecimalField(
        label=_("Price (¥)"),
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={**_TEXT, "step": "0.01"}),
    )
    deposit = forms.DecimalField(
        label=_("Deposit (¥)"),
        max_digits=12,
        decimal_places=2,
        required=False,
        initial=0,
        widget=forms.NumberInput(attrs={**_TEXT, "step": "0.01"}),
    )
    deposit_paid_on = forms.DateField(label=_("Deposit paid on"), required=False, widget=_DATE)
    promised_delivery_on = forms.DateField(label=_("Promised delivery date"), widget=_DATE)
    vin = forms.CharField(
        label=_("VIN of a car in stock (optional)"),
        max_length=17,
        required=False,
        help_text=_("When a car of the dealer's stock is allocated already."),
        widget=forms.TextInput(attrs={**_TEXT, "autocomplete": "off"}),
    )
    quote = forms.IntegerField(required=False, widget=forms.HiddenInput)


class MilestoneForm(forms.Form):
    stage = forms.ChoiceField(
        label=_("Stage"),
        choices=[(s.value, s.label) for s in ORDER_STAGE_SEQUENCE],
        widget=forms.HiddenInput,
    )
    expected_on = forms.DateField(label=_("Expected"), required=False, widget=_DATE)
    reached_on = forms.DateField(label=_("Reached"), required=False, widget=_DATE)

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors and not data.get("expected_on") and not data.get("reached_on"):
            raise forms.ValidationError(_("Enter an expected or a reached date."))
        if data.get("stage") == OrderStage.DELIVERED and data.get("reached_on"):
            self.add_error(
                "reached_on",
                _("Record the delivery with the delivery form: it registers the car."),
            )
        return data


class DeliverForm(forms.Form):
    vin = forms.CharField(
        label=_("VIN"),
        max_length=17,
        widget=forms.TextInput(attrs={**_TEXT, "autocomplete": "off"}),
    )
    plate = forms.CharField(
        label=_("Licence plate"),
        max_length=10,
        required=False,
        widget=forms.TextInput(attrs=_TEXT),
    )
    delivered_on = forms.DateField(label=_("Delivered on"), widget=_DATE)


class CustomerToldForm(forms.Form):
    told_at = forms.DateTimeField(
        label=_("Told at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "class": "form-control"}),
        help_text=_("Empty: now."),
    )


DELAY_CHANNELS = (Channel.SMS, Channel.WECHAT, Channel.EMAIL)


class DelayMessageForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[(c.value, c.label) for c in DELAY_CHANNELS],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    body = forms.CharField(
        label=_("Message"),
        max_length=1000,
        widget=forms.Textarea(attrs={**_TEXT, "rows": 4}),
        help_text=_("{{ delivery_date }} becomes the new expected delivery date."),
    )


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is the order cancelled?"), max_length=200, widget=forms.TextInput(attrs=_TEXT)
    )
