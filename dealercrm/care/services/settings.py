"""Writes of the care settings: a dealer's switch and settings per rule, the OEM's seasonal
checks per region."""

from __future__ import annotations

import calendar
import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealercrm.core.audit import audit_record, field_changes
from dealercrm.core.models import AuditEvent, Region, User

from ..models import CareRuleCode, CareRuleSetting, SeasonalCheck
from ..rules.base import ConfigField
from .tasks import RETRY_DEFAULTS

TEXT_MAX_LENGTH = 2000

# The care-task settings every rule has besides its own (how often to call again, when).
RETRY_FIELDS: tuple[ConfigField, ...] = (
    ConfigField(
        "max_attempts",
        "int",
        gettext_lazy("Calls before giving up"),
        gettext_lazy("After this many unanswered calls the task closes as unreachable."),
        min_value=1,
        max_value=10,
    ),
    ConfigField(
        "retry_after_hours",
        "int",
        gettext_lazy("First retry after (hours)"),
        gettext_lazy("Later retries are the next day. Moved into the dealer's opening hours."),
        min_value=1,
        max_value=72,
    ),
    ConfigField(
        "retry_next_day_at",
        "time",
        gettext_lazy("Later retries the next day at"),
        gettext_lazy("A time such as 10:00."),
    ),
)


def catalogue() -> dict[str, Any]:
    """code → rule of the engine's catalogue ({} while it has none)."""
    try:
        from dealercrm.care.rules import CATALOGUE  # type: ignore[attr-defined]
    except ImportError:
        return {}
    if isinstance(CATALOGUE, dict):
        return dict(CATALOGUE)
    return {rule.code: rule for rule in CATALOGUE}


def rule_fields(rule: str) -> list[ConfigField]:
    """The settings a dealer may change for `rule`: the rule's own, then the retry settings."""
    found = catalogue().get(rule)
    own = list(getattr(found, "config_fields", ()) or ())
    names = {spec.name for spec in own}
    return own + [spec for spec in RETRY_FIELDS if spec.name not in names]


def rule_defaults(rule: str) -> dict[str, Any]:
    found = catalogue().get(rule)
    defaults = dict(RETRY_DEFAULTS)
    defaults.update(getattr(found, "defaults", {}) or {})
    return defaults


def _clean_value(spec: ConfigField, value: Any) -> Any:
    """The value in its type, or a ValueError with the message to show."""
    label = str(spec.label)
    if spec.type == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "on", "yes")
        return bool(value)
    if spec.type == "int":
        if isinstance(value, bool):
            raise ValueError(_("%(field)s must be a whole number.") % {"field": label})
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError) as exc:
            raise ValueError(_("%(field)s must be a whole number.") % {"field": label}) from exc
        _check_range(spec, number)
        return number
    if spec.type == "int_list":
        try:
            if isinstance(value, str):
                parts = [p for p in value.replace("，", ",").split(",") if p.strip()]
            else:
                parts = list(value or [])
            numbers = [int(str(p).strip()) for p in parts]
        except (TypeError, ValueError) as exc:
            raise ValueError(
                _("%(field)s must be whole numbers separated by commas, e.g. 60, 30, 7.")
                % {"field": label}
            ) from exc
        if not numbers:
            raise ValueError(_("%(field)s needs at least one number.") % {"field": label})
        for number in numbers:
            _check_range(spec, number)
        return numbers
    if spec.type == "choice":
        allowed = [str(code) for code, _label in spec.choices]
        if str(value) not in allowed:
            raise ValueError(
                _("Choose one of the offered values for %(field)s.") % {"field": label}
            )
        return str(value)
    if spec.type == "multichoice":
        allowed_codes = {str(code) for code, _label in spec.choices}
        chosen = [value] if isinstance(value, str) else list(value or [])
        unknown = [str(v) for v in chosen if str(v) not in allowed_codes]
        if unknown:
            raise ValueError(
                _("%(field)s has no choice %(value)s.") % {"field": label, "value": unknown[0]}
            )
        return [str(v) for v in chosen]
    if spec.type == "time":
        try:
            hours, minutes = str(value).strip().split(":", 1)
            parsed = datetime.time(int(hours), int(minutes))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                _("%(field)s must be a time such as 10:00.") % {"field": label}
            ) from exc
        return parsed.strftime("%H:%M")
    text = "" if value is None else str(value)
    if len(text) > TEXT_MAX_LENGTH:
        raise ValueError(
            _("%(field)s is too long (at most %(max)d characters).")
            % {"field": label, "max": TEXT_MAX_LENGTH}
        )
    return text


def _check_range(spec: ConfigField, number: int) -> None:
    if spec.min_value is not None and number < spec.min_value:
        raise ValueError(
            _("%(field)s must be at least %(min)d.")
            % {"field": str(spec.label), "min": spec.min_value}
        )
    if spec.max_value is not None and number > spec.max_value:
        raise ValueError(
            _("%(field)s must be at most %(max)d.")
            % {"field": str(spec.label), "max": spec.max_value}
        )


