"""Template helpers of the page shell and the audit log."""

from __future__ import annotations

from typing import Any

from django import template
from django.apps import apps
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def optional_url(name: str, *args: Any, **kwargs: Any) -> str:
    """reverse(), or '' when the name does not exist (yet): the shell links to pages that other
    apps provide, and a page must not fail because one of them is missing."""
    try:
        return reverse(name, args=args or None, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


@register.filter
def model_label(label: str) -> str:
    """'customers.customer' → the model's verbose name in the active language."""
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return label


@register.filter
def change_rows(changes: Any, label: str = "") -> list[dict[str, Any]]:
    """An audit event's {field: [old, new]} as rows with the field's verbose name."""
    if not isinstance(changes, dict):
        return []
    model = None
    if label:
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            model = None
    rows = []
    for field, value in changes.items():
        name = field
        if model is not None:
            try:
                name = str(model._meta.get_field(field).verbose_name)
            except Exception:  # noqa: BLE001 — unknown field names are shown as they are
                name = field
        if isinstance(value, list | tuple) and len(value) == 2:
            old, new = value
        else:
            old, new = None, value
        rows.append({"field": name, "old": old, "new": new})
    return rows
