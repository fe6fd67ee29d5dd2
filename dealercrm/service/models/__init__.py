"""After-sales service: appointments, repair orders, the mileage forecast, recalls, rescue.

One module per topic. Every history row fits a typical DMS export (see `records.py`), because
most service history arrives by import, not by hand.
"""

from .forecast import ForecastBasis, MaintenanceSchedule, VehicleServiceState
from .recalls import RecallCampaign, RecallCampaignVin, RecallStatus, RecallVehicle
from .records import (
    Appointment,
    AppointmentChannel,
    AppointmentStatus,
    LineType,
    Payer,
    RepairKind,
    RepairOrder,
    RepairOrderLine,
    RepairOrderStatus,
    ServicePolicy,
)
from .rescue import RescueCall, RescueOutcome, RescueProblem, RescueStatus

__all__ = [
    "Appointment",
    "AppointmentChannel",
    "AppointmentStatus",
    "ForecastBasis",
    "LineType",
    "MaintenanceSchedule",
    "Payer",
    "RecallCampaign",
    "RecallCampaignVin",
    "RecallStatus",
    "RecallVehicle",
    "RepairKind",
    "RepairOrder",
    "RepairOrderLine",
    "RepairOrderStatus",
    "RescueCall",
    "RescueOutcome",
    "RescueProblem",
    "RescueStatus",
    "ServicePolicy",
    "VehicleServiceState",
]
