"""The complaint clock in templates: `{% complaint_clock complaint as clock %}` and
`{{ minutes|sla_duration }}`. No queries: everything comes from the row (and, when the view put
`sla_terms` from `sla_terms_for_dealers` in the context, the dealer's warning windows)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ..services.sla import DEFAULTS, ClockState, SlaTerms, sla_clock_state

register = template.Library()


@register.simple_tag(takes_context=True)
def complaint_clock(
    context: template.Context, complaint: Any, terms: SlaTerms | None = None
) -> ClockState:
    """How the complaint's clock stands now (see services.sla.sla_clock_state)."""
    if terms is None:
        table = context.get("sla_terms")
        if isinstance(table, Mapping):
            terms = table.get((complaint.dealer_id, complaint.severity))
    return sla_clock_state(complaint, now=timezone.now(), terms=terms or DEFAULTS)


@register.filter
def sla_duration(minutes: int | None) -> str:
    """65 → "1 hour 5 minutes", 12 → "12 minutes", 3000 → "2 days 2 hours" (sign ignored)."""
    if minutes is None:
        return ""
    minutes = abs(int(minutes))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)

    def of_days(n: int) -> str:
        return ngettext("%(n)d day", "%(n)d days", n) % {"n": n}

    def of_hours(n: int) -> str:
        return ngettext("%(n)d hour", "%(n)d hours", n) % {"n": n}

    def of_minutes(n: int) -> str:
        return ngettext("%(n)d minute", "%(n)d minutes", n) % {"n": n}

    if days:
        parts = [of_days(days)] + ([of_hours(hours)] if hours else [])
    elif hours:
        parts = [of_hours(hours)] + ([of_minutes(mins)] if mins else [])
    else:
        parts = [of_minutes(mins)]
    # "1 hour 5 minutes" / "1 小时 5 分钟": the translation decides the joining space.
    return (
        _("%(first)s %(second)s") % {"first": parts[0], "second": parts[1]}
        if len(parts) == 2
        else parts[0]
    )
