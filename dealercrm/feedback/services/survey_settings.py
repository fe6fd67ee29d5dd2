"""A dealer's survey settings (triggers, delays, link validity, low-score thresholds)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from dealercrm.core.audit import audit_record, field_changes
from dealercrm.core.models import AuditEvent, User

from ..models import LowScoreAction, SurveyChannel, SurveySettings


def settings_for_dealer(dealer_id: int) -> SurveySettings:
    """The dealer's row, or the defaults (unsaved) when the dealer has set none."""
    row = SurveySettings.objects.filter(dealer_id=dealer_id).first()
    return row if row is not None else SurveySettings(dealer_id=dealer_id)


BOOL_FIELDS = ("after_delivery", "after_service", "after_complaint")
# field: (lowest, highest) allowed
INT_FIELDS: dict[str, tuple[int, int]] = {
    "delivery_delay_hours": (0, 720),
    "service_delay_hours": (0, 72),
    "complaint_delay_hours": (0, 720),
    "link_valid_days": (1, 90),
    # A threshold at the top of the scale would make every answer low.
    "low_rating5": (1, 4),
    "low_rating10": (1, 9),
    "low_nps": (0, 9),
}
CHOICE_FIELDS = {"channel": SurveyChannel, "low_action": LowScoreAction}
EDITABLE = (*BOOL_FIELDS, *INT_FIELDS, *CHOICE_FIELDS)


def _clean(data: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name in data:
        if name not in EDITABLE:
            errors.setdefault(name, []).append(_("There is no setting %(name)s.") % {"name": name})
    for name in BOOL_FIELDS:
        if name in data:
            value = data[name]
            if not isinstance(value, bool):
                errors.setdefault(name, []).append(_("Say yes or no."))
            else:
                cleaned[name] = value
    for name, (low, high) in INT_FIELDS.items():
        if name not in data:
            continue
        value = data[name]
        try:
            if isinstance(value, bool) or value is None or value == "":
                raise ValueError
            number = int(value)
            if str(number) != str(value).strip() and number != value:
                raise ValueError
        except (TypeError, ValueError):
            errors.setdefault(name, []).append(_("Enter a whole number."))
            continue
        if not low <= number <= high:
            errors.setdefault(name, []).append(
                _("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high}
            )
        else:
            cleaned[name] = number
    for name, choices in CHOICE_FIELDS.items():
        if name in data:
            if data[name] not in choices.values:
                errors.setdefault(name, []).append(_("Choose one of the options."))
            else:
                cleaned[name] = data[name]
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def survey_settings_update(
    *, actor: User | None, dealer_id: int, data: Mapping[str, Any]
) -> SurveySettings:
    """Change some of the dealer's survey settings (the others keep their values). Every value
    is checked (type, range, choices) and nothing is saved when one is wrong; the change is
    audit-logged."""
    cleaned = _clean(data)
    row = SurveySettings.objects.select_for_update().filter(dealer_id=dealer_id).first()
    if row is None:
        row = SurveySettings(dealer_id=dealer_id)
    before = {name: getattr(row, name) for name in EDITABLE}
    for name, value in cleaned.items():
        setattr(row, name, value)
    row.save()
    changes = field_changes(before, {name: getattr(row, name) for name in EDITABLE})
    if changes:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            target=row,
            target_repr=str(_("Survey settings")),
            changes=changes,
        )
    return row
