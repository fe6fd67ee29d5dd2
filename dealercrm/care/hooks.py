"""What the care app plugs into the others (task-completion hooks, repair-order listeners,
workspace panels). Called from CareConfig.ready()."""

from __future__ import annotations


def register() -> None:
    pass
