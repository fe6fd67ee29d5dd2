"""The service advisor's workspace panel: today's appointments and the open repair orders.

Two queries at most; shown to dealer staff who work the workshop (WORK_SERVICE).
"""

from __future__ import annotations

import datetime

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.workspace_panels import WorkspacePanel

from .selectors.appointments import todays_appointments
from .selectors.repair_orders import open_repair_orders

PANEL_LIMIT = 8


def advisor_panel(user: User, *, today: datetime.date) -> WorkspacePanel | None:
    if not (user.is_authenticated and user.dealer_id and user.has_perm(Perm.WORK_SERVICE)):
        return None
    return WorkspacePanel(
        template="service/appointments/_panel_today.html",
        context={
            "appointments": todays_appointments(user, today, limit=PANEL_LIMIT),
            "repair_orders": open_repair_orders(user, limit=PANEL_LIMIT),
            "today": today,
        },
        order=40,
    )
