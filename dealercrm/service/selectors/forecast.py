"""Reads of the mileage forecast: a vehicle's next service with the reasons in words, and the
maintenance schedules of the catalogue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dealercrm.core.models import User
from dealercrm.service.models import MaintenanceSchedule, VehicleServiceState
from dealercrm.service.models.forecast import ForecastBasis, NextServiceKind
from dealercrm.service.services.forecast import BUILTIN_SCHEDULE
from dealercrm.vehicles.models import CarModel, MileageReading, Vehicle
from dealercrm.vehicles.selectors import catalogue_visible_to


def _km(value: int | float) -> str:
    return f"{round(value):,}"


def _rate(value: float) -> str:
    return f"{value:,.1f}".removesuffix(".0")


@dataclass
class ScheduleInUse:
    first_km: int
    first_months: int
    interval_km: int
    interval_months: int
    # "model", "network" (the network default row) or "builtin"
    source: str


@dataclass
class VehicleForecast:
    """What the vehicle page and the API show: the state row and why, in sentences."""

    state: VehicleServiceState
    schedule: ScheduleInUse
    ignored: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    overdue: bool = False

    @property
    def why(self) -> str:
        """The reasons as one paragraph: a space after a sentence, none after a full-width
        full stop (Chinese)."""
        text = ""
        for reason in self.reasons:
            if text and not text.endswith("。"):
                text += " "
            text += reason
        return text


def schedule_for_model(car_model_id: int | None) -> ScheduleInUse:
    """The schedule a model follows: its own, else the network default, else the built-in one.
    One query."""
    rows = {
        s.car_model_id: s
        for s in MaintenanceSchedule.objects.filter(
            car_model_id__in=[car_model_id] if car_model_id else []
        )
        | MaintenanceSchedule.objects.filter(car_model=None)
    }
    if car_model_id in rows and car_model_id is not None:
        s, source = rows[car_model_id], "model"
    elif None in rows:
        s, source = rows[None], "network"
    else:
        return ScheduleInUse(*BUILTIN_SCHEDULE, source="builtin")
    return ScheduleInUse(s.first_km, s.first_months, s.interval_km, s.interval_months, source)


def _ignored_text(ignored: dict[str, int]) -> str:
    labels = {
        MileageReading.Flag.LOWER: _("lower than an earlier reading"),
        MileageReading.Flag.JUMP: _("an impossible jump"),
    }
    parts = []
    for flag in (MileageReading.Flag.LOWER, MileageReading.Flag.JUMP):
        count = ignored.get(flag, 0)
        if not count:
            continue
        parts.append(labels[flag] if len(ignored) == 1 else f"{count} {labels[flag]}")
    return _(", ").join(parts)


def _rate_sentence(state: VehicleServiceState, car_model: CarModel | None, ignored: dict) -> str:
    rate = _rate(state.daily_km or 0)
    total_ignored = sum(ignored.values())
    if state.basis == ForecastBasis.READINGS:
        text = ngettext(
            "Forecast %(rate)s km/day from %(count)s reading",
            "Forecast %(rate)s km/day from %(count)s readings",
            state.readings_used,
        ) % {"rate": rate, "count": state.readings_used}
    else:
        model = str(car_model) if car_model is not None else _("this model")
        texts: dict[str, str] = {
            ForecastBasis.MODEL_REGION: _(
                "Forecast %(rate)s km/day, the average of %(model)s cars in the region, as this "
                "car has too few readings of its own"
            ),
            ForecastBasis.MODEL: _(
                "Forecast %(rate)s km/day, the average of %(model)s cars in the network, as this "
                "car has too few readings of its own"
            ),
            ForecastBasis.NETWORK: _(
                "Forecast %(rate)s km/day, the network default, as this car and its model have "
                "too few readings"
            ),
        }
        text = texts[state.basis] % {"rate": rate, "model": model}
    if total_ignored:
        # The space before the bracket is part of the message (Chinese brackets take none).
        text += _(" (%(count)s ignored: %(reasons)s)") % {
            "count": total_ignored,
            "reasons": _ignored_text(ignored),
        }
    return text + _(".")


def _schedule_sentence(state: VehicleServiceState, schedule: ScheduleInUse) -> str:
    if state.next_service_kind == NextServiceKind.FIRST:
        months = schedule.first_months
        head = _(
            "First maintenance at %(km)s km or %(months)s months after delivery, whichever "
            "comes first"
        ) % {"km": _km(schedule.first_km), "months": months}
    else:
        months = schedule.interval_months
        last_km = _km(state.last_maintenance_km) if state.last_maintenance_km is not None else "—"
        head = _(
            "Next maintenance %(km)s km or %(months)s months after the last one (%(last_km)s km "
            "on %(last_on)s), whichever comes first"
        ) % {
            "km": _km(schedule.interval_km),
            "months": months,
            "last_km": last_km,
            "last_on": state.last_maintenance_on.isoformat() if state.last_maintenance_on else "—",
        }
    by_distance, by_time = state.due_by_distance_on, state.due_by_time_on
    values = {
        "km": _km(state.next_service_km) if state.next_service_km is not None else "—",
        "months": months,
        "distance_on": by_distance.isoformat() if by_distance else "",
        "time_on": by_time.isoformat() if by_time else "",
    }
    if by_distance and by_time and by_distance <= by_time:
        tail = _(
            "%(km)s km is expected on %(distance_on)s, before the %(months)s months on %(time_on)s."
        )
    elif by_distance and by_time:
        tail = _(
            "the %(months)s months end on %(time_on)s, before %(km)s km is expected on %(distance_on)s."
        )
    elif by_time:
        tail = _("the %(months)s months end on %(time_on)s.")
    elif by_distance:
        tail = _("%(km)s km is expected on %(distance_on)s.")
    else:
        tail = _("without a delivery date no date can be forecast.")
    return head + _(": ") + tail % values


def vehicle_forecast(vehicle: Vehicle, *, today: date | None = None) -> VehicleForecast | None:
    """The vehicle's forecast with its reasons; None before the first refresh computed it.
    Three queries: the state, the ignored readings by reason, the schedule."""
    state = VehicleServiceState.objects.filter(
        dealer_id=vehicle.dealer_id, vehicle_id=vehicle.pk
    ).first()
    if state is None:
        return None
    ignored: dict[str, int] = {}
    if state.readings_flagged:
        ignored = dict(
            MileageReading.objects.filter(dealer_id=vehicle.dealer_id, vehicle_id=vehicle.pk)
            .exclude(flag="")
            .values_list("flag")
            .annotate(n=Count("id"))
            .order_by()
        )
    schedule = schedule_for_model(vehicle.car_model_id)
    today = today or timezone.localdate()
    return VehicleForecast(
        state=state,
        schedule=schedule,
        ignored=ignored,
        reasons=[
            _rate_sentence(state, vehicle.car_model if vehicle.car_model_id else None, ignored),
            _schedule_sentence(state, schedule),
        ],
        overdue=state.next_service_on is not None and state.next_service_on < today,
    )


# --- Schedules ---------------------------------------------------------------------------------


@dataclass
class ScheduleRow:
    car_model: CarModel
    schedule: MaintenanceSchedule | None  # None: follows the network default


def schedule_list(user: User) -> tuple[list[ScheduleRow], MaintenanceSchedule | None]:
    """Every model of the user's catalogue with its own schedule or none (the network default),
    and the network default row. Two queries."""
    models = (
        catalogue_visible_to(user)
        .select_related("maintenance_schedule")
        .order_by("make", "series", "-model_year", "name")
    )
    rows = [ScheduleRow(m, getattr(m, "maintenance_schedule", None)) for m in models]
    default = MaintenanceSchedule.objects.filter(car_model=None).first()
    return rows, default


def get_car_model_for_user(user: User, car_model_id: int) -> CarModel:
    try:
        return catalogue_visible_to(user).get(pk=car_model_id)
    except (CarModel.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def get_schedule_for_user(user: User, schedule_id: int) -> MaintenanceSchedule:
    """A schedule of a model in the user's catalogue, or the network default; 404 otherwise."""
    try:
        schedule = MaintenanceSchedule.objects.select_related("car_model").get(pk=schedule_id)
    except (MaintenanceSchedule.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc
    if schedule.car_model_id is not None:
        get_car_model_for_user(user, schedule.car_model_id)
    return schedule


def schedules_for_api(user: User) -> QuerySet[MaintenanceSchedule]:
    return MaintenanceSchedule.objects.select_related("car_model").filter(
        car_model__in=catalogue_visible_to(user)
    ) | MaintenanceSchedule.objects.select_related("car_model").filter(car_model=None)
