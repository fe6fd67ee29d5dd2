"""The SLA settings form: one form per severity (prefixed by it), all saved together."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.core.forms import StyledForm

from ..models import ComplaintSeverity
from ..services.sla import MINUTE_FIELDS, MINUTES_MAX, SlaTerms, sla_terms_errors


def _minutes(label: str, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=1,
        max_value=MINUTES_MAX,
        help_text=help_text,
        error_messages={
            "required": _("Enter a number of minutes."),
            "invalid": _("Enter a whole number of minutes."),
            "min_value": _("Enter a positive number of minutes."),
        },
        widget=forms.NumberInput(attrs={"min": 1, "step": 1, "inputmode": "numeric"}),
    )


class SlaTermsForm(StyledForm):
    """One severity's clocks; `prefix` is the severity, so the fields read "high-…"."""

    response_minutes = _minutes(_("First response within (minutes)"))
    solution_minutes = _minutes(_("Solution within (minutes)"), _("24 hours = 1440 minutes."))
    response_warn_minutes = _minutes(_("Warn before the response is due (minutes)"))
    solution_warn_minutes = _minutes(_("Warn before the solution is due (minutes)"))
    oem_after_minutes = _minutes(
        _("Escalate to the brand after a further (minutes)"),
        _("Counted from the solution deadline while the complaint stays unsolved."),
    )
    business_hours_only = forms.BooleanField(label=_("Count opening hours only"), required=False)

    def __init__(self, *args: Any, severity: str, terms: SlaTerms, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {name: getattr(terms, name) for name in self.base_fields})
        super().__init__(*args, prefix=severity, **kwargs)
        self.severity = severity
        self.severity_label = ComplaintSeverity(severity).label

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # The rules between fields are the service's; only check them once each field is valid.
        if all(name in data for name in MINUTE_FIELDS):
            for name, messages in sla_terms_errors(data).items():
                for message in messages:
                    self.add_error(name, message)
        return data

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.base_fields}
