"""The care rule catalogue: every reason to contact an owner, with its defaults.

`CATALOGUE` maps each code (models.CareRuleCode) to its `Rule` (see `base`): `.label`,
`.description` (for the settings page), `.defaults` (enabled, offsets, action, channel,
assignee, task kind, message purpose, script with {placeholders}), `.config_fields` (what a
dealer may change, typed for a generic form) and `.candidates(ctx)`, one SQL query over the
dealer's whole table. A dealer's settings (models.CareRuleSetting) are merged over the defaults
by `care.services.settings_defaults.config_for` / `rule_settings`.

The order is the engine's: "lost" before "at risk", so an owner gone for 18 months is marked
lost once instead of at risk first.
"""

from __future__ import annotations

from . import dates, dormancy, greetings, maintenance, replacement, seasonal, visits
from .base import Action, Assignee, Candidate, ConfigField, Rule, RuleContext

CATALOGUE: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        *visits.RULES,
        *maintenance.RULES,
        *dates.RULES,
        *greetings.RULES,
        *dormancy.RULES,
        *replacement.RULES,
        *seasonal.RULES,
    )
}

__all__ = ["CATALOGUE", "Action", "Assignee", "Candidate", "ConfigField", "Rule", "RuleContext"]
