"""Forms of the lead pages: they read and shape input; the services decide what is allowed."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.forms import TablerFormMixin
from dealercrm.customers.models import Gender
from dealercrm.vehicles.models import CarModel

from ..models import (
    ActivityKind,
    ActivityResult,
    AssignmentMode,
    LeadChannel,
    LossReason,
    PurchaseTimeframe,
    ScenarioTag,
)
from ..services.leads import INTEREST_FIELDS

WEEKDAYS = [
    ("1", _("Monday")),
    ("2", _("Tuesday")),
    ("3", _("Wednesday")),
    ("4", _("Thursday")),
    ("5", _("Friday")),
    ("6", _("Saturday")),
    ("7", _("Sunday")),
]


def _car_model_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [
        (str(m.pk), str(m))
        for m in CarModel.objects.filter(is_active=True).order_by(
            "make", "series", "-model_year", "name"
        )[:500]
    ]


class InterestForm(TablerFormMixin, forms.Form):
    """Interest, needs (SPIN) and scenarios: shared by the create and edit pages."""

    car_model_id = forms.TypedChoiceField(
        label=_("Model of interest"), required=False, coerce=int, empty_value=None
    )
    budget_min = forms.DecimalField(label=_("Budget from (¥)"), required=False, min_value=0)
    budget_max = forms.DecimalField(label=_("Budget up to (¥)"), required=False, min_value=0)
    purchase_timeframe = forms.ChoiceField(
        label=_("Buying within"),
        choices=PurchaseTimeframe.choices,
        initial=PurchaseTimeframe.UNDECIDED,
    )
    trade_in_description = forms.CharField(
        label=_("Trade-in vehicle"), required=False, max_length=200
    )
    trade_in_year = forms.IntegerField(label=_("Trade-in year"), required=False)
    trade_in_mileage_km = forms.IntegerField(
        label=_("Trade-in mileage (km)"), required=False, min_value=0
    )
    spin_situation = forms.CharField(
        label=_("Situation"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What they drive now, who travels with them, how they use a car."),
    )
    spin_problem = forms.CharField(
        label=_("Problem"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What bothers them about it."),
    )
    spin_implication = forms.CharField(
        label=_("Implication"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What that problem costs them."),
    )
    spin_need_payoff = forms.CharField(
        label=_("Need-payoff"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("What solving it would be worth to them."),
    )
    scenario_tags = forms.MultipleChoiceField(
        label=_("Scenarios"),
        required=False,
        choices=ScenarioTag.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    campaign = forms.CharField(label=_("Campaign"), required=False, max_length=100)
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["car_model_id"].choices = _car_model_choices()
        self.fields["scenario_tags"].widget.attrs["class"] = "form-check-input"

    def interest(self) -> dict:
        # The interest fields of lead_create/lead_update, less those this form does not edit.
        names = [n for n in INTEREST_FIELDS if n in self.fields]
        return {name: self.cleaned_data.get(name) for name in names}


class LeadCreateForm(InterestForm):
    channel = forms.ChoiceField(label=_("Channel"), choices=LeadChannel.choices)
    # Set when the user chose "attach to this customer" among the matches.
    customer_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name"), required=False, max_length=100)
    phone = forms.CharField(label=_("Mobile phone"), required=False, max_length=32)
    wechat_id = forms.CharField(label=_("WeChat ID"), required=False, max_length=64)
    gender = forms.ChoiceField(
        label=_("Gender"), choices=Gender.choices, initial=Gender.UNKNOWN, required=False
    )
    # Chosen in the picker of the create page (a search among the customers the user sees).
    referrer_id = forms.IntegerField(
        label=_("Referred by"),
        required=False,
        widget=forms.HiddenInput,
    )
    consultant_id = forms.TypedChoiceField(
        label=_("Consultant"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("Leave empty to assign by the dealer's rule."),
    )

    field_order = [
        "channel",
        "customer_id",
        "name",
        "phone",
        "wechat_id",
        "gender",
        "referrer_id",
        "consultant_id",
        "campaign",
    ]

    def __init__(self, *args, consultants=(), **kwargs) -> None:  # noqa: ANN001
        super().__init__(*args, **kwargs)
        self.fields["consultant_id"].choices = [("", _("By the dealer's rule"))] + [
            (str(u.pk), str(u)) for u in consultants
        ]
        for name in ("name", "phone", "wechat_id"):
            self.fields[name].widget.attrs["autocomplete"] = "off"


class LeadEditForm(InterestForm):
    pass


class ActivityForm(TablerFormMixin, forms.Form):
    kind = forms.ChoiceField(label=_("How"), choices=ActivityKind.choices)
    result = forms.ChoiceField(label=_("Result"), choices=ActivityResult.choices)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    next_action = forms.CharField(label=_("Next step"), required=False, max_length=200)
    next_action_due = forms.DateField(
        label=_("Next step on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["next_action_due"].widget.attrs["min"] = timezone.localdate().isoformat()


class StageForm(forms.Form):
    stage = forms.CharField()


class AssignForm(TablerFormMixin, forms.Form):
    consultant = forms.TypedChoiceField(label=_("Consultant"), coerce=int)
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args, consultants=(), **kwargs) -> None:  # noqa: ANN001
        super().__init__(*args, **kwargs)
        self.fields["consultant"].choices = [(u.pk, str(u)) for u in consultants]


class LossRequestForm(TablerFormMixin, forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=LossReason.choices)
    competitor = forms.CharField(
        label=_("Competitor's model"),
        required=False,
        max_length=100,
        help_text=_("When known."),
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class LossDecisionForm(TablerFormMixin, forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("return", _("Send back"))])
    note = forms.CharField(label=_("Note"), required=False, max_length=200)
    reassign_to = forms.TypedChoiceField(
        label=_("Send to"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, consultants=(), **kwargs) -> None:  # noqa: ANN001
        super().__init__(*args, **kwargs)
        self.fields["reassign_to"].choices = [("", _("The same consultant"))] + [
            (str(u.pk), str(u)) for u in consultants
        ]


class PolicyForm(TablerFormMixin, forms.Form):
    assignment_mode = forms.ChoiceField(label=_("Assignment"), choices=AssignmentMode.choices)
    first_response_minutes = forms.IntegerField(
        label=_("First-response time (minutes of opening hours)"), min_value=1
    )
    opens_at = forms.TimeField(
        label=_("Opening time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    closes_at = forms.TimeField(
        label=_("Closing time"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    open_weekdays = forms.MultipleChoiceField(
        label=_("Open days"), choices=WEEKDAYS, widget=forms.CheckboxSelectMultiple
    )
    auto_reassign = forms.BooleanField(
        label=_("Reassign unanswered leads automatically to the next consultant"),
        required=False,
    )
    dispatch_release_days = forms.IntegerField(
        label=_("Release OEM-dispatched leads (days before the test drive)"), min_value=0
    )
    test_drive_minutes = forms.IntegerField(label=_("Test-drive length (minutes)"), min_value=15)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["open_weekdays"].widget.attrs["class"] = "form-check-input"
