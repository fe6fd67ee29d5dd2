"""Template filters of the worklist pages."""

from __future__ import annotations

from django import template

from dealercrm.worklist.outcomes import outcome_display

register = template.Library()


@register.filter
def task_outcome(text: str) -> str:
    """A stored outcome as people read it: "Reached the customer · 周六来店"."""
    return outcome_display(text)


@register.filter
def task_overdue(task, now) -> bool:  # noqa: ANN001
    """An open task whose due time has passed."""
    return task.status == "open" and now is not None and task.due_at < now