@transaction.atomic
def care_rule_setting_update(
    *,
    actor: User | None,
    dealer_id: int,
    rule: str,
    enabled: bool,
    config: dict[str, Any],
) -> CareRuleSetting:
    """Switch a rule on or off and change its settings for one dealer.

    Every value is checked against the rule's field (type, range, choices); an unknown setting
    is refused. Only values that differ from the rule's defaults are stored, so a later change
    of a default reaches dealers who never changed it. The change is audit-logged.
    """
    if rule not in CareRuleCode.values:
        raise ValidationError({"rule": [_("There is no care rule %(rule)s.") % {"rule": rule}]})
    specs = {spec.name: spec for spec in rule_fields(rule)}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in (config or {}).items():
        spec = specs.get(name)
        if spec is None:
            errors.setdefault(name, []).append(
                _("The rule has no setting %(name)s.") % {"name": name}
            )
            continue
        if value is None or value == "":
            if spec.type in ("text", "bool", "multichoice"):
                value = {"text": "", "bool": False, "multichoice": []}[spec.type]
            else:
                continue  # left empty: the default
        try:
            cleaned[name] = _clean_value(spec, value)
        except ValueError as exc:
            errors.setdefault(name, []).append(str(exc))
    if not isinstance(enabled, bool):
        errors.setdefault("enabled", []).append(_("Say whether the rule is on."))
    if errors:
        raise ValidationError(errors)
    defaults = rule_defaults(rule)
    changed = {
        k: v for k, v in cleaned.items() if defaults.get(k) != v and str(defaults.get(k)) != str(v)
    }
    setting = (
        CareRuleSetting.objects.select_for_update().filter(dealer_id=dealer_id, rule=rule).first()
    )
    before = {"enabled": True, "config": {}}
    if setting is None:
        setting = CareRuleSetting(dealer_id=dealer_id, rule=rule)
    else:
        before = {"enabled": setting.enabled, "config": dict(setting.config or {})}
    setting.enabled = enabled
    setting.config = changed
    setting.updated_at = timezone.now()
    setting.updated_by = actor if actor is not None and actor.is_authenticated else None
    setting.save()
    changes = field_changes(before, {"enabled": enabled, "config": changed})
    if changes:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            target=setting,
            target_repr=str(CareRuleCode(rule).label),
            changes=changes,
        )
    return setting


# --- seasonal checks (the OEM's, per region) -----------------------------------------------------


def _clean_seasonal(brand_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    month = fields.get("season_starts_month")
    day = fields.get("season_starts_day")
    if not isinstance(month, int) or not 1 <= month <= 12:
        errors["season_starts_month"] = [_("The month must be between 1 and 12.")]
    elif not isinstance(day, int) or day < 1:
        errors["season_starts_day"] = [_("The day must be 1 or more.")]
    else:
        # 29 February is allowed (2000 is a leap year; the engine uses the 28th in a common one).
        last = calendar.monthrange(2000, month)[1]
        if day > last:
            errors["season_starts_day"] = [
                _("Month %(month)d has no day %(day)d.") % {"month": month, "day": day}
            ]
    remind = fields.get("remind_days_before")
    if not isinstance(remind, int) or not 0 <= remind <= 90:
        errors["remind_days_before"] = [_("Remind between 0 and 90 days before.")]
    if not (fields.get("title") or "").strip():
        errors["title"] = [_("Give the check a title.")]
    if not (fields.get("code") or "").strip():
        errors["code"] = [_("Give the check a code, e.g. winter.")]
    region = fields.get("region")
    if region is not None and getattr(region, "brand_id", None) != brand_id:
        errors["region"] = [_("Choose a region of the brand.")]
    if errors:
        raise ValidationError(errors)
    return fields


@transaction.atomic
def seasonal_check_save(
    *,
    actor: User | None,
    brand_id: int,
    check: SeasonalCheck | None = None,
    region: Region | None,
    code: str,
    title: str,
    season_starts_month: int,
    season_starts_day: int,
    remind_days_before: int = 14,
    is_active: bool = True,
) -> SeasonalCheck:
    """Create (check None) or change a seasonal check of the brand, for one region or, without
    a region, for every region that has none of the same code."""
    fields = _clean_seasonal(
        brand_id,
        {
            "region": region,
            "code": (code or "").strip(),
            "title": (title or "").strip(),
            "season_starts_month": season_starts_month,
            "season_starts_day": season_starts_day,
            "remind_days_before": remind_days_before,
            "is_active": is_active,
        },
    )
    clash = SeasonalCheck.objects.filter(
        brand_id=brand_id, code=fields["code"], region=fields["region"]
    )
    if check is not None:
        clash = clash.exclude(pk=check.pk)
    if clash.exists():
        raise ValidationError({"code": [_("This region already has a check with this code.")]})
    before: dict[str, Any] = {}
    if check is None:
        check = SeasonalCheck(brand_id=brand_id)
        action = AuditEvent.Action.CREATE
    else:
        before = {name: getattr(check, name) for name in fields if name != "region"}
        before["region"] = check.region_id
        action = AuditEvent.Action.CHANGE
    for name, value in fields.items():
        setattr(check, name, value)
    check.save()
    after = {name: getattr(check, name) for name in fields if name != "region"}
    after["region"] = check.region_id
    audit_record(actor=actor, action=action, target=check, changes=field_changes(before, after))
    return check
