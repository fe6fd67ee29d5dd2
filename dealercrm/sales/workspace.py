"""The sales panels of the consultant's and the manager's workspace: leads waiting for a first
response (the flagged ones highlighted), follow-ups due today or overdue, losses awaiting the
manager's approval. Each panel runs two queries at most.

`register_panels()` is called from hooks.register().
"""

from __future__ import annotations

import datetime

from django.utils import timezone

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.workspace_panels import WorkspacePanel, register_workspace_panel

from .selectors.leads import visible_leads

PANEL_LIMIT = 8


def _for_dealer_staff(user: User, permission: str) -> bool:
    # The panels belong on the dealer workspaces; network users have the funnel and scorecards.
    return bool(user.is_authenticated and user.dealer_id and user.has_perm(permission))


def _rows_and_count(qs, limit: int = PANEL_LIMIT) -> tuple[list, int]:  # noqa: ANN001
    rows = list(qs[:limit])
    return rows, len(rows) if len(rows) < limit else qs.count()


def waiting_panel(user: User, *, today: datetime.date) -> WorkspacePanel | None:
    """Leads still waiting for their first response, the overdue (flagged) ones first."""
    if not _for_dealer_staff(user, Perm.WORK_LEADS):
        return None
    qs = (
        visible_leads(user)
        .filter(dealer_id=user.dealer_id)
        .awaiting_first_response()
        .select_related("customer", "consultant")
        .order_by("first_response_due_at", "pk")
    )
    rows, count = _rows_and_count(qs)
    now = timezone.now()
    for lead in rows:
        lead.is_late = bool(
            lead.response_flagged_at
            or (lead.first_response_due_at and lead.first_response_due_at < now)
        )
    return WorkspacePanel(
        template="sales/leads/_panel_waiting.html",
        context={
            "leads": rows,
            "count": count,
            "show_consultant": user.has_perm(Perm.VIEW_ALL_LEADS),
        },
        order=10,
    )


def followups_panel(user: User, *, today: datetime.date) -> WorkspacePanel | None:
    """Open leads whose next action is due today or overdue."""
    if not _for_dealer_staff(user, Perm.WORK_LEADS):
        return None
    qs = (
        visible_leads(user)
        .filter(dealer_id=user.dealer_id)
        .open()
        .filter(next_action_due__lte=today)
        .select_related("customer", "consultant")
        .order_by("next_action_due", "pk")
    )
    rows, count = _rows_and_count(qs)
    return WorkspacePanel(
        template="sales/leads/_panel_followups.html",
        context={
            "leads": rows,
            "count": count,
            "today": today,
            "show_consultant": user.has_perm(Perm.VIEW_ALL_LEADS),
        },
        order=20,
    )


def losses_panel(user: User, *, today: datetime.date) -> WorkspacePanel | None:
    """Loss requests waiting for the manager (managers only; none when there are none)."""
    if not _for_dealer_staff(user, Perm.MANAGE_LEADS):
        return None
    qs = (
        visible_leads(user)
        .filter(dealer_id=user.dealer_id)
        .loss_pending()
        .select_related("customer", "consultant")
        .order_by("loss_requested_at", "pk")
    )
    rows, count = _rows_and_count(qs)
    if not count:
        return None
    return WorkspacePanel(
        template="sales/leads/_panel_losses.html",
        context={"leads": rows, "count": count},
        order=30,
    )


def register_panels() -> None:
    for panel in (waiting_panel, followups_panel, losses_panel):
        register_workspace_panel(panel)
