"""Service pages: the repair order list (filters, pagination), opening one by VIN or plate, a
repair order's page (lines and totals, add a line, close, cancel), and the vehicle page's
"Service history" panel.

Every write goes through services.repair_orders.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.bookings.services import dealer_time_zone
from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer
from dealercrm.vehicles.models import Vehicle
from dealercrm.vehicles.panels import VehiclePanel

from ..forms import CloseForm, LineForm, RepairOrderFilterForm, RepairOrderForm
from ..models import RepairOrderStatus
from ..selectors import repair_orders as selectors
from ..services import repair_orders as services
from .appointments import advisors_of, network_dealers

PAGE_SIZE = 50


@staff_view(Perm.VIEW_SERVICE)
def repair_order_list(request: HttpRequest) -> HttpResponse:
    dealer = acting_dealer(request)
    advisors = advisors_of(dealer.pk) if dealer else []
    filters = RepairOrderFilterForm(request.GET or None, advisors=advisors)
    data = filters.cleaned_data if filters.is_valid() else {}
    qs = selectors.repair_order_list(
        request.user,
        dealer_id=dealer.pk if dealer else None,
        status=data.get("status") or "",
        kind=data.get("kind") or "",
        advisor_id=data.get("advisor"),
        opened_from=data.get("opened_from"),
        opened_to=data.get("opened_to"),
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "dealer": dealer,
        "network_dealers": network_dealers(request),
    }
    return render(request, "service/repair_orders/list.html", context)


@staff_view(Perm.WORK_SERVICE)
def repair_order_create(request: HttpRequest) -> HttpResponse:
    """Open a repair order for a car known at the dealer, found by its VIN or plate."""
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    advisors = advisors_of(dealer.pk)
    status = 200
    if request.method == "POST":
        form = RepairOrderForm(request.POST, dealer_id=dealer.pk, advisors=advisors)
        if form.is_valid():
            try:
                repair_order = services.repair_order_open(
                    actor=request.user, dealer_id=dealer.pk, **form.service_kwargs()
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict") and "vin" in exc.error_dict:
                    errors = exc.message_dict
                    errors["car"] = errors.pop("vin")
                    exc = ValidationError(errors)
                apply_service_errors(form, exc)
            else:
                if repair_order.mileage_reading_id and repair_order.mileage_reading.flag:
                    messages.warning(
                        request,
                        _(
                            "Repair order %(number)s opened, but its mileage contradicts the "
                            "car's earlier readings: see the warning."
                        )
                        % {"number": repair_order.number},
                    )
                else:
                    messages.success(
                        request,
                        _("Repair order %(number)s opened.") % {"number": repair_order.number},
                    )
                return redirect("service:repair_order_detail", repair_order_id=repair_order.pk)
        status = 400
    else:
        initial: dict[str, Any] = {}
        if request.GET.get("vehicle", "").isdigit():
            vehicle = Vehicle.objects.filter(
                dealer_id=dealer.pk, pk=int(request.GET["vehicle"])
            ).first()
            if vehicle is not None:
                initial["car"] = vehicle.vin
                initial["mileage_km"] = None
        if request.user.pk in {u.pk for u in advisors}:
            initial["advisor"] = request.user.pk
        form = RepairOrderForm(initial=initial, dealer_id=dealer.pk, advisors=advisors)
    context = {"form": form, "dealer": dealer}
    return render(request, "service/repair_orders/create.html", context, status=status)


ACTIONS = ("add_line", "close", "cancel")


@staff_view(Perm.VIEW_SERVICE)
def repair_order_detail(request: HttpRequest, repair_order_id: int) -> HttpResponse:
    repair_order = selectors.get_repair_order_for_user(request.user, repair_order_id)
    tz = dealer_time_zone(repair_order.dealer_id)
    forms: dict[str, Any] = {"add_line": LineForm(), "close": CloseForm()}
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if not request.user.has_perm(Perm.WORK_SERVICE):
            raise PermissionDenied
        action = request.POST.get("action", "")
        try:
            done = _act(request, repair_order, action, forms, tz)
        except ValidationError as exc:
            done = False
            form = forms.get(action)
            if form is not None:
                apply_service_errors(form, exc)
            else:
                errors.extend(exc.messages)
        if done:
            return redirect("service:repair_order_detail", repair_order_id=repair_order.pk)
        if action not in ACTIONS:
            errors.append(_("Choose what to record."))
        status = 400
    context = {
        "repair_order": repair_order,
        "lines": selectors.repair_order_lines(repair_order),
        "warning": selectors.mileage_warning(repair_order),
        "is_open": repair_order.status == RepairOrderStatus.OPEN,
        "can_work": request.user.has_perm(Perm.WORK_SERVICE),
        "forms": forms,
        "errors": errors,
    }
    return render(request, "service/repair_orders/detail.html", context, status=status)


def _act(
    request: HttpRequest, repair_order: Any, action: str, forms: dict[str, Any], tz: Any
) -> bool:
    user = request.user
    if action == "add_line":
        form = forms["add_line"] = LineForm(request.POST)
        if not form.is_valid():
            return False
        services.repair_order_add_line(actor=user, repair_order=repair_order, **form.cleaned_data)
        messages.success(request, _("Line added."))
        return True
    if action == "close":
        with timezone.override(tz):
            form = forms["close"] = CloseForm(request.POST)
            valid = form.is_valid()
        if not valid:
            return False
        services.repair_order_close(
            actor=user, repair_order=repair_order, closed_at=form.cleaned_data.get("closed_at")
        )
        messages.success(request, _("Repair order closed."))
        return True
    if action == "cancel":
        services.repair_order_cancel(actor=user, repair_order=repair_order)
        messages.success(request, _("Repair order cancelled."))
        return True
    return False


def service_history_panel(request: HttpRequest, vehicle: Vehicle) -> VehiclePanel | None:
    """The vehicle page's "Service history": its repair orders, newest first (one query)."""
    if not request.user.has_perm(Perm.VIEW_SERVICE):
        return None
    return VehiclePanel(
        template="service/repair_orders/_vehicle_history.html",
        context={
            "repair_orders": selectors.vehicle_service_history(vehicle),
            "vehicle": vehicle,
            "can_open": request.user.has_perm(Perm.WORK_SERVICE) and bool(request.user.dealer_id),
        },
        order=20,
    )


urlpatterns: list = [
    path("repair-orders/", repair_order_list, name="repair_order_list"),
    path("repair-orders/new/", repair_order_create, name="repair_order_create"),
    path("repair-orders/<int:repair_order_id>/", repair_order_detail, name="repair_order_detail"),
]
