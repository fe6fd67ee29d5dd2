"""Test-drive pages: the calendar of demo cars (book a free slot for a lead), booking from a
lead, and a test drive's page (licence check, outcome, another time, cancel, no-show).

Every write goes through services.test_drives (which books the car through the bookings app:
a taken slot is refused there, with the reason, and nothing is saved). Times typed into the
forms are the dealer's wall-clock time.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.bookings.services import dealer_time_zone
from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.models import Dealer
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer, visible_dealers
from dealercrm.customers.contact_masking import mask_phone

from ..forms.test_drives import (
    CalendarBookForm,
    CancelForm,
    LicenceForm,
    MoveForm,
    OutcomeForm,
    TestDriveBookForm,
)
from ..models import TestDriveStatus
from ..selectors import test_drives as selectors
from ..services import test_drives as services


def _parse_day(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _calendar_context(
    request: HttpRequest, dealer: Dealer | None, *, form: CalendarBookForm | None = None
) -> dict[str, Any]:
    params = request.POST if request.method == "POST" else request.GET
    day = _parse_day(params.get("day"))
    view = params.get("view", "day")
    context: dict[str, Any] = {
        "dealer": dealer,
        "network_dealers": []
        if request.user.dealer_id
        else list(visible_dealers(request.user).order_by("name")),
    }
    if dealer is None:
        return context
    calendar = selectors.test_drive_calendar(request.user, dealer_id=dealer.pk, day=day, view=view)
    leads = selectors.bookable_leads(request.user, dealer.pk)
    if form is None:
        form = CalendarBookForm(
            cars=[row.car for row in calendar.rows],
            leads=leads,
            initial={"minutes": calendar.test_drive_minutes},
        )
    context.update(calendar=calendar, form=form, has_leads=bool(leads))
    return context


@staff_view(Perm.WORK_LEADS)
def test_drive_calendar(request: HttpRequest) -> HttpResponse:
    """The calendar; a POST books the free slot chosen, for the lead chosen."""
    dealer = acting_dealer(request)
    form = None
    if request.method == "POST" and dealer is not None:
        cars = selectors.demo_cars(dealer.pk)
        leads = selectors.bookable_leads(request.user, dealer.pk)
        with timezone.override(dealer_time_zone(dealer.pk)):
            form = CalendarBookForm(request.POST, cars=cars, leads=leads)
            valid = form.is_valid()
        if valid:
            lead = next((x for x in leads if x.pk == form.cleaned_data["lead"]), None)
            if lead is None:
                form.add_error("lead", _("Choose one of your open leads."))
            else:
                try:
                    test_drive = services.test_drive_book(
                        actor=request.user, lead=lead, **form.service_kwargs()
                    )
                except ValidationError as exc:
                    apply_service_errors(form, exc)
                else:
                    messages.success(request, _("Test drive booked."))
                    return redirect("sales:test_drive", test_drive_id=test_drive.pk)
    context = _calendar_context(request, dealer, form=form)
    context["booking_failed"] = form is not None
    name = "sales/test_drives/calendar.html"
    status = 400 if form is not None else 200
    if request.htmx and request.method == "GET":
        return render(request, f"{name}#grid", context)
    return render(request, name, context, status=status)


@staff_view(Perm.WORK_LEADS)
def test_drive_book(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.get_lead_for_test_drive(request.user, lead_id)
    cars = selectors.demo_cars(lead.dealer_id)
    tz = dealer_time_zone(lead.dealer_id)
    if request.method == "POST":
        with timezone.override(tz):
            form = TestDriveBookForm(request.POST, cars=cars)
            valid = form.is_valid()
        if valid:
            try:
                test_drive = services.test_drive_book(
                    actor=request.user, lead=lead, **form.service_kwargs()
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Test drive booked."))
                return redirect("sales:test_drive", test_drive_id=test_drive.pk)
    else:
        initial: dict[str, Any] = {
            "minutes": services.policy_test_drive_minutes(lead.dealer_id),
            "demo_car": request.GET.get("car") or None,
        }
        start = request.GET.get("start")
        if start:
            initial["starts_at"] = start
        form = TestDriveBookForm(initial=initial, cars=cars)
    context = {
        "lead": lead,
        "form": form,
        "has_cars": bool(cars),
        "day_calendar": reverse("sales:test_drives"),
    }
    return render(request, "sales/test_drives/book.html", context)


ACTIONS = ("licence", "complete", "cancel", "no_show", "move")


@staff_view(Perm.WORK_LEADS)
def test_drive_detail(request: HttpRequest, test_drive_id: int) -> HttpResponse:
    test_drive = selectors.get_test_drive_for_user(request.user, test_drive_id)
    tz = dealer_time_zone(test_drive.dealer_id)
    forms: dict[str, Any] = {
        "licence": LicenceForm(initial={"valid_until": test_drive.licence_valid_until}),
        "complete": OutcomeForm(),
        "cancel": CancelForm(),
        "move": MoveForm(
            initial={"starts_at": test_drive.starts_at.astimezone(tz).replace(tzinfo=None)}
        ),
    }
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            done = _act(request, test_drive, action, forms, tz)
        except ValidationError as exc:
            done = False
            form = forms.get(action)
            if form is not None:
                apply_service_errors(form, exc)
            else:
                errors.extend(exc.messages)
        if done:
            return redirect("sales:test_drive", test_drive_id=test_drive.pk)
        if action not in ACTIONS:
            errors.append(_("Choose what to record."))
        status = 400
    context = {
        "test_drive": test_drive,
        "lead": test_drive.lead,
        "phone": mask_phone(test_drive.customer_phone) if test_drive.customer_phone else "",
        "local_start": test_drive.starts_at.astimezone(tz),
        "local_end": test_drive.ends_at.astimezone(tz),
        "is_open": test_drive.status == TestDriveStatus.SCHEDULED,
        "forms": forms,
        "errors": errors,
        "open_action": request.POST.get("action", "") if request.method == "POST" else "",
    }
    return render(request, "sales/test_drives/detail.html", context, status=status)


def _act(
    request: HttpRequest,
    test_drive,
    action: str,
    forms: dict[str, Any],
    tz,  # noqa: ANN001
) -> bool:
    """Run the action posted; True when it was done (the page then redirects)."""
    user = request.user
    if action == "licence":
        form = forms["licence"] = LicenceForm(request.POST)
        if not form.is_valid():
            return False
        services.test_drive_licence_check(
            actor=user, test_drive=test_drive, valid_until=form.cleaned_data["valid_until"]
        )
        messages.success(request, _("Driving licence check recorded."))
        return True
    if action == "complete":
        form = forms["complete"] = OutcomeForm(request.POST)
        if not form.is_valid():
            return False
        services.test_drive_complete(actor=user, test_drive=test_drive, **form.service_kwargs())
        messages.success(request, _("Test drive recorded as driven."))
        return True
    if action == "cancel":
        form = forms["cancel"] = CancelForm(request.POST)
        if not form.is_valid():
            return False
        services.test_drive_cancel(
            actor=user, test_drive=test_drive, reason=form.cleaned_data.get("reason") or ""
        )
        messages.success(request, _("Test drive cancelled; the car is free again."))
        return True
    if action == "no_show":
        services.test_drive_no_show(actor=user, test_drive=test_drive)
        messages.success(request, _("Recorded: the customer did not come."))
        return True
    if action == "move":
        with timezone.override(tz):
            form = forms["move"] = MoveForm(request.POST)
            valid = form.is_valid()
        if not valid:
            return False
        services.test_drive_move(
            actor=user, test_drive=test_drive, starts_at=form.cleaned_data["starts_at"]
        )
        messages.success(request, _("Test drive moved."))
        return True
    return False


urlpatterns: list = [
    path("test-drives/", test_drive_calendar, name="test_drives"),
    path("test-drives/<int:test_drive_id>/", test_drive_detail, name="test_drive"),
    path("leads/<int:lead_id>/test-drive/", test_drive_book, name="test_drive_book"),
]
