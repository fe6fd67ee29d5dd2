"""The quote form. It converts what was typed; the service (services/quotes.py) checks the
figures and says what is wrong, field by field, so the page, the live recalculation and the
API refuse the same things with the same words.

Lines (accessories, service packages) come as repeated inputs `line_kind`, `line_description`,
`line_amount` (one row each; a row left empty is ignored). The rate is typed in percent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from dealercrm.core.forms import apply_service_errors
from dealercrm.vehicles.models import CarModel

from ..models import QuoteLine

TERM_CHOICES = [
    (0, _("No loan (pay in full)")),
    (12, _("12 months")),
    (24, _("24 months")),
    (36, _("36 months")),
    (48, _("48 months")),
    (60, _("60 months")),
]
AMOUNT_FIELDS = (
    "vehicle_price",
    "discount",
    "compulsory_insurance",
    "commercial_insurance",
    "registration_fee",
    "extended_warranty",
    "trade_in_credit",
    "down_payment",
)


def _amount_field(label: Any, *, required: bool = False) -> forms.CharField:
    # Text, not DecimalField: the service says what is wrong with an amount (negative, too
    # many decimals), in one wording for the page and the API.
    return forms.CharField(
        label=label,
        required=required,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


class QuoteForm(forms.Form):
    car_model = forms.ModelChoiceField(label=_("Model"), queryset=CarModel.objects.none())
    colour = forms.CharField(label=_("Colour"), required=False, max_length=30)
    quote_date = forms.DateField(
        label=_("Quote date"), widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_until = forms.DateField(
        label=_("Valid until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    vehicle_price = _amount_field(_("Vehicle price (¥)"), required=True)
    discount = _amount_field(_("Discount (¥)"))
    compulsory_insurance = _amount_field(_("Compulsory insurance (¥)"))
    commercial_insurance = _amount_field(_("Commercial insurance (¥)"))
    registration_fee = _amount_field(_("Registration fee (¥)"))
    extended_warranty = _amount_field(_("Extended warranty (¥)"))
    trade_in_credit = _amount_field(_("Trade-in credit (¥)"))
    term_months = forms.TypedChoiceField(
        label=_("Finance term"), choices=TERM_CHOICES, coerce=int, initial=0
    )
    annual_rate = forms.CharField(
        label=_("Annual rate (%)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    down_payment = _amount_field(_("Down payment (¥)"))
    notes = forms.CharField(
        label=_("Internal notes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For colleagues only: not printed, not shown on the share link."),
    )

    def __init__(
        self,
        *args: Any,
        car_models: QuerySet[CarModel] | None = None,
        lines: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.fields["car_model"].queryset = (  # type: ignore[attr-defined]
            car_models if car_models is not None else CarModel.objects.filter(is_active=True)
        )
        for bound in self.visible_fields():
            widget = bound.field.widget
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()
        self.line_errors: list[str] = []
        self.lines = lines if lines is not None else self._lines_from_data()

    def _lines_from_data(self) -> list[dict[str, Any]]:
        if not self.is_bound:
            return []
        kinds = self.data.getlist("line_kind")
        descriptions = self.data.getlist("line_description")
        amounts = self.data.getlist("line_amount")
        rows = []
        for index, description in enumerate(descriptions):
            amount = amounts[index] if index < len(amounts) else ""
            kind = kinds[index] if index < len(kinds) else QuoteLine.Kind.ACCESSORY
            if not description.strip() and not str(amount).strip():
                continue
            rows.append({"kind": kind, "description": description.strip(), "amount": amount})
        return rows

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = (widget.attrs.get("class", "") + " is-invalid").strip()

    def rate_fraction(self) -> Decimal | None | str:
        """The rate typed in percent as a fraction for the service (None when left empty; the
        text as typed when it is not a number, for the service to refuse)."""
        text = (self.cleaned_data.get("annual_rate") or "").strip().rstrip("%").strip()
        if not text:
            return None
        try:
            return Decimal(text) / 100
        except InvalidOperation:
            return text

    def service_kwargs(self) -> dict[str, Any]:
        """The quote's input as quote_calculate / quote_create take it (after is_valid())."""
        data = self.cleaned_data
        kwargs: dict[str, Any] = {name: data.get(name) or 0 for name in AMOUNT_FIELDS}
        kwargs["vehicle_price"] = data.get("vehicle_price") or ""
        kwargs.update(
            car_model=data["car_model"],
            quote_date=data.get("quote_date"),
            term_months=data.get("term_months") or 0,
            annual_rate=self.rate_fraction(),
            lines=self.lines,
        )
        return kwargs

    def apply_errors(self, exc: ValidationError) -> None:
        """A service's errors on their fields; the lines' under the lines table."""
        if hasattr(exc, "error_dict"):
            errors = dict(exc.message_dict)
            self.line_errors = errors.pop("lines", [])
            exc = ValidationError(errors) if errors else None  # type: ignore[assignment]
        if exc is not None:
            apply_service_errors(self, exc)
