"""Forms of the complaint pages: intake and the handling panels. They read and shape input; the
services (feedback.services.intake, .handling) decide what is allowed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.core.forms import StyledForm

from ..models import ComplaintCategory, ComplaintChannel, ComplaintSeverity, RootCause
from ..services.handling import CONTACT_CHANNELS

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


class ComplaintCreateForm(StyledForm):
    """Intake. The related records are chosen among the customer's (vehicles, repair orders,
    orders) once the customer is known; without one, a name and phone record a prospect."""

    customer_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    customer_name = forms.CharField(label=_("New customer's name"), max_length=100, required=False)
    customer_phone = forms.CharField(label=_("New customer's phone"), max_length=30, required=False)
    channel = forms.ChoiceField(label=_("Received by"), choices=ComplaintChannel.choices)
    category = forms.ChoiceField(label=_("Category"), choices=ComplaintCategory.choices)
    severity = forms.ChoiceField(
        label=_("Severity"), choices=ComplaintSeverity.choices, initial=ComplaintSeverity.MEDIUM
    )
    description = forms.CharField(
        label=_("What the customer said"), widget=forms.Textarea(attrs={"rows": 4})
    )
    vehicle_id = forms.TypedChoiceField(
        label=_("Vehicle"), required=False, coerce=int, empty_value=None
    )
    repair_order_id = forms.TypedChoiceField(
        label=_("Repair order"), required=False, coerce=int, empty_value=None
    )
    order_id = forms.TypedChoiceField(
        label=_("Order"), required=False, coerce=int, empty_value=None
    )
    staff_id = forms.TypedChoiceField(
        label=_("Staff member concerned"),
        required=False,
        coerce=int,
        empty_value=None,
        help_text=_("Empty: the repair order's advisor or the order's consultant."),
    )
    handler_id = forms.TypedChoiceField(
        label=_("Handled by"), required=False, coerce=int, empty_value=None
    )
    oem_reference = forms.CharField(label=_("Brand case number"), max_length=40, required=False)

    def __init__(
        self,
        *args: Any,
        oem: bool = False,
        vehicles: list[tuple[int, str]] = (),  # type: ignore[assignment]
        repair_orders: list[tuple[int, str]] = (),  # type: ignore[assignment]
        orders: list[tuple[int, str]] = (),  # type: ignore[assignment]
        staff: list[tuple[int, str]] = (),  # type: ignore[assignment]
        handlers: list[tuple[int, str]] = (),  # type: ignore[assignment]
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        empty = [("", "—")]
        self.fields["vehicle_id"].choices = empty + list(vehicles)
        self.fields["repair_order_id"].choices = empty + list(repair_orders)
        self.fields["order_id"].choices = empty + list(orders)
        self.fields["staff_id"].choices = empty + list(staff)
        self.fields["handler_id"].choices = [("", _("Nobody yet"))] + list(handlers)
        if oem:
            # The hotline's channel is fixed by the service; the OEM picks no dealer staff.
            del self.fields["channel"]
            del self.fields["staff_id"]
            del self.fields["handler_id"]
        else:
            self.fields["channel"].choices = [
                c for c in ComplaintChannel.choices if c[0] != ComplaintChannel.OEM_HOTLINE
            ]
            del self.fields["oem_reference"]


class VersionedForm(StyledForm):
    """The complaint's version as the page showed it (the services' optimistic lock)."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class ContactForm(VersionedForm):
    channel = forms.ChoiceField(
        label=_("How"),
        choices=[(c.value, c.label) for c in CONTACT_CHANNELS],
        initial=ComplaintChannel.PHONE,
    )
    at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        help_text=_("Empty: now."),
    )
    note = forms.CharField(label=_("What was said"), widget=forms.Textarea(attrs={"rows": 3}))


class SolutionForm(VersionedForm):
    solution = forms.CharField(
        label=_("Solution offered"), widget=forms.Textarea(attrs={"rows": 3})
    )
    accepted = forms.ChoiceField(
        label=_("Did the customer accept it?"),
        choices=[("", _("Not yet answered")), ("yes", _("Accepted")), ("no", _("Declined"))],
        required=False,
    )

    def accepted_value(self) -> bool | None:
        return _yes_no(self.cleaned_data.get("accepted") or "")


class AnalysisForm(VersionedForm):
    root_cause = forms.ChoiceField(
        label=_("Root cause"), choices=[("", "—")] + list(RootCause.choices), required=False
    )
    root_cause_detail = forms.CharField(
        label=_("Root cause in detail"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    corrective_action = forms.CharField(
        label=_("Corrective action"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    preventive_action = forms.CharField(
        label=_("Preventive action"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class AssignForm(VersionedForm):
    handler_id = forms.TypedChoiceField(label=_("Handled by"), coerce=int, empty_value=None)

    def __init__(self, *args: Any, handlers: list[tuple[int, str]] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["handler_id"].choices = [("", "—")] + list(handlers)


class FollowUpForm(VersionedForm):
    satisfied = forms.ChoiceField(
        label=_("Is the customer satisfied with how this was handled?"),
        choices=YES_NO,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    note = forms.CharField(
        label=_("What the customer said"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )

    def satisfied_value(self) -> bool:
        return self.cleaned_data["satisfied"] == "yes"
