"""Forms of the customer pages. They convert what was typed; the services validate and save."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.core.models import Dealer, User

from .models import (
    CallOutcome,
    ConsentChannel,
    CustomerKind,
    Education,
    Gender,
    IncomeBand,
    Interaction,
    LifecycleStage,
    MaritalStatus,
    SourceChannel,
)
from .selectors import Customer360
from .services import PROFILE_FIELDS

_BLANK = [("", "—")]
MAX_PHONES = 5


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").replace("，", ",").split(",") if part.strip()]


def _join(values: list[Any] | None) -> str:
    return ", ".join(str(value) for value in values or [])


def _style(form: forms.Form) -> None:
    """Tabler's classes on every widget."""
    for bound in form.visible_fields():
        widget = bound.field.widget
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = "form-select"
        else:
            css = "form-control"
        widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()


# Profile fields the form passes to the services as they are; the lists, the consultant, tags,
# consents, phones and the ID number are converted first.
_CONVERTED_FIELDS = {"children_birth_years", "interests", "lifestyle", "assigned_consultant_id"}
_PLAIN_FIELDS = tuple(f for f in PROFILE_FIELDS if f not in _CONVERTED_FIELDS)


class _MarksInvalid:
    """Fields with an error get Bootstrap's is-invalid class, whoever added the error."""

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)  # type: ignore[misc]
        for name in self.errors:  # type: ignore[attr-defined]
            if name in self.fields:  # type: ignore[attr-defined]
                widget = self.fields[name].widget  # type: ignore[attr-defined]
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = (widget.attrs.get("class", "") + " is-invalid").strip()


class MultipleTextInput(forms.TextInput):
    """Several inputs of one name (phones): the value is the list of what was typed."""

    def value_from_datadict(self, data, files, name):  # noqa: ANN001, ANN201
        if hasattr(data, "getlist"):
            return data.getlist(name)
        value = data.get(name)
        return value if isinstance(value, list) else [value] if value else []


class PhoneListField(forms.Field):
    widget = MultipleTextInput

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        if isinstance(value, str):
            value = [value]
        return [str(item).strip() for item in value if str(item).strip()][:MAX_PHONES]


