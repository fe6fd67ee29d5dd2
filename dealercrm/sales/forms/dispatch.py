"""Forms of the OEM dispatch pages. They convert what was typed; the services validate and save.

Field names are the service's keywords (dealer_id, car_model_id …), so a service's
ValidationError lands on the field it names (core.forms.apply_service_errors).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.core.forms import StyledForm
from dealercrm.core.models import Dealer
from dealercrm.vehicles.models import CarModel

DISPATCH_FIELDS = (
    "dealer_id",
    "prospect_name",
    "phone",
    "wechat_id",
    "car_model_id",
    "test_drive_date",
    "preferred_time",
    "pickup_requested",
    "pickup_address",
    "note",
    "campaign",
    "external_ref",
)


class DispatchForm(StyledForm):
    dealer_id = forms.TypedChoiceField(label=_("Dealer"), coerce=int)
    prospect_name = forms.CharField(label=_("Prospect's name"), max_length=100)
    phone = forms.CharField(label=_("Mobile"), max_length=30)
    wechat_id = forms.CharField(label=_("WeChat ID"), max_length=64, required=False)
    car_model_id = forms.TypedChoiceField(
        label=_("Model"), coerce=int, required=False, empty_value=None
    )
    test_drive_date = forms.DateField(
        label=_("Test-drive date the prospect chose"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    preferred_time = forms.CharField(
        label=_("Preferred time"),
        max_length=40,
        required=False,
        help_text=_("For example 10:30 or 下午3点."),
    )
    pickup_requested = forms.BooleanField(label=_("Pick-up wanted"), required=False)
    pickup_address = forms.CharField(label=_("Pick-up address"), max_length=200, required=False)
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    campaign = forms.CharField(label=_("Campaign"), max_length=100, required=False)
    external_ref = forms.CharField(label=_("OEM reference"), max_length=64, required=False)

    def __init__(
        self, *args: Any, dealers: list[Dealer], car_models: list[CarModel], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dealer_id"].choices = [("", "—")] + [
            (d.pk, f"{d.code} {d.name}") for d in dealers
        ]
        self.fields["car_model_id"].choices = [("", "—")] + [
            (m.pk, f"{m.series} {m.name} ({m.model_year})") for m in car_models
        ]

    def service_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in DISPATCH_FIELDS}


class DispatchImportForm(StyledForm):
    file = forms.FileField(
        label=_("CSV or XLSX file"),
        help_text=_(
            "One prospect a row. Columns (Chinese or English headers): 姓名 / name, 手机 / mobile, "
            "经销商代码 / dealer code, 试驾日期 / test-drive date; optional 车型 / model, "
            "试驾时间 / preferred time, 微信 / WeChat, 上门接送 / pick-up, 接送地址 / pick-up "
            "address, 备注 / note, 活动 / campaign, 厂家编号 / OEM reference."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )
