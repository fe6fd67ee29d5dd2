"""Roadside rescue pages: the list (open first, with the time since the call, and the average
durations), logging a call (the caller found by phone or plate with the one-box search, or
typed in), and a rescue's page with a button for each step."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealercrm.core.access import staff_view
from dealercrm.core.forms import StyledForm, apply_service_errors
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.models import Customer
from dealercrm.vehicles.models import Vehicle

from ..models import RescueOutcome, RescueProblem, RescueStatus
from ..selectors import rescue as selectors
from ..services import rescue as services


class RescueForm(StyledForm):
    customer = forms.IntegerField(required=False, widget=forms.HiddenInput)
    vehicle = forms.TypedChoiceField(
        label=gettext_lazy("Vehicle"), coerce=int, required=False, empty_value=None
    )
    caller_name = forms.CharField(label=gettext_lazy("Caller"), max_length=50, required=False)
    caller_phone = forms.CharField(label=gettext_lazy("Call-back number"), max_length=30)
    location = forms.CharField(label=gettext_lazy("Location"), max_length=300)
    problem = forms.ChoiceField(label=gettext_lazy("Problem"), choices=RescueProblem.choices)
    description = forms.CharField(
        label=gettext_lazy("Details"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )

    def __init__(self, *args, vehicles=(), **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["vehicle"].choices = [("", "—")] + [
            (v.pk, f"{v.plate or v.vin}") for v in vehicles
        ]


class DispatchForm(StyledForm):
    responder = forms.TypedChoiceField(
        label=gettext_lazy("Technician"), coerce=int, required=False, empty_value=None
    )
    partner = forms.CharField(
        label=gettext_lazy("or a partner (name, phone)"), max_length=100, required=False
    )

    def __init__(self, *args, people=(), **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["responder"].choices = [("", "—")] + [(u.pk, str(u)) for u in people]


class FinishForm(StyledForm):
    outcome = forms.ChoiceField(label=gettext_lazy("Outcome"), choices=RescueOutcome.choices)
    note = forms.CharField(
        label=gettext_lazy("Notes"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    open_repair_order = forms.BooleanField(
        label=gettext_lazy("Open a repair order (towed to our workshop)"), required=False
    )


@staff_view(Perm.WORK_RESCUE)
def rescue_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    page = Paginator(selectors.rescue_list(status=status), 30).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        {
            "rescue": rescue,
            "elapsed": selectors.format_duration((rescue.done_at or now) - rescue.called_at),
            "open": rescue.status in selectors.OPEN_STATUSES,
            "phone": mask_phone(rescue.caller_phone) if rescue.caller_phone else "",
        }
        for rescue in page
    ]
    averages = selectors.rescue_averages(now=now)
    context = {
        "page": page,
        "rows": rows,
        "status": status,
        "statuses": [("open", _("Open"))] + list(RescueStatus.choices),
        "query": urlencode({"status": status}) if status else "",
        "averages": averages,
        "average_cells": [
            (_("Call → dispatched"), selectors.format_duration(averages.to_dispatch)),
            (_("Dispatched → on site"), selectors.format_duration(averages.to_arrive)),
            (_("On site → done"), selectors.format_duration(averages.on_site)),
            (_("Call → done"), selectors.format_duration(averages.total)),
        ],
        "average_days": selectors.AVERAGE_DAYS,
    }
    return render(request, "service/rescue/list.html", context)


def _chosen_customer(dealer_id: int, value: str | None) -> Customer | None:
    try:
        customer_id = int(value or 0)
    except ValueError:
        return None
    if not customer_id:
        return None
    return Customer.objects.filter(dealer_id=dealer_id, pk=customer_id, is_deleted=False).first()


@staff_view(Perm.WORK_RESCUE)
def rescue_create(request: HttpRequest) -> HttpResponse:
    """Log a call. `?q=` finds the caller by phone or plate (the one-box search); choosing a
    hit fills in the customer and their cars."""
    from dealercrm.search.selectors import search_customers

    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    params = request.POST if request.method == "POST" else request.GET
    customer = _chosen_customer(dealer.pk, params.get("customer"))
    vehicles = (
        list(Vehicle.objects.filter(dealer_id=dealer.pk, owner_id=customer.pk).order_by("id"))
        if customer
        else []
    )
    query = request.GET.get("q", "").strip()
    hits = (
        [h for h in search_customers(request.user, query) if h.dealer_id == dealer.pk]
        if query
        else []
    )
    status = 200
    if request.method == "POST":
        form = RescueForm(request.POST, vehicles=vehicles)
        if form.is_valid():
            data = form.cleaned_data
            vehicle = next((v for v in vehicles if v.pk == data["vehicle"]), None)
            try:
                rescue = services.rescue_create(
                    actor=request.user,
                    dealer_id=dealer.pk,
                    customer=customer,
                    vehicle=vehicle,
                    caller_name=data["caller_name"],
                    caller_phone=data["caller_phone"],
                    location=data["location"],
                    problem=data["problem"],
                    description=data["description"],
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Rescue call logged."))
                return redirect("service:rescue_detail", rescue_id=rescue.pk)
        status = 400
    else:
        initial = {}
        if customer is not None:
            primary = customer.phones.order_by("-is_primary", "id").first()
            initial = {
                "customer": customer.pk,
                "caller_name": customer.name,
                "caller_phone": primary.number if primary else "",
            }
            vin = request.GET.get("vin", "")
            chosen = next((v for v in vehicles if vin and v.vin == vin), None)
            if chosen is None and len(vehicles) == 1:
                chosen = vehicles[0]
            if chosen is not None:
                initial["vehicle"] = chosen.pk
        form = RescueForm(initial=initial, vehicles=vehicles)
    context = {"form": form, "customer": customer, "query": query, "hits": hits, "dealer": dealer}
    return render(request, "service/rescue/create.html", context, status=status)


ACTIONS = ("dispatch", "arrive", "finish")


@staff_view(Perm.WORK_RESCUE)
def rescue_detail(request: HttpRequest, rescue_id: int) -> HttpResponse:
    rescue = selectors.get_rescue_for_user(request.user, rescue_id)
    people = list(selectors.technicians(rescue.dealer_id))
    forms_ = {
        "dispatch": DispatchForm(people=people),
        "finish": FinishForm(),
    }
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "dispatch":
                form = forms_["dispatch"] = DispatchForm(request.POST, people=people)
                if form.is_valid():
                    responder = next(
                        (u for u in people if u.pk == form.cleaned_data["responder"]), None
                    )
                    services.rescue_dispatch(
                        actor=request.user,
                        rescue=rescue,
                        responder=responder,
                        partner=form.cleaned_data["partner"],
                    )
                    messages.success(request, _("Dispatch recorded."))
                    return redirect("service:rescue_detail", rescue_id=rescue.pk)
            elif action == "arrive":
                services.rescue_arrive(actor=request.user, rescue=rescue)
                messages.success(request, _("Arrival on site recorded."))
                return redirect("service:rescue_detail", rescue_id=rescue.pk)
            elif action == "finish":
                form = forms_["finish"] = FinishForm(request.POST)
                if form.is_valid():
                    services.rescue_finish(actor=request.user, rescue=rescue, **form.cleaned_data)
                    messages.success(request, _("Rescue finished."))
                    return redirect("service:rescue_detail", rescue_id=rescue.pk)
            else:
                errors.append(_("Choose what to record."))
        except ValidationError as exc:
            form = forms_.get(action)
            if form is not None and hasattr(form, "cleaned_data"):
                apply_service_errors(form, exc)
            else:
                errors.extend(exc.messages)
        status = 400
    spans = selectors.durations(rescue)
    context = {
        "rescue": rescue,
        "forms": forms_,
        "errors": errors,
        "phone": mask_phone(rescue.caller_phone) if rescue.caller_phone else "",
        "steps": [
            (_("Call received"), rescue.called_at, None),
            (
                _("Dispatched"),
                rescue.dispatched_at,
                selectors.format_duration(spans["to_dispatch"]),
            ),
            (_("On site"), rescue.arrived_at, selectors.format_duration(spans["to_arrive"])),
            (
                _("Cancelled") if rescue.status == RescueStatus.CANCELLED else _("Done"),
                rescue.done_at,
                selectors.format_duration(spans["on_site"]),
            ),
        ],
        "total": selectors.format_duration(spans["total"]),
        "is_open": rescue.status in selectors.OPEN_STATUSES,
    }
    return render(request, "service/rescue/detail.html", context, status=status)


urlpatterns = [
    path("rescue/", rescue_list, name="rescue_list"),
    path("rescue/new/", rescue_create, name="rescue_create"),
    path("rescue/<int:rescue_id>/", rescue_detail, name="rescue_detail"),
]
