"""Pages of the vehicles app: the vehicle page, its forms, and the model catalogue."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm
from dealercrm.customers.models import Customer

from . import selectors, services
from .forms import (
    CarModelForm,
    MileageForm,
    TransferForm,
    VehicleCreateForm,
    VehicleEditForm,
    apply_errors,
)
from .models import BodyType, Powertrain, Vehicle
from .panels import vehicle_panels
from .validators import parse_plate


def _customer_url(customer_id: int) -> str:
    return reverse("customers:detail", args=[customer_id])


def _car_models_for(request: HttpRequest, current=None):  # noqa: ANN001, ANN202
    qs = selectors.catalogue_list(request.user, active_only=True)
    if current is not None:
        qs = selectors.catalogue_visible_to(request.user).filter(pk=current.pk) | qs
    return qs.order_by("make", "series", "-model_year", "name")


def _mileage_context(request: HttpRequest, vehicle: Vehicle, form: MileageForm | None = None):  # noqa: ANN202
    readings = selectors.mileage_history(vehicle)
    return {
        "vehicle": vehicle,
        "readings": list(reversed(readings)),
        "chart_data": selectors.mileage_chart_data(readings),
        "mileage_form": form or MileageForm(),
        "can_change": request.user.has_perm(Perm.CHANGE_VEHICLE),
    }


@staff_view(Perm.VIEW_VEHICLE)
def detail(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    vehicle = selectors.get_vehicle_for_user(request.user, vehicle_id)
    try:
        plate_info = parse_plate(vehicle.plate) if vehicle.plate else None
    except ValidationError:
        plate_info = None
    context = {
        **_mileage_context(request, vehicle),
        "plate_info": plate_info,
        "ownerships": selectors.ownership_history(vehicle, request.user),
        "owner_url": _customer_url(vehicle.owner_id) if vehicle.owner_id else "",
        "panels": vehicle_panels(request, vehicle),
    }
    return render(request, "vehicles/detail.html", context)


def _owner_from_request(request: HttpRequest, value) -> Customer | None:  # noqa: ANN001
    if not value:
        return None
    return selectors.get_owner_for_user(request.user, value)


@staff_view(Perm.CHANGE_VEHICLE)
@require_http_methods(["GET", "POST"])
def create(request: HttpRequest) -> HttpResponse:
    owner_id = request.POST.get("customer") or request.GET.get("customer")
    owner = _owner_from_request(request, owner_id)
    form = VehicleCreateForm(request.POST or None, car_models=_car_models_for(request))
    if request.method == "POST" and owner is None:
        form.add_error(None, _("Choose the owner of the vehicle."))
    if request.method == "POST" and owner is not None and form.is_valid():
        try:
            vehicle = services.vehicle_create(
                actor=request.user, owner=owner, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Vehicle %(vehicle)s added.") % {"vehicle": vehicle})
            return redirect("vehicles:detail", vehicle_id=vehicle.pk)
    return render(request, "vehicles/form.html", {"form": form, "owner": owner, "mode": "create"})


@staff_view(Perm.CHANGE_VEHICLE)
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    vehicle = selectors.get_vehicle_for_user(request.user, vehicle_id)
    car_models = _car_models_for(request, vehicle.car_model)
    status = 200
    if request.method == "POST":
        form = VehicleEditForm(request.POST, car_models=car_models)
        if form.is_valid():
            data = dict(form.cleaned_data)
            version = data.pop("version")
            try:
                services.vehicle_update(
                    actor=request.user, vehicle=vehicle, version=version, request=request, **data
                )
            except services.VehicleEditConflict as exc:
                form.add_error(None, exc.messages)
                status = 409
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Vehicle saved."))
                return redirect("vehicles:detail", vehicle_id=vehicle.pk)
    else:
        form = VehicleEditForm(
            initial={
                "car_model": vehicle.car_model,
                "vin": vehicle.vin,
                "plate": vehicle.plate,
                "colour": vehicle.colour,
                "purchase_date": vehicle.purchase_date,
                "delivery_date": vehicle.delivery_date,
                "warranty_end": vehicle.warranty_end,
                "insurance_expiry": vehicle.insurance_expiry,
                "version": vehicle.version,
            },
            car_models=car_models,
        )
    return render(
        request,
        "vehicles/form.html",
        {"form": form, "vehicle": vehicle, "owner": vehicle.owner, "mode": "edit"},
        status=status,
    )


@staff_view(Perm.CHANGE_VEHICLE)
@require_http_methods(["GET", "POST"])
def transfer(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    vehicle = selectors.get_vehicle_for_user(request.user, vehicle_id)
    new_owner = None
    status = 200
    if request.method == "POST":
        form = TransferForm(request.POST)
        if form.is_valid():
            try:
                new_owner = selectors.get_owner_for_user(
                    request.user, form.cleaned_data["new_owner"]
                )
            except Http404:
                form.add_error("new_owner", _("Choose a customer of this dealer."))
            else:
                try:
                    services.vehicle_transfer(
                        actor=request.user,
                        vehicle=vehicle,
                        new_owner=new_owner,
                        on=form.cleaned_data["on"],
                        version=form.cleaned_data["version"],
                        request=request,
                    )
                except services.VehicleEditConflict as exc:
                    form.add_error(None, exc.messages)
                    status = 409
                except ValidationError as exc:
                    apply_errors(form, exc)
                else:
                    messages.success(
                        request,
                        _("%(vehicle)s now belongs to %(owner)s.")
                        % {"vehicle": vehicle, "owner": new_owner},
                    )
                    return redirect("vehicles:detail", vehicle_id=vehicle.pk)
    else:
        preselected = request.GET.get("customer")
        if preselected:
            new_owner = _owner_from_request(request, preselected)
        form = TransferForm(
            initial={"version": vehicle.version, "new_owner": new_owner.pk if new_owner else None}
        )
    return render(
        request,
        "vehicles/transfer.html",
        {"form": form, "vehicle": vehicle, "new_owner": new_owner},
        status=status,
    )


@staff_view(Perm.CHANGE_VEHICLE)
def owner_lookup(request: HttpRequest) -> HttpResponse:
    """As-you-type list of customers to choose as owner (transfer and create forms)."""
    q = request.GET.get("owner_q") or request.GET.get("q", "")
    return render(
        request,
        "vehicles/_owner_options.html",
        {"customers": selectors.owner_candidates(request.user, q), "q": q},
    )


@staff_view(Perm.CHANGE_VEHICLE)
@require_http_methods(["GET", "POST"])
def mileage_add(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    vehicle = selectors.get_vehicle_for_user(request.user, vehicle_id)
    form = MileageForm(request.POST or None)
    oob = False
    if request.method == "POST" and form.is_valid():
        try:
            services.mileage_reading_add(
                actor=request.user, vehicle=vehicle, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if not request.htmx:
                messages.success(request, _("Mileage reading added."))
                return redirect("vehicles:detail", vehicle_id=vehicle.pk)
            form = MileageForm()
            # The mileage in the vehicle card is outside the swapped card: update it out of band.
            oob = True
    if request.htmx or request.method == "GET":
        context = {**_mileage_context(request, vehicle, form), "oob": oob}
        return render(request, "vehicles/detail.html#mileage", context)
    # A browser without HTMX gets the whole page with the form's errors.
    context = {
        **_mileage_context(request, vehicle, form),
        "ownerships": selectors.ownership_history(vehicle, request.user),
        "owner_url": _customer_url(vehicle.owner_id) if vehicle.owner_id else "",
        "panels": vehicle_panels(request, vehicle),
    }
    return render(request, "vehicles/detail.html", context)


# --- The model catalogue -----------------------------------------------------------------------


@staff_view()
def catalogue(request: HttpRequest) -> HttpResponse:
    filters = {
        "q": request.GET.get("q", "").strip(),
        "body_type": request.GET.get("body_type", ""),
        "powertrain": request.GET.get("powertrain", ""),
    }
    page = Paginator(selectors.catalogue_list(request.user, **filters), 50).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "filters": filters,
        "body_types": BodyType.choices,
        "powertrains": Powertrain.choices,
        "can_manage": request.user.has_perm(Perm.MANAGE_CATALOGUE),
    }
    template = "vehicles/catalogue.html#results" if request.htmx else "vehicles/catalogue.html"
    return render(request, template, context)


@staff_view(Perm.MANAGE_CATALOGUE)
@require_http_methods(["GET", "POST"])
def car_model_create(request: HttpRequest) -> HttpResponse:
    form = CarModelForm(request.POST or None, initial={"brand": request.user.brand_id, "make": ""})
    if request.method == "POST" and form.is_valid():
        try:
            car_model = services.car_model_create(
                actor=request.user, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Model %(model)s added.") % {"model": car_model})
            return redirect("vehicles:catalogue")
    return render(request, "vehicles/car_model_form.html", {"form": form})


@staff_view(Perm.MANAGE_CATALOGUE)
@require_http_methods(["GET", "POST"])
def car_model_edit(request: HttpRequest, car_model_id: int) -> HttpResponse:
    car_model = selectors.get_car_model_for_user(request.user, car_model_id)
    if request.method == "POST":
        form = CarModelForm(request.POST)
        if form.is_valid():
            try:
                services.car_model_update(
                    actor=request.user, car_model=car_model, request=request, **form.cleaned_data
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Model saved."))
                return redirect("vehicles:catalogue")
    else:
        form = CarModelForm(
            initial={name: getattr(car_model, name) for name in services.CAR_MODEL_FIELDS}
        )
    return render(request, "vehicles/car_model_form.html", {"form": form, "car_model": car_model})
