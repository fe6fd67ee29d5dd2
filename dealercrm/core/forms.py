"""Forms of the organisation pages: they read and shape input; the services decide what is allowed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent, Brand, Dealer, DealerGroup, Department, Region, User
from .permissions import Role
from .services import staff_assignable_roles


class TablerFormMixin:
    """Tabler's classes on every widget, so templates can render fields plainly."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # type: ignore[attr-defined]
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")


def style_widgets(form: forms.Form) -> None:
    """Tabler's classes on every visible widget (choice lists of boxes style themselves)."""
    for bound in form.visible_fields():
        widget = bound.field.widget
        if isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
            continue
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = "form-select"
        else:
            css = "form-control"
        widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()


class StyledForm(forms.Form):
    """A form with Tabler's classes, whose fields with errors get Bootstrap's is-invalid,
    whoever added the error (the form's own checks or a service's, via apply_service_errors)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        style_widgets(self)

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = (widget.attrs.get("class", "") + " is-invalid").strip()


def form_errors_by_field(exc: ValidationError, fields: Sequence[str]) -> dict[str, list[str]]:
    """A service's errors keyed by form field; errors of other keys go to NON_FIELD_ERRORS."""
    result: dict[str, list[str]] = {}
    if hasattr(exc, "error_dict"):
        for key, messages in exc.message_dict.items():
            target = key if key in fields else NON_FIELD_ERRORS
            result.setdefault(target, []).extend(messages)
    else:
        result[NON_FIELD_ERRORS] = list(exc.messages)
    return result


def apply_service_errors(form: Any, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field, or above the form."""
    for name, messages in form_errors_by_field(exc, list(form.fields)).items():
        for message in messages:
            form.add_error(None if name == NON_FIELD_ERRORS else name, message)


class RegionForm(TablerFormMixin, forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=100)
    brand = forms.ModelChoiceField(label=_("Brand"), queryset=Brand.objects.none())

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if user.role == Role.SYSTEM_ADMIN:
            self.fields["brand"].queryset = Brand.objects.order_by("code")
            self.fields["brand"].initial = user.brand_id
        else:
            del self.fields["brand"]


class DealerGroupForm(TablerFormMixin, forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    brand = forms.ModelChoiceField(label=_("Brand"), queryset=Brand.objects.none())

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if user.role == Role.SYSTEM_ADMIN:
            self.fields["brand"].queryset = Brand.objects.order_by("code")
            self.fields["brand"].initial = user.brand_id
        else:
            del self.fields["brand"]


class DealerForm(TablerFormMixin, forms.Form):
    code = forms.SlugField(label=_("Dealer code"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=100)
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.none())
    group = forms.ModelChoiceField(
        label=_("Dealer group"), queryset=DealerGroup.objects.none(), required=False
    )
    province = forms.CharField(label=_("Province"), max_length=20)
    city = forms.CharField(label=_("City"), max_length=40)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    plate_prefix = forms.CharField(
        label=_("Plate prefix"),
        max_length=2,
        required=False,
        help_text=_("The province character and city letter of local plates, e.g. 沪A."),
    )

    def __init__(self, *args, regions, groups, **kwargs) -> None:  # noqa: ANN001
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = regions
        self.fields["group"].queryset = groups


class StaffCreateForm(TablerFormMixin, forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    display_name = forms.CharField(label=_("Display name"), max_length=50, required=False)
    role = forms.ChoiceField(label=_("Role"))
    dealer = forms.ModelChoiceField(
        label=_("Dealer"), queryset=Dealer.objects.none(), required=False
    )
    department = forms.ModelChoiceField(label=_("Department"), queryset=None, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    language = forms.ChoiceField(
        label=_("Language"), choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE
    )
    password = forms.CharField(
        label=_("Initial password"), widget=forms.PasswordInput(render_value=False)
    )

    def __init__(self, *args, actor: User, dealers, departments, **kwargs) -> None:  # noqa: ANN001
        super().__init__(*args, **kwargs)
        # Every role is offered as a choice so a forbidden one reaches the service and gets its
        # message; the select shows only the roles this user may give.
        self.fields["role"].choices = [("", "---------"), *Role.choices]
        allowed = set(staff_assignable_roles(actor))
        self.role_options = [(value, label) for value, label in Role.choices if value in allowed]
        self.fields["dealer"].queryset = dealers
        self.fields["department"].queryset = departments
        self.fields["department"].label_from_instance = _department_label
        if actor.dealer_id and not actor.is_network_user:
            # A dealer admin's staff always join the admin's own dealer: no choice to tamper with.
            del self.fields["dealer"]


class StaffUpdateForm(TablerFormMixin, forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=50, required=False)
    role = forms.ChoiceField(label=_("Role"))
    department = forms.ModelChoiceField(label=_("Department"), queryset=None, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    on_duty = forms.BooleanField(label=_("On duty"), required=False)

    def __init__(self, *args, actor: User, member: User, departments, **kwargs) -> None:  # noqa: ANN001
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = Role.choices
        allowed = set(staff_assignable_roles(actor)) | {member.role}
        self.role_options = [(value, label) for value, label in Role.choices if value in allowed]
        self.fields["department"].queryset = departments
        self.fields["department"].label_from_instance = _department_label


def _department_label(department: Department) -> str:
    return f"{department.dealer.name} · {department.name}"


class PasswordResetForm(TablerFormMixin, forms.Form):
    password = forms.CharField(
        label=_("New password"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to generate a strong password."),
    )


class ApiTokenForm(TablerFormMixin, forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("What will use it, e.g. “DMS nightly import”."),
    )


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)
    next = forms.CharField(required=False)


class AuditFilterForm(TablerFormMixin, forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)
    actor = forms.CharField(label=_("Who"), required=False, max_length=150)
    target_type = forms.ChoiceField(label=_("Object type"), required=False)
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=_("Until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args, target_types: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("Any action")), *AuditEvent.Action.choices]
        self.fields["target_type"].choices = [
            ("", _("Any type")),
            *target_type_choices(target_types),
        ]


def target_type_choices(target_types: list[str]) -> list[tuple[str, str]]:
    """'customers.customer' → the model's verbose name, in the user's language."""
    from django.apps import apps

    choices = []
    for label in target_types:
        try:
            name = str(apps.get_model(label)._meta.verbose_name)
        except (LookupError, ValueError):
            name = label
        choices.append((label, name))
    return choices
