"""What the service app plugs into the others: timeline providers, workspace panels, the vehicle
page's forecast panel, task-completion hooks. Called from ServiceConfig.ready()."""

from __future__ import annotations


def register() -> None:
    # Filled by the topic modules as they land (timeline.py, workspace.py, vehicle panels).
    from . import timeline  # noqa: F401  (registers its providers on import)
