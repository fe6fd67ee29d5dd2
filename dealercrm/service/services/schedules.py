"""Writes of maintenance schedules (the OEM's): first maintenance at X km or Y months, then
every N km or M months. A change re-forecasts the vehicles it applies to, after commit."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.audit import audit_record, field_changes
from dealercrm.core.models import AuditEvent, User
from dealercrm.service.models import MaintenanceSchedule
from dealercrm.vehicles.models import CarModel

SCHEDULE_FIELDS = ("first_km", "first_months", "interval_km", "interval_months")
MAX_KM = 100_000
MAX_MONTHS = 60


def _validate(values: dict[str, int | None]) -> None:
    labels = {
        "first_km": _("First maintenance at (km)"),
        "first_months": _("First maintenance after (months)"),
        "interval_km": _("Then every (km)"),
        "interval_months": _("Then every (months)"),
    }
    errors: dict[str, list[str]] = {}
    for name in SCHEDULE_FIELDS:
        value = values.get(name)
        limit = MAX_KM if name.endswith("_km") else MAX_MONTHS
        if value is None:
            errors[name] = [_("%(field)s: give a number.") % {"field": labels[name]}]
        elif value < 1:
            errors[name] = [
                _("%(field)s must be at least 1, not %(value)s.")
                % {"field": labels[name], "value": value}
            ]
        elif value > limit:
            errors[name] = [
                _("%(field)s cannot be more than %(limit)s.")
                % {"field": labels[name], "limit": limit}
            ]
    if errors:
        raise ValidationError(errors)


def _refresh_after_commit(car_model_id: int | None) -> None:
    from dealercrm.service.forecast_jobs import forecast_model_refresh

    transaction.on_commit(lambda: forecast_model_refresh(car_model_id))


def maintenance_schedule_save(
    *,
    actor: User | None,
    car_model: CarModel | None,
    first_km: int | None,
    first_months: int | None,
    interval_km: int | None,
    interval_months: int | None,
) -> MaintenanceSchedule:
    """Create or change the schedule of a model (None: the network default). Every number must
    be a whole number from 1; the vehicles it applies to are re-forecast after commit."""
    values = {
        "first_km": first_km,
        "first_months": first_months,
        "interval_km": interval_km,
        "interval_months": interval_months,
    }
    _validate(values)
    with transaction.atomic():
        existing = (
            MaintenanceSchedule.objects.select_for_update().filter(car_model=car_model).first()
        )
        created = existing is None
        schedule = existing if existing is not None else MaintenanceSchedule(car_model=car_model)
        before: dict[str, object] = (
            {} if created else {name: getattr(schedule, name) for name in SCHEDULE_FIELDS}
        )
        for name, value in values.items():
            setattr(schedule, name, value)
        schedule.updated_at = timezone.now()
        schedule.save()
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CREATE if created else AuditEvent.Action.CHANGE,
            target=schedule,
            target_repr=str(schedule),
            changes=values if created else field_changes(before, values),
        )
        _refresh_after_commit(car_model.pk if car_model is not None else None)
    return schedule


def maintenance_schedule_reset(*, actor: User | None, schedule: MaintenanceSchedule) -> None:
    """Remove a model's own schedule: its vehicles follow the network default again."""
    if schedule.car_model_id is None:
        raise ValidationError(
            {"car_model": [_("The network default cannot be removed, only changed.")]}
        )
    with transaction.atomic():
        car_model_id = schedule.car_model_id
        audit_record(
            actor=actor,
            action=AuditEvent.Action.DELETE,
            target=schedule,
            target_repr=str(schedule),
        )
        schedule.delete()
        _refresh_after_commit(car_model_id)
