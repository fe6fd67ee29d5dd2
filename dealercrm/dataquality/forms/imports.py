"""Forms of the import pages: the upload and the column mapping. They read and shape input; the
services (dataquality.services.import_runs) decide what is allowed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from dealercrm.core.forms import StyledForm

from ..models import ImportKind
from ..services.import_fields import FIELDS, REQUIRED_ONE_OF, ImportField, missing_required

# Each field's select is named after the field, prefixed so no field name can collide with the
# form's own inputs (save_as).
COLUMN_PREFIX = "col_"


class ImportUploadForm(StyledForm):
    kind = forms.ChoiceField(
        label=_("What the file holds"), choices=ImportKind.choices, initial=ImportKind.CUSTOMERS
    )
    file = forms.FileField(
        label=_("File"),
        error_messages={"required": _("Choose a CSV or XLSX file to upload.")},
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "CSV (UTF-8 or GBK) or XLSX, up to %(mb)s MB. Larger files: the command line "
            "(dealercrm import FILE), which streams a file of any size."
        ) % {"mb": settings.IMPORT_MAX_UPLOAD_MB}


class ImportMappingForm(StyledForm):
    """One select of the file's headers per field of the import's kind, and a name to save the
    mapping under. The service checks required fields and unknown headers."""

    save_as = forms.CharField(
        label=_("Save this mapping as"),
        max_length=100,
        required=False,
        help_text=_("The source's name, e.g. “DMS 客户导出”: its next files map themselves."),
    )

    def __init__(
        self,
        *args: Any,
        kind: str,
        headers: Iterable[str],
        mapping: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.kind = kind
        self.import_fields: tuple[ImportField, ...] = FIELDS.get(kind, ())
        header_choices = [("", _("— not in this file —")), *((h, h) for h in headers)]
        mapping = mapping or {}
        initial = dict(kwargs.pop("initial", None) or {})
        for item in self.import_fields:
            initial.setdefault(self.field_name(item.name), mapping.get(item.name, ""))
        super().__init__(*args, initial=initial, **kwargs)
        for item in self.import_fields:
            self.fields[self.field_name(item.name)] = forms.ChoiceField(
                label=str(item.label), choices=header_choices, required=False
            )
            self.fields[self.field_name(item.name)].widget.attrs["class"] = "form-select"
        # save_as last, after the columns.
        self.order_fields([*(self.field_name(f.name) for f in self.import_fields), "save_as"])

    @staticmethod
    def field_name(import_field: str) -> str:
        return f"{COLUMN_PREFIX}{import_field}"

    def column_fields(self) -> list[tuple[ImportField, forms.BoundField, bool]]:
        """(field, its select, whether it is one of an either-or group)."""
        return [
            (item, self[self.field_name(item.name)], self.one_of(item.name))
            for item in self.import_fields
        ]

    def requirements(self) -> list[str]:
        """What every mapping of this kind needs ("Name", "Phone or ID number")."""
        return missing_required(self.kind, {}) if self.import_fields else []

    @property
    def has_one_of(self) -> bool:
        return bool(REQUIRED_ONE_OF.get(self.kind))

    def one_of(self, name: str) -> bool:
        return any(name in group for group in REQUIRED_ONE_OF.get(self.kind, ()))

    def unmapped_required(self, mapping: Mapping[str, str]) -> list[str]:
        """Names of the required fields, and of either-or groups, that `mapping` leaves out."""
        names = [f.name for f in self.import_fields if f.required and not mapping.get(f.name)]
        for group in REQUIRED_ONE_OF.get(self.kind, ()):
            if not any(mapping.get(name) for name in group):
                names.extend(group)
        return names

    def mapping(self) -> dict[str, str]:
        """{field name: header} of the chosen columns (empty selects left out)."""
        data = self.cleaned_data if self.is_bound and hasattr(self, "cleaned_data") else {}
        result = {}
        for item in self.import_fields:
            header = data.get(self.field_name(item.name)) or ""
            if header:
                result[item.name] = header
        return result

    def mark_missing(self, field_names: Iterable[str]) -> None:
        """Outline the selects of fields the service found missing (its message says why)."""
        for name in field_names:
            bound = self.fields.get(self.field_name(name))
            if bound is not None:
                css = bound.widget.attrs.get("class", "")
                if "is-invalid" not in css:
                    bound.widget.attrs["class"] = f"{css} is-invalid".strip()
