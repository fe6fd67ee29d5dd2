"""Panels later apps put on the vehicle page (service history, the next-service forecast),
without the vehicles app knowing those apps — like the workspace's panels.

An app registers in its AppConfig.ready()::

    from dealercrm.vehicles.panels import VehiclePanel, register_vehicle_panel

    def service_forecast(request, vehicle):
        if not request.user.has_perm(Perm.VIEW_SERVICE):
            return None
        return VehiclePanel(template="service/vehicle/_forecast.html", context={...}, order=10)

    register_vehicle_panel(service_forecast)

A panel is `panel(request, vehicle) -> VehiclePanel | None`, runs a fixed number of queries, and
its template gets the panel's context as `panel`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from .models import Vehicle


@dataclass
class VehiclePanel:
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100
    # "full" takes the width of the page, "half" half of it on large screens.
    width: str = "full"


PanelProvider = Callable[[HttpRequest, Vehicle], "VehiclePanel | None"]

_panels: list[PanelProvider] = []


def register_vehicle_panel(panel: PanelProvider) -> PanelProvider:
    if panel not in _panels:
        _panels.append(panel)
    return panel


def unregister_vehicle_panel(panel: PanelProvider) -> None:
    if panel in _panels:
        _panels.remove(panel)


def vehicle_panels(request: HttpRequest, vehicle: Vehicle) -> list[VehiclePanel]:
    shown = []
    for index, provider in enumerate(_panels):
        panel = provider(request, vehicle)
        if panel is not None:
            shown.append((panel.order, index, panel))
    return [panel for _o, _i, panel in sorted(shown, key=lambda t: (t[0], t[1]))]
