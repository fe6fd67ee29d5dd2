"""Each dealer's rule settings: its CareRuleSetting rows merged over the catalogue's defaults."""

from __future__ import annotations

from typing import Any

from dealercrm.care.models import CareRuleSetting
from dealercrm.care.rules import CATALOGUE


def _plain(value: Any) -> Any:
    """Lazy translations (the default scripts) as text in the current language."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def defaults_for(rule: str) -> dict[str, Any]:
    """The catalogue's defaults of `rule`, as plain values (without "enabled")."""
    return {k: _plain(v) for k, v in CATALOGUE[rule].defaults.items() if k != "enabled"}


def merge(rule: str, setting: CareRuleSetting | None) -> tuple[bool, dict[str, Any]]:
    """(enabled, config) of `rule` given the dealer's row (None: the defaults). Only keys the
    rule knows are taken from the row; a blank script falls back to the default."""
    config = defaults_for(rule)
    enabled = bool(CATALOGUE[rule].defaults.get("enabled", True))
    if setting is not None:
        enabled = setting.enabled
        for key, value in (setting.config or {}).items():
            if key in config and value not in (None, ""):
                config[key] = value
    return enabled, config


def rule_settings(dealer_id: int) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Every rule of the catalogue → (enabled, config) for the dealer; one query."""
    rows = {row.rule: row for row in CareRuleSetting.objects.filter(dealer_id=dealer_id)}
    return {code: merge(code, rows.get(code)) for code in CATALOGUE}


def config_for(dealer_id: int, rule: str) -> dict[str, Any]:
    """The merged settings of one rule for the dealer (with "enabled")."""
    setting = CareRuleSetting.objects.filter(dealer_id=dealer_id, rule=rule).first()
    enabled, config = merge(rule, setting)
    return {"enabled": enabled, **config}
