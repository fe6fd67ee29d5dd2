"""The care panel of the workspace: my care tasks due today or overdue (two queries at most)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.workspace_panels import WorkspacePanel

from .selectors.tasks import my_due_care_tasks


def care_tasks_panel(user: User, *, today: datetime.date) -> WorkspacePanel | None:
    """Registered in hooks.register(); no panel for network users or when nothing is due."""
    if not user.dealer_id or not user.has_perm(Perm.WORK_CARE):
        return None
    rows, count = my_due_care_tasks(user, today=today)
    if not count:
        return None
    return WorkspacePanel(
        template="care/_panel_due.html",
        context={"occurrences": rows, "count": count, "now": timezone.now()},
        order=15,
    )
