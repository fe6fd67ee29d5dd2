"""Forms of the care pages: a call's outcome, a rule's settings (built from the rule's
`config_fields`), a seasonal check. They read and shape input; the services decide."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.forms import StyledForm
from dealercrm.core.models import Region
from dealercrm.feedback.models import ComplaintCategory, ComplaintSeverity
from dealercrm.service.models import RepairKind

from .models import CareOutcome, SeasonalCheck
from .services.outcomes import CHOOSABLE_OUTCOMES, AppointmentRequest, ComplaintRequest


class OutcomeForm(StyledForm):
    """How the call ended, with what the outcome needs: a slot for an appointment, the
    complaint's words and category for a complaint."""

    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=CHOOSABLE_OUTCOMES, widget=forms.RadioSelect
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("What the customer said")}),
    )
    seen_attempts = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # Appointment booked
    day = forms.DateField(
        label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    starts_at = forms.CharField(label=_("Time slot"), required=False)
    kind = forms.ChoiceField(
        label=_("Service type"),
        choices=RepairKind.choices,
        initial=RepairKind.MAINTENANCE,
        required=False,
    )
    # Complaint
    complaint_category = forms.ChoiceField(
        label=_("Complaint category"),
        choices=ComplaintCategory.choices,
        initial=ComplaintCategory.OTHER,
        required=False,
    )
    complaint_severity = forms.ChoiceField(
        label=_("Severity"),
        choices=ComplaintSeverity.choices,
        initial=ComplaintSeverity.MEDIUM,
        required=False,
    )

    def __init__(self, *args: Any, slots: list[datetime.datetime] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.slots = slots or []
        if self.slots:
            choices = [("", _("Choose a time"))] + [
                (slot.isoformat(), timezone.localtime(slot).strftime("%H:%M"))
                for slot in self.slots
            ]
            self.fields["starts_at"].widget = forms.Select(
                choices=choices, attrs={"class": "form-select"}
            )
        else:
            self.fields["starts_at"].widget = forms.DateTimeInput(
                attrs={"type": "datetime-local", "class": "form-control"}
            )

    def clean_starts_at(self) -> datetime.datetime | None:
        value = (self.cleaned_data.get("starts_at") or "").strip()
        if not value:
            return None
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError as exc:
            raise forms.ValidationError(
                _("Enter the time as shown, e.g. 2027-03-05 10:00.")
            ) from exc
        if timezone.is_naive(parsed):
            parsed = timezone.make_aware(parsed)
        return parsed

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        outcome = data.get("outcome")
        if (
            outcome == CareOutcome.APPOINTMENT_BOOKED
            and not data.get("starts_at")
            and "starts_at" not in self.errors
        ):
            self.add_error("starts_at", _("Choose the appointment's time slot."))
        if outcome == CareOutcome.COMPLAINT and not (data.get("note") or "").strip():
            self.add_error("note", _("Write down what the customer complained about."))
        return data

    def appointment(self) -> AppointmentRequest | None:
        if self.cleaned_data.get("outcome") != CareOutcome.APPOINTMENT_BOOKED:
            return None
        return AppointmentRequest(
            starts_at=self.cleaned_data["starts_at"],
            kind=self.cleaned_data.get("kind") or "",
        )

    def complaint(self) -> ComplaintRequest | None:
        if self.cleaned_data.get("outcome") != CareOutcome.COMPLAINT:
            return None
        return ComplaintRequest(
            description=self.cleaned_data.get("note") or "",
            category=self.cleaned_data.get("complaint_category") or ComplaintCategory.OTHER,
            severity=self.cleaned_data.get("complaint_severity") or ComplaintSeverity.MEDIUM,
        )


def _field_for(spec: Any, initial: Any) -> forms.Field:
    """A form field for one of a rule's ConfigField specs."""
    common: dict[str, Any] = {"label": spec.label, "help_text": spec.help, "required": False}
    if spec.type == "bool":
        return forms.BooleanField(initial=bool(initial), **common)
    if spec.type == "int":
        return forms.IntegerField(initial=initial, **common)
    if spec.type == "choice":
        return forms.ChoiceField(choices=list(spec.choices), initial=initial, **common)
    if spec.type == "multichoice":
        return forms.MultipleChoiceField(
            choices=list(spec.choices),
            initial=list(initial or []),
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
    if spec.type == "int_list":
        if isinstance(initial, list | tuple):
            initial = ", ".join(str(v) for v in initial)
        return forms.CharField(initial=initial, **common)
    if spec.type == "text" and spec.name in ("script", "body", "text"):
        return forms.CharField(initial=initial, widget=forms.Textarea(attrs={"rows": 4}), **common)
    return forms.CharField(initial=initial, **common)


class RuleSettingForm(StyledForm):
    """The on/off switch and the rule's own settings (its `config_fields`), in one form."""

    enabled = forms.BooleanField(label=_("On"), required=False)

    def __init__(self, *args: Any, fields: list[Any], config: dict[str, Any], **kwargs: Any):
        self.config_specs = list(fields)
        super().__init__(*args, **kwargs)
        for spec in self.config_specs:
            self.fields[spec.name] = _field_for(spec, config.get(spec.name))
        from dealercrm.core.forms import style_widgets

        style_widgets(self)

    def config(self) -> dict[str, Any]:
        """The settings as typed (the service checks types and ranges)."""
        return {spec.name: self.cleaned_data.get(spec.name) for spec in self.config_specs}


class SeasonalCheckForm(forms.ModelForm):
    class Meta:
        model = SeasonalCheck
        fields = [
            "region",
            "code",
            "title",
            "season_starts_month",
            "season_starts_day",
            "remind_days_before",
            "is_active",
        ]

    def __init__(self, *args: Any, brand_id: int | None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        region = self.fields["region"]
        region.queryset = Region.objects.filter(brand_id=brand_id).order_by("name")  # type: ignore[attr-defined]
        region.required = False
        region.empty_label = _("Every region (brand-wide)")  # type: ignore[attr-defined]
        from dealercrm.core.forms import style_widgets

        style_widgets(self)
