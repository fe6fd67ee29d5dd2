"""Forms of the resource pages. They convert what was typed; the services validate and save."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.core.forms import StyledForm
from dealercrm.core.models import Dealer, User
from dealercrm.vehicles.selectors import catalogue_visible_to

from .models import Resource, ResourceKind


class ResourceForm(StyledForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=ResourceKind.choices)
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("As the staff call it: 试驾车 1, 2号工位")
    )
    car_model_id = forms.TypedChoiceField(
        label=_("Model"), coerce=int, required=False, empty_value=None
    )
    plate = forms.CharField(label=_("Licence plate"), max_length=10, required=False)
    opens_at = forms.TimeField(
        label=_("Available from"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    closes_at = forms.TimeField(
        label=_("Available until"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    is_active = forms.BooleanField(label=_("In use"), required=False)

    def __init__(self, *args: Any, user: User, dealers: list[Dealer] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        models = (
            catalogue_visible_to(user).filter(is_active=True).order_by("make", "series", "name")
        )
        self.fields["car_model_id"].choices = [("", "—")] + [(m.pk, str(m)) for m in models]
        if dealers:
            self.fields["dealer"] = forms.ModelChoiceField(
                label=_("Dealer"), queryset=Dealer.objects.filter(pk__in=[d.pk for d in dealers])
            )
            self.fields["dealer"].widget.attrs["class"] = "form-select"
            self.order_fields(["dealer"])

    @staticmethod
    def initial_for(resource: Resource) -> dict[str, Any]:
        return {
            "kind": resource.kind,
            "name": resource.name,
            "car_model_id": resource.car_model_id,
            "plate": resource.plate,
            "opens_at": resource.opens_at,
            "closes_at": resource.closes_at,
            "is_active": resource.is_active,
        }

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "name": data["name"],
            "car_model_id": data.get("car_model_id"),
            "plate": data.get("plate") or "",
            "opens_at": data["opens_at"],
            "closes_at": data["closes_at"],
            "is_active": bool(data.get("is_active")),
        }
