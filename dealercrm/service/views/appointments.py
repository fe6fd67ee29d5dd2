"""Service pages: the workshop settings, the service calendar (bays × slots; a free slot books in
one click), the appointment list, booking, and an appointment's page (cancel, move, arrive,
no-show).

Every write goes through services.appointments (and, through it, the bookings app: a taken bay
is refused there). Times typed into the forms are the dealer's wall-clock time.
"""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.bookings.models import Resource, ResourceKind
from dealercrm.bookings.services import dealer_time_zone
from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.models import Dealer, User
from dealercrm.core.permissions import ROLE_PERMISSIONS, Perm
from dealercrm.core.scoping import acting_dealer, visible_dealers
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.models import Customer
from dealercrm.vehicles.models import Vehicle

from ..forms import (
    AppointmentFilterForm,
    AppointmentForm,
    ArriveForm,
    CancelForm,
    MoveForm,
    PolicyForm,
)
from ..models import AppointmentStatus
from ..selectors import appointments as selectors
from ..services import appointments as services
from ..services.policy import POLICY_FIELDS, policy_for_dealer, service_policy_update

PAGE_SIZE = 50
ADVISOR_ROLES = [role for role, perms in ROLE_PERMISSIONS.items() if Perm.WORK_SERVICE in perms]