class CustomerForm(_MarksInvalid, forms.Form):
    """Create and edit a customer: profile, phones, ID number, tags, consent per channel."""

    kind = forms.ChoiceField(
        label=_("Kind"), choices=CustomerKind.choices, initial=CustomerKind.PERSON
    )
    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("Chinese name or company name")
    )
    latin_name = forms.CharField(label=_("Latin name"), max_length=100, required=False)
    contact_person = forms.CharField(label=_("Contact person"), max_length=50, required=False)
    gender = forms.ChoiceField(label=_("Gender"), choices=Gender.choices, initial=Gender.UNKNOWN)
    birthday = forms.DateField(
        label=_("Birthday"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    lunar_birthday_month = forms.TypedChoiceField(
        label=_("Lunar birthday: month"),
        choices=_BLANK + [(str(m), str(m)) for m in range(1, 13)],
        coerce=int,
        empty_value=None,
        required=False,
    )
    lunar_birthday_day = forms.TypedChoiceField(
        label=_("Lunar birthday: day"),
        choices=_BLANK + [(str(d), str(d)) for d in range(1, 31)],
        coerce=int,
        empty_value=None,
        required=False,
    )
    lunar_birthday_leap = forms.BooleanField(label=_("Leap month"), required=False)
    id_number = forms.CharField(
        label=_("Resident ID number"),
        max_length=30,
        required=False,
        help_text=_("18 characters; stored encrypted and shown masked."),
    )
    id_number_clear = forms.BooleanField(label=_("Remove the ID number"), required=False)
    phones = PhoneListField(
        label=_("Phones"),
        required=False,
        help_text=_("The first number is the primary one."),
    )
    email = forms.EmailField(label=_("E-mail"), required=False)
    wechat_id = forms.CharField(label=_("WeChat ID"), max_length=64, required=False)
    province = forms.CharField(label=_("Province"), max_length=20, required=False)
    city = forms.CharField(label=_("City"), max_length=40, required=False)
    district = forms.CharField(label=_("District"), max_length=40, required=False)
    street = forms.CharField(label=_("Street address"), max_length=200, required=False)
    occupation = forms.CharField(label=_("Occupation"), max_length=60, required=False)
    education = forms.ChoiceField(
        label=_("Education"), choices=_BLANK + list(Education.choices), required=False
    )
    income_band = forms.ChoiceField(
        label=_("Income band"), choices=_BLANK + list(IncomeBand.choices), required=False
    )
    marital_status = forms.ChoiceField(
        label=_("Marital status"), choices=_BLANK + list(MaritalStatus.choices), required=False
    )
    children_birth_years = forms.CharField(
        label=_("Children's birth years"),
        required=False,
        help_text=_("Separated by commas, e.g. 2015, 2019"),
    )
    interests = forms.CharField(
        label=_("Interests"), required=False, help_text=_("Separated by commas")
    )
    lifestyle = forms.CharField(
        label=_("Lifestyle"), required=False, help_text=_("Separated by commas")
    )
    source_channel = forms.ChoiceField(
        label=_("Source channel"), choices=SourceChannel.choices, initial=SourceChannel.WALK_IN
    )
    assigned_consultant = forms.ModelChoiceField(
        label=_("Assigned consultant"), queryset=User.objects.none(), required=False
    )
    lifecycle_stage = forms.ChoiceField(
        label=_("Lifecycle stage"), choices=LifecycleStage.choices, initial=LifecycleStage.PROSPECT
    )
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas"))
    consent_source = forms.CharField(
        label=_("Where consent was given"),
        max_length=100,
        required=False,
        help_text=_("e.g. signed form at the showroom, phone call"),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(
        self,
        *args: Any,
        consultants: list[User] | None = None,
        dealers: list[Dealer] | None = None,
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for channel in ConsentChannel:
            self.fields[f"consent_{channel.value}"] = forms.BooleanField(
                label=channel.label, required=False
            )
        ids = [user.pk for user in consultants or []]
        self.fields["assigned_consultant"].queryset = User.objects.filter(pk__in=ids).order_by(
            "role", "display_name", "username"
        )
        if dealers:
            # Users without a dealer of their own (system administrators) choose one.
            self.fields["dealer"] = forms.ModelChoiceField(
                label=_("Dealer"), queryset=Dealer.objects.filter(pk__in=[d.pk for d in dealers])
            )
        self.editing = editing
        _style(self)
        if editing:
            self.fields["version"].required = True
        else:
            del self.fields["id_number_clear"]

    @property
    def consent_fields(self) -> list[forms.BoundField]:
        return [self[f"consent_{channel.value}"] for channel in ConsentChannel]

    @staticmethod
    def initial_for(data: Customer360) -> dict[str, Any]:
        """The edit form's initial values from the 360 data."""
        c = data.customer
        initial: dict[str, Any] = {name: getattr(c, name) for name in (*_PLAIN_FIELDS, "version")}
        initial["assigned_consultant"] = c.assigned_consultant_id
        initial["children_birth_years"] = _join(c.children_birth_years)
        initial["interests"] = _join(c.interests)
        initial["lifestyle"] = _join(c.lifestyle)
        initial["tags"] = _join(data.tag_names)
        # Numbers shown masked; the form keeps them as they are unless the user retypes the list.
        initial["phones"] = []
        for row in data.consents:
            initial[f"consent_{row.channel}"] = bool(row.granted)
        return initial

    def service_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of customer_create / customer_update."""
        d = self.cleaned_data
        kwargs: dict[str, Any] = {name: d.get(name) for name in _PLAIN_FIELDS}
        kwargs["assigned_consultant_id"] = (
            d["assigned_consultant"].pk if d.get("assigned_consultant") else None
        )
        kwargs["children_birth_years"] = _split(d.get("children_birth_years", ""))
        kwargs["interests"] = _split(d.get("interests", ""))
        kwargs["lifestyle"] = _split(d.get("lifestyle", ""))
        kwargs["tags"] = _split(d.get("tags", ""))
        kwargs["consents"] = {
            channel.value: bool(d.get(f"consent_{channel.value}")) for channel in ConsentChannel
        }
        kwargs["consent_source"] = d.get("consent_source", "")
        phones = d.get("phones") or []
        id_number = (d.get("id_number") or "").strip()
        if self.editing:
            # Blank phone and ID inputs on the edit form mean "keep": they are shown masked.
            if phones:
                kwargs["phones"] = phones
            if d.get("id_number_clear"):
                kwargs["id_number"] = ""
            elif id_number:
                kwargs["id_number"] = id_number
        else:
            kwargs["phones"] = phones
            kwargs["id_number"] = id_number
        return kwargs


class _StyledForm(_MarksInvalid, forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)


class NoteForm(_StyledForm):
    body = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), max_length=5000
    )


class CallForm(_StyledForm):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=CallOutcome.choices)
    direction = forms.ChoiceField(
        label=_("Direction"),
        choices=[
            (Interaction.Direction.OUTBOUND, _("Outbound")),
            (Interaction.Direction.INBOUND, _("Inbound")),
        ],
        initial=Interaction.Direction.OUTBOUND,
    )
    duration_minutes = forms.DecimalField(
        label=_("Duration (minutes)"),
        required=False,
        min_value=0,
        max_value=1440,
        decimal_places=1,
    )
    body = forms.CharField(
        label=_("Summary"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
    )

    def duration_seconds(self) -> int | None:
        minutes = self.cleaned_data.get("duration_minutes")
        return None if minutes is None else int(round(minutes * 60))


class ConsentForm(_StyledForm):
    channel = forms.ChoiceField(label=_("Channel"), choices=ConsentChannel.choices)
    granted = forms.BooleanField(label=_("Granted"), required=False)
    source = forms.CharField(label=_("Source"), max_length=100, required=False)


class TagsForm(_StyledForm):
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas"))

    def names(self) -> list[str]:
        return _split(self.cleaned_data.get("tags", ""))
