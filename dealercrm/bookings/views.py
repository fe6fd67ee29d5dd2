"""Resource pages: the dealer's demo cars (and, later, service bays and loan cars).

Everyone who books sees the list; only managers and the dealer's administrator change it. The
calendar of demo cars is the sales app's test-drive page.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.models import Dealer
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import visible_dealers

from . import selectors, services
from .forms import ResourceForm
from .models import ResourceKind


def _network_dealers(request: HttpRequest) -> list[Dealer]:
    """The dealers a user without a dealer of their own (system administrator) picks from."""
    return [] if request.user.dealer_id else list(visible_dealers(request.user).order_by("name"))


@staff_view(Perm.VIEW_RESOURCES)
def resource_list(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    resources = list(selectors.resource_list(request.user, kind=kind))
    context = {
        "resources": resources,
        "kind": kind if kind in ResourceKind.values else "",
        "kinds": ResourceKind.choices,
        "can_manage": request.user.has_perm(Perm.MANAGE_RESOURCES),
        "show_dealer": not request.user.dealer_id,
    }
    name = "bookings/resource_list.html"
    return render(request, f"{name}#results" if request.htmx else name, context)


@staff_view(Perm.MANAGE_RESOURCES)
def resource_create(request: HttpRequest) -> HttpResponse:
    dealers = _network_dealers(request)
    if request.method == "POST":
        form = ResourceForm(request.POST, user=request.user, dealers=dealers)
        if form.is_valid():
            dealer = form.cleaned_data.get("dealer")
            dealer_id = dealer.pk if dealer is not None else request.user.dealer_id
            try:
                resource = services.resource_create(
                    actor=request.user, dealer_id=dealer_id, **form.service_kwargs()
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("%(name)s saved.") % {"name": resource.name})
                return redirect("bookings:resources")
    else:
        initial = {
            "kind": request.GET.get("kind") or ResourceKind.DEMO_CAR,
            "opens_at": "09:00",
            "closes_at": "18:00",
            "is_active": True,
        }
        form = ResourceForm(initial=initial, user=request.user, dealers=dealers)
    return render(request, "bookings/resource_form.html", {"form": form, "resource": None})


@staff_view(Perm.MANAGE_RESOURCES)
def resource_edit(request: HttpRequest, resource_id: int) -> HttpResponse:
    resource = selectors.get_resource_for_user(request.user, resource_id)
    if request.method == "POST":
        form = ResourceForm(request.POST, user=request.user)
        if form.is_valid():
            try:
                resource = services.resource_update(
                    actor=request.user, resource=resource, **form.service_kwargs()
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("%(name)s saved.") % {"name": resource.name})
                return redirect("bookings:resources")
    else:
        form = ResourceForm(initial=ResourceForm.initial_for(resource), user=request.user)
    return render(request, "bookings/resource_form.html", {"form": form, "resource": resource})