def _parse_day(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def network_dealers(request: HttpRequest) -> list[Dealer]:
    return [] if request.user.dealer_id else list(visible_dealers(request.user).order_by("name"))


def advisors_of(dealer_id: int) -> list[User]:
    return list(
        User.objects.filter(dealer_id=dealer_id, is_active=True, role__in=ADVISOR_ROLES).order_by(
            "display_name", "id"
        )
    )


def resources_of(dealer_id: int, kind: str) -> list[Resource]:
    return list(
        Resource.objects.filter(dealer_id=dealer_id, kind=kind, is_active=True).order_by(
            "name", "id"
        )
    )


def _booking_form(
    dealer: Dealer,
    data: Any = None,
    *,
    customer: Customer | None = None,
    vehicles: list[Vehicle] | None = None,
    initial: dict[str, Any] | None = None,
) -> AppointmentForm:
    return AppointmentForm(
        data,
        initial=initial,
        dealer_id=dealer.pk,
        vehicles=vehicles or [],
        advisors=advisors_of(dealer.pk),
        bays=resources_of(dealer.pk, ResourceKind.SERVICE_BAY),
        loan_cars=resources_of(dealer.pk, ResourceKind.LOAN_CAR),
    )


def _book(request: HttpRequest, form: AppointmentForm, customer: Customer | None) -> Any:
    """Book from a valid form; the appointment, or None with the service's errors on the form."""
    kwargs = form.service_kwargs()
    if customer is None:
        vehicle = kwargs["vehicle"]
        customer = Customer.objects.get(dealer_id=vehicle.dealer_id, pk=vehicle.owner_id)
    try:
        return services.appointment_create(actor=request.user, customer=customer, **kwargs)
    except ValidationError as exc:
        apply_service_errors(form, exc)
        return None


# --- settings ----------------------------------------------------------------------------------


@staff_view(Perm.MANAGE_SERVICE)
def policy(request: HttpRequest) -> HttpResponse:
    """The workshop's hours, slot length and appointments per day."""
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    current = policy_for_dealer(dealer.pk)
    initial = {name: getattr(current, name) for name in POLICY_FIELDS}
    initial["open_weekdays"] = [str(d) for d in current.open_weekdays]
    status = 200
    if request.method == "POST":
        form = PolicyForm(request.POST, initial=initial)
        if form.is_valid():
            try:
                service_policy_update(
                    actor=request.user, dealer_id=dealer.pk, **form.service_kwargs()
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Workshop settings saved."))
                url = request.path + (f"?dealer={dealer.pk}" if not request.user.dealer_id else "")
                return redirect(url)
        status = 400
    else:
        form = PolicyForm(initial=initial)
    context = {"form": form, "dealer": dealer, "dealers": network_dealers(request)}
    return render(request, "service/appointments/policy.html", context, status=status)


# --- the calendar ------------------------------------------------------------------------------


def _calendar_context(
    request: HttpRequest, dealer: Dealer | None, *, form: AppointmentForm | None = None
) -> dict[str, Any]:
    params = request.POST if request.method == "POST" else request.GET
    day = _parse_day(params.get("day"))
    context: dict[str, Any] = {
        "dealer": dealer,
        "network_dealers": network_dealers(request),
        "can_book": request.user.has_perm(Perm.WORK_SERVICE),
    }
    if dealer is None:
        return context
    calendar = selectors.day_calendar(
        request.user, dealer_id=dealer.pk, day=day, view=params.get("view", "day")
    )
    if form is None and context["can_book"]:
        form = _booking_form(dealer, initial={"minutes": calendar.slot_minutes})
    context.update(calendar=calendar, form=form)
    return context


@staff_view(Perm.VIEW_SERVICE)
def calendar(request: HttpRequest) -> HttpResponse:
    """The service calendar; a POST books the free slot chosen, for the car typed."""
    dealer = acting_dealer(request)
    form = None
    if request.method == "POST" and dealer is not None:
        if not request.user.has_perm(Perm.WORK_SERVICE):
            raise PermissionDenied
        with timezone.override(dealer_time_zone(dealer.pk)):
            form = _booking_form(dealer, request.POST)
            valid = form.is_valid()
        if valid:
            appointment = _book(request, form, None)
            if appointment is not None:
                messages.success(request, _("Appointment booked."))
                return redirect("service:appointment_detail", appointment_id=appointment.pk)
    context = _calendar_context(request, dealer, form=form)
    context["booking_failed"] = form is not None
    name = "service/calendar/calendar.html"
    if request.htmx and request.method == "GET":
        return render(request, f"{name}#grid", context)
    return render(request, name, context, status=400 if form is not None else 200)


# --- appointments ------------------------------------------------------------------------------


@staff_view(Perm.VIEW_SERVICE)
def appointment_list(request: HttpRequest) -> HttpResponse:
    dealer = acting_dealer(request)
    filters = AppointmentFilterForm(request.GET or None)
    data = filters.cleaned_data if filters.is_valid() else {}
    today = timezone.now().astimezone(dealer_time_zone(dealer.pk)).date() if dealer else None
    qs = selectors.appointment_list(
        request.user,
        dealer_id=dealer.pk if dealer else None,
        status=data.get("status") or "",
        day_from=data.get("day_from") or (today if not request.GET else None),
        day_to=data.get("day_to"),
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page") or 1)
    for appointment in page:
        appointment.phone_masked = (
            mask_phone(appointment.customer_phone) if appointment.customer_phone else ""
        )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "dealer": dealer,
        "network_dealers": network_dealers(request),
    }
    return render(request, "service/appointments/list.html", context)


@staff_view(Perm.WORK_SERVICE)
def appointment_create(request: HttpRequest) -> HttpResponse:
    """Book for a customer (?customer=<id>&vehicle=<id>), or for the car whose plate is typed."""
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    params = request.POST if request.method == "POST" else request.GET
    customer = None
    vehicles: list[Vehicle] = []
    customer_id = params.get("customer")
    if customer_id:
        try:
            customer = Customer.objects.get(dealer_id=dealer.pk, pk=int(customer_id))
        except (Customer.DoesNotExist, TypeError, ValueError) as exc:
            raise Http404 from exc
        vehicles = list(
            Vehicle.objects.filter(dealer_id=dealer.pk, owner_id=customer.pk)
            .select_related("car_model")
            .order_by("-id")
        )
    tz = dealer_time_zone(dealer.pk)
    status = 200
    if request.method == "POST":
        with timezone.override(tz):
            form = _booking_form(dealer, request.POST, customer=customer, vehicles=vehicles)
            valid = form.is_valid()
        if valid:
            appointment = _book(request, form, customer)
            if appointment is not None:
                messages.success(request, _("Appointment booked."))
                return redirect("service:appointment_detail", appointment_id=appointment.pk)
        status = 400
    else:
        initial: dict[str, Any] = {"customer": customer.pk if customer else None}
        vehicle_id = params.get("vehicle")
        if vehicle_id and vehicle_id.isdigit():
            initial["vehicle"] = int(vehicle_id)
        elif len(vehicles) == 1:
            initial["vehicle"] = vehicles[0].pk
        for name in ("starts_at", "bay", "car"):
            if params.get(name):
                initial[name] = params[name]
        form = _booking_form(dealer, customer=customer, vehicles=vehicles, initial=initial)
    context = {"form": form, "customer": customer, "dealer": dealer}
    return render(request, "service/appointments/create.html", context, status=status)


ACTIONS = ("cancel", "move", "arrive", "no_show")


def _act(
    request: HttpRequest,
    appointment: Any,
    action: str,
    forms: dict[str, Any],
    tz: zoneinfo.ZoneInfo,
    bays: list[Resource],
) -> Any:
    """Run the action posted: a URL to go to when done, else None."""
    user = request.user
    if action == "cancel":
        form = forms["cancel"] = CancelForm(request.POST)
        if not form.is_valid():
            return None
        services.appointment_cancel(
            actor=user, appointment=appointment, reason=form.cleaned_data.get("reason") or ""
        )
        messages.success(request, _("Appointment cancelled; the bay is free again."))
    elif action == "move":
        with timezone.override(tz):
            form = forms["move"] = MoveForm(request.POST, bays=bays)
            valid = form.is_valid()
        if not valid:
            return None
        services.appointment_move(
            actor=user,
            appointment=appointment,
            starts_at=form.cleaned_data["starts_at"],
            bay=form.bay_resource(),
        )
        messages.success(request, _("Appointment moved."))
    elif action == "arrive":
        form = forms["arrive"] = ArriveForm(request.POST)
        if not form.is_valid():
            return None
        repair_order = services.appointment_arrive(
            actor=user, appointment=appointment, mileage_km=form.cleaned_data.get("mileage_km")
        )
        messages.success(
            request,
            _("The car is here: repair order %(number)s opened.") % {"number": repair_order.number},
        )
        return reverse("service:repair_order_detail", kwargs={"repair_order_id": repair_order.pk})
    elif action == "no_show":
        services.appointment_no_show(actor=user, appointment=appointment)
        messages.success(request, _("Recorded: the customer did not come."))
    else:
        return None
    return reverse("service:appointment_detail", kwargs={"appointment_id": appointment.pk})


@staff_view(Perm.VIEW_SERVICE)
def appointment_detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    appointment = selectors.get_appointment_for_user(request.user, appointment_id)
    tz = dealer_time_zone(appointment.dealer_id)
    bays = resources_of(appointment.dealer_id, ResourceKind.SERVICE_BAY)
    forms: dict[str, Any] = {
        "cancel": CancelForm(),
        "move": MoveForm(
            initial={"starts_at": appointment.starts_at.astimezone(tz).replace(tzinfo=None)},
            bays=bays,
        ),
        "arrive": ArriveForm(
            initial={
                "mileage_km": appointment.vehicle.current_mileage_km
                if appointment.vehicle_id
                else None
            }
        ),
    }
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if not request.user.has_perm(Perm.WORK_SERVICE):
            raise PermissionDenied
        action = request.POST.get("action", "")
        try:
            url = _act(request, appointment, action, forms, tz, bays)
        except ValidationError as exc:
            url = None
            form = forms.get(action)
            if form is not None:
                apply_service_errors(form, exc)
            else:
                errors.extend(exc.messages)
        if url:
            return redirect(url)
        if action not in ACTIONS:
            errors.append(_("Choose what to record."))
        status = 400
    repair_order = (
        getattr(appointment, "repair_order", None)
        if appointment.status == AppointmentStatus.ARRIVED
        else None
    )
    context = {
        "appointment": appointment,
        "phone": mask_phone(appointment.customer_phone) if appointment.customer_phone else "",
        "local_start": appointment.starts_at.astimezone(tz),
        "local_end": appointment.ends_at.astimezone(tz),
        "is_open": appointment.status == AppointmentStatus.BOOKED,
        "can_work": request.user.has_perm(Perm.WORK_SERVICE),
        "forms": forms,
        "errors": errors,
        "repair_order": repair_order,
        "open_action": request.POST.get("action", "") if request.method == "POST" else "",
    }
    return render(request, "service/appointments/detail.html", context, status=status)


urlpatterns: list = [
    path("settings/", policy, name="policy"),
    path("calendar/", calendar, name="calendar"),
    path("appointments/", appointment_list, name="appointment_list"),
    path("appointments/new/", appointment_create, name="appointment_create"),
    path("appointments/<int:appointment_id>/", appointment_detail, name="appointment_detail"),
]
