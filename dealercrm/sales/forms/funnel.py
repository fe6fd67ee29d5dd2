"""The funnel dashboard's filters (GET): period, dealer (network users), channel, consultant
(one dealer in view), model. Choices come from what the user may see, so a value outside it
is refused like any invalid input and the dashboard falls back to the unfiltered view."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.sales.models import LeadChannel
from dealercrm.sales.selectors.funnel import DEFAULT_PERIOD, PERIODS, FunnelFilters, FunnelOptions


class FunnelFilterForm(forms.Form):
    months = forms.TypedChoiceField(
        label=_("Period"),
        coerce=int,
        required=False,
        empty_value=DEFAULT_PERIOD,
        initial=DEFAULT_PERIOD,
        choices=[],
    )
    dealer = forms.TypedChoiceField(label=_("Dealer"), coerce=int, required=False, empty_value=None)
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    consultant = forms.TypedChoiceField(
        label=_("Consultant"), coerce=int, required=False, empty_value=None
    )
    car_model = forms.TypedChoiceField(
        label=_("Model"), coerce=int, required=False, empty_value=None
    )

    def __init__(self, data=None, *, options: FunnelOptions) -> None:  # noqa: ANN001
        if data is not None and not data.get("months"):
            # Filters without a period use the default one: show that one as chosen.
            data = data.copy()
            data["months"] = str(DEFAULT_PERIOD)
        super().__init__(data)
        self.options = options
        self.fields["months"].choices = [(n, _("Last %(n)d months") % {"n": n}) for n in PERIODS]
        self.fields["channel"].choices = [("", _("All channels")), *LeadChannel.choices]
        self.fields["car_model"].choices = [("", _("All models"))] + [
            (m.pk, f"{m.series} {m.name} {m.model_year}") for m in options.car_models
        ]
        if options.is_network:
            self.fields["dealer"].choices = [("", _("All dealers"))] + [
                (d.pk, d.name) for d in options.dealers
            ]
        else:
            del self.fields["dealer"]
        if options.single_dealer_id:
            self.fields["consultant"].choices = [("", _("All consultants"))] + [
                (u.pk, str(u)) for u in options.consultants
            ]
        else:
            del self.fields["consultant"]

    def filters(self) -> FunnelFilters:
        """The valid filters; an invalid one is left out (the page says which)."""
        if self.is_bound:
            self.is_valid()
            data = getattr(self, "cleaned_data", {})
        else:
            data = {}
        return FunnelFilters(
            months=data.get("months") or DEFAULT_PERIOD,
            dealer_id=data.get("dealer"),
            channel=data.get("channel") or "",
            consultant_id=data.get("consultant"),
            car_model_id=data.get("car_model"),
        )
