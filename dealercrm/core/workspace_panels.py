"""Panels other apps put on the workspace ("/"), without core knowing those apps.

Core must not import the domain apps (import-linter), yet the consultant's and the manager's
workspace show leads waiting for a first response, follow-ups due, losses to approve, unread
notices. Each app registers a panel in its AppConfig.ready()::

    from dealercrm.core.workspace_panels import WorkspacePanel, register_workspace_panel

    def waiting_leads(user, *, today):
        if not user.has_perm(Perm.WORK_LEADS):
            return None                     # not for this user: no panel
        return WorkspacePanel(template="sales/workspace/_waiting.html", context={...}, order=10)

    register_workspace_panel(waiting_leads)

A panel is `panel(user, *, today) -> WorkspacePanel | None`; it runs a fixed number of queries
(one or two), so the workspace's query count stays constant whatever the data. Panels are shown
in `order`, then in the order they were registered. The template gets the panel's context as
`panel` (`{{ panel.leads }}`), plus the page's own context.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .models import User


@dataclass
class WorkspacePanel:
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100
    # "full" takes the width of the page, "half" half of it on large screens.
    width: str = "half"


PanelProvider = Callable[..., "WorkspacePanel | None"]

_panels: list[PanelProvider] = []


def register_workspace_panel(panel: PanelProvider) -> PanelProvider:
    """Add a panel provider (once: registering the same callable again does nothing)."""
    if panel not in _panels:
        _panels.append(panel)
    return panel


def unregister_workspace_panel(panel: PanelProvider) -> None:
    if panel in _panels:
        _panels.remove(panel)


def registered_workspace_panels() -> tuple[PanelProvider, ...]:
    return tuple(_panels)


def workspace_panels(user: User, *, today: datetime.date) -> list[WorkspacePanel]:
    """The panels this user gets, in order."""
    shown: list[tuple[int, int, WorkspacePanel]] = []
    for index, provider in enumerate(_panels):
        panel = provider(user, today=today)
        if panel is not None:
            shown.append((panel.order, index, panel))
    return [panel for _order, _index, panel in sorted(shown, key=lambda t: (t[0], t[1]))]
