"""Service API: a vehicle's forecast (why included), and the maintenance schedules."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.service.models import MaintenanceSchedule
from dealercrm.vehicles.selectors import get_vehicle_for_user

from ..selectors import forecast as selectors
from ..services import schedules as services

router = Router()


class ForecastOut(Schema):
    vehicle_id: int
    computed: bool = Field(description="False until the first refresh computed the forecast")
    daily_km: float | None = None
    basis: str | None = Field(None, description="readings, model_region, model or network")
    readings_used: int = 0
    readings_ignored: dict[str, int] = Field(default_factory=dict, description="By flag")
    last_visit_on: datetime.date | None = None
    visits: int = 0
    last_maintenance_on: datetime.date | None = None
    last_maintenance_km: int | None = None
    next_service_kind: str | None = Field(None, description="first or regular")
    next_service_on: datetime.date | None = None
    next_service_km: int | None = None
    due_reason: str | None = Field(None, description="distance or time: which comes first")
    due_by_distance_on: datetime.date | None = None
    due_by_time_on: datetime.date | None = None
    schedule_source: str | None = Field(None, description="model, network or builtin")
    why: list[str] = Field(default_factory=list, description="The reasons, in sentences")


@router.get(
    "/vehicles/{vehicle_id}/forecast", response=ForecastOut, summary="A vehicle's next service"
)
@api_permission(Perm.VIEW_SERVICE)
def vehicle_forecast_get(request: HttpRequest, vehicle_id: int) -> dict[str, Any]:
    vehicle = get_vehicle_for_user(request.user, vehicle_id)
    forecast = selectors.vehicle_forecast(vehicle)
    if forecast is None:
        return {"vehicle_id": vehicle.pk, "computed": False}
    s = forecast.state
    return {
        "vehicle_id": vehicle.pk,
        "computed": True,
        "daily_km": s.daily_km,
        "basis": s.basis,
        "readings_used": s.readings_used,
        "readings_ignored": forecast.ignored,
        "last_visit_on": s.last_visit_on,
        "visits": s.visits,
        "last_maintenance_on": s.last_maintenance_on,
        "last_maintenance_km": s.last_maintenance_km,
        "next_service_kind": s.next_service_kind,
        "next_service_on": s.next_service_on,
        "next_service_km": s.next_service_km,
        "due_reason": s.due_reason,
        "due_by_distance_on": s.due_by_distance_on,
        "due_by_time_on": s.due_by_time_on,
        "schedule_source": forecast.schedule.source,
        "why": forecast.reasons,
    }


class ScheduleOut(Schema):
    id: int
    car_model_id: int | None = Field(description="None: the network default")
    car_model: str
    first_km: int
    first_months: int
    interval_km: int
    interval_months: int


class ScheduleIn(Schema):
    first_km: int
    first_months: int
    interval_km: int
    interval_months: int


def _schedule_out(s: MaintenanceSchedule) -> dict[str, Any]:
    return {
        "id": s.pk,
        "car_model_id": s.car_model_id,
        "car_model": str(s.car_model) if s.car_model_id else _("Network default"),
        "first_km": s.first_km,
        "first_months": s.first_months,
        "interval_km": s.interval_km,
        "interval_months": s.interval_months,
    }


@router.get("/schedules", response=list[ScheduleOut], summary="Maintenance schedules")
@api_permission(Perm.MANAGE_SCHEDULES)
def schedule_list_get(request: HttpRequest) -> list[dict[str, Any]]:
    rows = selectors.schedules_for_api(request.user).order_by("car_model_id", "id")
    return [_schedule_out(s) for s in rows]


@router.put(
    "/schedules/{schedule_id}", response=ScheduleOut, summary="Change a maintenance schedule"
)
@api_permission(Perm.MANAGE_SCHEDULES)
def schedule_put(request: HttpRequest, schedule_id: int, payload: ScheduleIn) -> dict[str, Any]:
    schedule = selectors.get_schedule_for_user(request.user, schedule_id)
    saved = services.maintenance_schedule_save(
        actor=request.user, car_model=schedule.car_model, **payload.dict()
    )
    return _schedule_out(saved)


@router.put(
    "/schedules/models/{car_model_id}",
    response=ScheduleOut,
    summary="Set a model's maintenance schedule",
)
@api_permission(Perm.MANAGE_SCHEDULES)
def schedule_model_put(
    request: HttpRequest, car_model_id: int, payload: ScheduleIn
) -> dict[str, Any]:
    car_model = selectors.get_car_model_for_user(request.user, car_model_id)
    saved = services.maintenance_schedule_save(
        actor=request.user, car_model=car_model, **payload.dict()
    )
    return _schedule_out(saved)
