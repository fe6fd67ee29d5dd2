"""Service pages: maintenance schedules per model (the OEM's), with the network default.

The vehicle's forecast itself is a panel on the vehicle page (forecast_panel.py)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from dealercrm.core.access import staff_view
from dealercrm.core.forms import StyledForm, apply_service_errors
from dealercrm.core.permissions import Perm
from dealercrm.service.models import MaintenanceSchedule
from dealercrm.service.services.forecast import BUILTIN_SCHEDULE
from dealercrm.vehicles.models import CarModel

from ..selectors import forecast as selectors
from ..services import schedules as services


class ScheduleForm(StyledForm):
    # Bounds are checked by the service (one message for the form and the API).
    first_km = forms.IntegerField(label=gettext_lazy("First maintenance at (km)"))
    first_months = forms.IntegerField(label=gettext_lazy("First maintenance after (months)"))
    interval_km = forms.IntegerField(label=gettext_lazy("Then every (km)"))
    interval_months = forms.IntegerField(label=gettext_lazy("Then every (months)"))


def _initial(schedule: MaintenanceSchedule | None) -> dict[str, int]:
    if schedule is not None:
        return {name: getattr(schedule, name) for name in services.SCHEDULE_FIELDS}
    return dict(zip(services.SCHEDULE_FIELDS, BUILTIN_SCHEDULE, strict=True))


@staff_view(Perm.MANAGE_SCHEDULES)
def schedules(request: HttpRequest) -> HttpResponse:
    rows, default = selectors.schedule_list(request.user)
    return render(
        request,
        "service/forecast/schedules.html",
        {"rows": rows, "default": default, "builtin": _initial(None)},
    )


def _edit(
    request: HttpRequest, car_model: CarModel | None, schedule: MaintenanceSchedule | None
) -> HttpResponse:
    if schedule is None and car_model is not None:
        fallback = MaintenanceSchedule.objects.filter(car_model=None).first()
        initial = _initial(fallback)
    else:
        initial = _initial(schedule)
    form = ScheduleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.maintenance_schedule_save(
                actor=request.user, car_model=car_model, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request,
                _("Schedule saved; the forecasts of its vehicles are being recomputed."),
            )
            return redirect("service:schedules")
    return render(
        request,
        "service/forecast/schedule_form.html",
        {"form": form, "car_model": car_model, "schedule": schedule},
    )


@staff_view(Perm.MANAGE_SCHEDULES)
def schedule_edit(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = selectors.get_schedule_for_user(request.user, schedule_id)
    return _edit(request, schedule.car_model, schedule)


@staff_view(Perm.MANAGE_SCHEDULES)
def schedule_create(request: HttpRequest, car_model_id: int) -> HttpResponse:
    car_model = selectors.get_car_model_for_user(request.user, car_model_id)
    existing = MaintenanceSchedule.objects.filter(car_model=car_model).first()
    if existing is not None:
        return redirect("service:schedule_edit", schedule_id=existing.pk)
    return _edit(request, car_model, None)


@staff_view(Perm.MANAGE_SCHEDULES)
def schedule_default(request: HttpRequest) -> HttpResponse:
    return _edit(request, None, MaintenanceSchedule.objects.filter(car_model=None).first())


@require_POST
@staff_view(Perm.MANAGE_SCHEDULES)
def schedule_reset(request: HttpRequest, schedule_id: int) -> HttpResponse:
    schedule = selectors.get_schedule_for_user(request.user, schedule_id)
    try:
        services.maintenance_schedule_reset(actor=request.user, schedule=schedule)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The model follows the network default again."))
    return redirect("service:schedules")


urlpatterns = [
    path("schedules/", schedules, name="schedules"),
    path("schedules/default/", schedule_default, name="schedule_default"),
    path("schedules/<int:schedule_id>/", schedule_edit, name="schedule_edit"),
    path("schedules/<int:schedule_id>/reset/", schedule_reset, name="schedule_reset"),
    path("schedules/new/<int:car_model_id>/", schedule_create, name="schedule_create"),
]
