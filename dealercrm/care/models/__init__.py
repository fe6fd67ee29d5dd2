"""Customer care: the rule catalogue's per-dealer settings, each rule firing recorded once
(`CareOccurrence`), the engine's runs, the regions' seasonal checks."""

from .occurrences import CareOccurrence, CareOutcome, CareRun, OccurrenceStatus
from .rules import CareRuleCode, CareRuleSetting, SeasonalCheck

__all__ = [
    "CareOccurrence",
    "CareOutcome",
    "CareRuleCode",
    "CareRuleSetting",
    "CareRun",
    "OccurrenceStatus",
    "SeasonalCheck",
]
