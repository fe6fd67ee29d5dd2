"""Forms of survey invitations: the dealer's survey settings and an ad-hoc list to send.

The forms only read what was posted; the ranges and choices are checked by the services
(survey_settings_update, survey_list_send), whose errors the views show on the fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.core.forms import StyledForm
from dealercrm.customers.models import LifecycleStage

from ..models import LowScoreAction, SurveyChannel, SurveySettings

HOURS = {"min": 0, "step": 1}


class SurveySettingsForm(StyledForm):
    after_delivery = forms.BooleanField(label=_("Survey after delivery"), required=False)
    delivery_delay_hours = forms.IntegerField(
        label=_("Hours after delivery"), widget=forms.NumberInput(attrs=HOURS)
    )
    after_service = forms.BooleanField(label=_("Survey after service"), required=False)
    service_delay_hours = forms.IntegerField(
        label=_("Hours after the repair order closes"),
        help_text=_(
            "A few hours: early enough to call an unhappy customer back before the "
            "brand's own survey at 48–72 hours."
        ),
        widget=forms.NumberInput(attrs=HOURS),
    )
    after_complaint = forms.BooleanField(label=_("Survey after a complaint closes"), required=False)
    complaint_delay_hours = forms.IntegerField(
        label=_("Hours after the complaint closes"), widget=forms.NumberInput(attrs=HOURS)
    )
    channel = forms.ChoiceField(label=_("Send by"), choices=SurveyChannel.choices)
    link_valid_days = forms.IntegerField(
        label=_("Link valid for (days)"), widget=forms.NumberInput(attrs={"min": 1})
    )
    low_rating5 = forms.IntegerField(
        label=_("Low on a 1–5 rating (at or below)"), widget=forms.NumberInput(attrs={"min": 1})
    )
    low_rating10 = forms.IntegerField(
        label=_("Low on a 1–10 rating (at or below)"), widget=forms.NumberInput(attrs={"min": 1})
    )
    low_nps = forms.IntegerField(
        label=_("Low recommendation, 0–10 (at or below)"),
        widget=forms.NumberInput(attrs={"min": 0}),
    )
    low_action = forms.ChoiceField(label=_("On a low score"), choices=LowScoreAction.choices)

    FIELDS = (
        "after_delivery",
        "delivery_delay_hours",
        "after_service",
        "service_delay_hours",
        "after_complaint",
        "complaint_delay_hours",
        "channel",
        "link_valid_days",
        "low_rating5",
        "low_rating10",
        "low_nps",
        "low_action",
    )

    @classmethod
    def initial_from(cls, row: SurveySettings) -> dict[str, Any]:
        return {name: getattr(row, name) for name in cls.FIELDS}

    def data_for_service(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.FIELDS}


class SurveySendForm(StyledForm):
    """Who gets an ad-hoc survey (messaging's audience filters, plus the last service dates),
    which questionnaire, and how."""

    tags = forms.MultipleChoiceField(
        label=_("Customers with any of these tags"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    lifecycle_stages = forms.MultipleChoiceField(
        label=_("Customers in any of these lifecycle stages"),
        choices=LifecycleStage.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    serviced_from = forms.DateField(
        label=_("Last service from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    serviced_to = forms.DateField(
        label=_("Last service to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    version = forms.TypedChoiceField(label=_("Questionnaire"), coerce=int)
    channel = forms.ChoiceField(label=_("Send by"), choices=SurveyChannel.choices)

    def __init__(
        self,
        *args: Any,
        versions: list[tuple[int, str]],
        tag_names: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = versions
        self.fields["tags"].choices = [(name, name) for name in tag_names]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (
            data.get("tags")
            or data.get("lifecycle_stages")
            or data.get("serviced_from")
            or data.get("serviced_to")
        ):
            # A survey to "everyone" by a forgotten filter cannot be called back.
            raise forms.ValidationError(
                _("Choose at least one tag, lifecycle stage or service date.")
            )
        start, end = data.get("serviced_from"), data.get("serviced_to")
        if start and end and start > end:
            self.add_error("serviced_to", _("The end is before the start."))
        return data
