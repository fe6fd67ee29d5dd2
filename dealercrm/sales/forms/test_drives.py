"""Forms of the test-drive pages. They convert what was typed; the services validate and save."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.bookings.forms import StyledForm
from dealercrm.bookings.models import Resource
from dealercrm.sales.models import Lead

RATING_CHOICES = [("", "—")] + [(str(n), "★" * n) for n in range(1, 6)]


class _DemoCarChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Resource) -> str:
        model = f" · {obj.car_model.series} {obj.car_model.name}" if obj.car_model_id else ""
        plate = f" ({obj.plate})" if obj.plate else ""
        return f"{obj.name}{model}{plate}"


class TestDriveBookForm(StyledForm):
    """Book a demo car for a lead: the car, the start, the length, the pick-up."""

    __test__ = False  # not a pytest test class

    demo_car = _DemoCarChoice(label=_("Demo car"), queryset=Resource._base_manager.none())
    starts_at = forms.DateTimeField(
        label=_("Starts at"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    minutes = forms.IntegerField(
        label=_("Length (minutes)"), min_value=15, max_value=480, required=False
    )
    pickup = forms.BooleanField(label=_("We pick the customer up"), required=False)
    pickup_address = forms.CharField(label=_("Pick-up address"), max_length=200, required=False)

    def __init__(self, *args: Any, cars: list[Resource], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["demo_car"].queryset = Resource.objects.filter(pk__in=[c.pk for c in cars])
        # The choices from the list already read (no second query to render the select).
        self.fields["demo_car"].choices = [("", "—")] + [
            (c.pk, self.fields["demo_car"].label_from_instance(c)) for c in cars
        ]
        self._cars = {c.pk: c for c in cars}

    def clean_demo_car(self) -> Resource | None:
        car = self.cleaned_data.get("demo_car")
        return self._cars.get(car.pk, car) if car is not None else None

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        starts_at: datetime.datetime = data["starts_at"]
        minutes = data.get("minutes")
        return {
            "demo_car": data["demo_car"],
            "starts_at": starts_at,
            "ends_at": starts_at + datetime.timedelta(minutes=minutes) if minutes else None,
            "pickup": bool(data.get("pickup")),
            "pickup_address": data.get("pickup_address") or "",
        }


class CalendarBookForm(TestDriveBookForm):
    """Booking from a free slot of the calendar: the same, plus which lead it is for."""

    lead = forms.TypedChoiceField(label=_("For the lead"), coerce=int)

    def __init__(self, *args: Any, leads: list[Lead], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead"].choices = [("", "—")] + [(lead.pk, lead_label(lead)) for lead in leads]
        self.order_fields(["lead"])


def lead_label(lead: Lead) -> str:
    model = f" · {lead.car_model.series} {lead.car_model.name}" if lead.car_model_id else ""
    return f"#{lead.pk} {lead.customer.name}{model}"


class LicenceForm(StyledForm):
    valid_until = forms.DateField(
        label=_("Driving licence valid until"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class OutcomeForm(StyledForm):
    rating = forms.ChoiceField(
        label=_("The customer's rating"), choices=RATING_CHOICES, required=False
    )
    feedback = forms.CharField(
        label=_("What the customer said"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        max_length=4000,
    )

    def service_kwargs(self) -> dict[str, Any]:
        rating = self.cleaned_data.get("rating")
        return {
            "feedback": self.cleaned_data.get("feedback") or "",
            "rating": int(rating) if rating else None,
        }


class CancelForm(StyledForm):
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class MoveForm(StyledForm):
    starts_at = forms.DateTimeField(
        label=_("New start"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
