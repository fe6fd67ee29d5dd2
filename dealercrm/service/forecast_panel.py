"""The vehicle page's "Next service" panel: the forecast date and km, and why, in sentences."""

from __future__ import annotations

from django.http import HttpRequest

from dealercrm.core.permissions import Perm
from dealercrm.vehicles.models import Vehicle
from dealercrm.vehicles.panels import VehiclePanel

from .selectors.forecast import vehicle_forecast


def next_service_panel(request: HttpRequest, vehicle: Vehicle) -> VehiclePanel | None:
    """Shown to users who may see after-sales (VIEW_SERVICE); three queries at most."""
    if not request.user.has_perm(Perm.VIEW_SERVICE):
        return None
    return VehiclePanel(
        template="service/forecast/_panel.html",
        context={"forecast": vehicle_forecast(vehicle), "vehicle": vehicle},
        order=10,
    )
