"""Complaint pages: the list (filters, SLA timers), one complaint with its handling panels and
steps, and intake (dealer staff for their dealer; the brand hotline for a dealer of the brand).

One template per page with named partials; an HTMX request gets the partial. Each handling
panel posts to its own URL and answers the complaint's handling block again (HTMX) or
redirects to the complaint (a plain form post).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer, visible_dealers
from dealercrm.customers.selectors import get_customer_for_user

from ..forms.complaints import (
    AnalysisForm,
    AssignForm,
    ComplaintCreateForm,
    ContactForm,
    FollowUpForm,
    SolutionForm,
)
from ..models import (
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintSeverity,
    ComplaintStatus,
)
from ..selectors import complaints as selectors
from ..services import handling
from ..services.intake import complaint_handlers, complaint_open
from ..services.sla import sla_terms_for_dealers

LIST = "feedback/complaint_list.html"
DETAIL = "feedback/complaint_detail.html"
CREATE = "feedback/complaint_create.html"


@staff_view(Perm.VIEW_COMPLAINTS)
def complaint_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    filters = selectors.ComplaintFilters.from_params(request.GET)
    page = selectors.complaint_page(user, filters, page=request.GET.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "complaints": page.object_list,
        "filters": filters,
        "query": query.urlencode(),
        "statuses": ComplaintStatus.choices,
        "channels": ComplaintChannel.choices,
        "categories": ComplaintCategory.choices,
        "severities": ComplaintSeverity.choices,
        "network": not user.dealer_id,
        "now": timezone.now(),
        # The dealers' warning windows for the timers, one query for the page.
        "sla_terms": sla_terms_for_dealers({c.dealer_id for c in page.object_list}),
    }
    if request.htmx and request.headers.get("HX-Target") == "complaint-results":
        return render(request, f"{LIST}#results", context)
    if not user.dealer_id:
        context["dealers"] = list(visible_dealers(user).order_by("name"))
    return render(request, LIST, context)


# --- one complaint ------------------------------------------------------------------------------


def _choices(users: list[User]) -> list[tuple[int, str]]:
    return [(u.pk, str(u)) for u in users]


def _can_work(user: User, complaint: Complaint) -> bool:
    return user.has_perm(Perm.WORK_COMPLAINTS) and (
        not user.dealer_id or user.dealer_id == complaint.dealer_id
    )


def _source_url(user: User, complaint: Complaint) -> str:
    if not user.dealer_id:
        return ""
    if complaint.source_kind == "care.occurrence" and complaint.source_id.isdigit():
        try:
            return reverse("care:task", kwargs={"occurrence_id": int(complaint.source_id)})
        except NoReverseMatch:
            return ""
    return ""


def _detail_context(request: HttpRequest, complaint: Complaint, **forms: Any) -> dict[str, Any]:
    user = request.user
    status = complaint.status
    can_work = _can_work(user, complaint)
    open_ = status != ComplaintStatus.CLOSED
    version = {"version": complaint.version}
    handlers = _choices(complaint_handlers(complaint.dealer_id)) if can_work and open_ else []
    context: dict[str, Any] = {
        "complaint": complaint,
        "events": selectors.complaint_events(complaint),
        "source_url": _source_url(user, complaint),
        "can_work": can_work,
        "can_reveal": user.has_perm(Perm.VIEW_FULL_CONTACT) and bool(user.dealer_id),
        "link_records": bool(user.dealer_id),
        "show_contact": can_work and open_,
        "show_solution": can_work and status in (ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS),
        "show_analysis": can_work and open_,
        "show_assign": can_work and open_,
        "show_follow_up": can_work and status == ComplaintStatus.SOLVED,
        "now": timezone.now(),
        "sla_terms": sla_terms_for_dealers([complaint.dealer_id]),
    }
    context["contact_form"] = forms.get("contact_form") or ContactForm(initial=version)
    context["solution_form"] = forms.get("solution_form") or SolutionForm(
        initial={**version, "solution": complaint.solution}
    )
    context["analysis_form"] = forms.get("analysis_form") or AnalysisForm(
        initial={
            **version,
            "root_cause": complaint.root_cause,
            "root_cause_detail": complaint.root_cause_detail,
            "corrective_action": complaint.corrective_action,
            "preventive_action": complaint.preventive_action,
        }
    )
    context["assign_form"] = forms.get("assign_form") or AssignForm(
        initial={**version, "handler_id": complaint.handler_id}, handlers=handlers
    )
    context["follow_up_form"] = forms.get("follow_up_form") or FollowUpForm(initial=version)
    context["saved"] = forms.get("saved", "")
    # A refused post shows its panel with the reason, whatever the status now allows.
    for name in ("contact", "solution", "analysis", "assign", "follow_up"):
        if forms.get(f"{name}_form") is not None:
            context[f"show_{name}"] = True
    return context


@staff_view(Perm.VIEW_COMPLAINTS)
def complaint_detail(request: HttpRequest, complaint_id: int) -> HttpResponse:
    """GET: the complaint. POST reveal=1 (Perm.VIEW_FULL_CONTACT): the customer's full phones,
    audit-logged by the customers service, in the contact block."""
    complaint = selectors.get_complaint_for_user(request.user, complaint_id)
    if request.method == "POST":
        if request.POST.get("reveal") != "1":
            return HttpResponseNotAllowed(["GET"])
        if not request.user.has_perm(Perm.VIEW_FULL_CONTACT) or not request.user.dealer_id:
            raise PermissionDenied
        from dealercrm.customers.services import customer_contact_reveal

        revealed = customer_contact_reveal(
            actor=request.user, customer=complaint.customer, request=request
        )
        return render(
            request,
            f"{DETAIL}#contact",
            {"complaint": complaint, "revealed": revealed, "can_reveal": True},
        )
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    context = _detail_context(request, complaint)
    if request.htmx and request.headers.get("HX-Target") == "complaint-handling":
        return render(request, f"{DETAIL}#handling", context)
    return render(request, DETAIL, context)


def _handle(
    request: HttpRequest,
    complaint_id: int,
    form_name: str,
    make_form: Callable[[Complaint, Any], Any],
    act: Callable[[Complaint, Any], Complaint],
    done: str,
) -> HttpResponse:
    """The common shape of a handling panel's POST: bind, call the service, answer."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    complaint = selectors.get_complaint_for_user(request.user, complaint_id)
    if not _can_work(request.user, complaint):
        raise PermissionDenied
    form = make_form(complaint, request.POST)
    if form.is_valid():
        try:
            act(complaint, form)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if not request.htmx:
                messages.success(request, done)
                return redirect("feedback:complaint", complaint_id=complaint.pk)
            fresh = selectors.get_complaint_for_user(request.user, complaint.pk)
            return render(
                request, f"{DETAIL}#handling", _detail_context(request, fresh, saved=done)
            )
    context = _detail_context(request, complaint, **{form_name: form})
    if request.htmx:
        return render(request, f"{DETAIL}#handling", context)
    return render(request, DETAIL, context, status=400)


def _version(form: Any) -> int | None:
    return form.cleaned_data.get("version")


@staff_view(Perm.WORK_COMPLAINTS)
def complaint_contact(request: HttpRequest, complaint_id: int) -> HttpResponse:
    return _handle(
        request,
        complaint_id,
        "contact_form",
        lambda c, data: ContactForm(data),
        lambda c, f: handling.complaint_contact_log(
            actor=request.user,
            complaint=c,
            channel=f.cleaned_data["channel"],
            note=f.cleaned_data["note"],
            at=f.cleaned_data.get("at"),
            version=_version(f),
        ),
        _("Contact logged."),
    )


@staff_view(Perm.WORK_COMPLAINTS)
def complaint_solution(request: HttpRequest, complaint_id: int) -> HttpResponse:
    return _handle(
        request,
        complaint_id,
        "solution_form",
        lambda c, data: SolutionForm(data),
        lambda c, f: handling.complaint_solution_record(
            actor=request.user,
            complaint=c,
            solution=f.cleaned_data["solution"],
            accepted=f.accepted_value(),
            version=_version(f),
        ),
        _("Solution recorded."),
    )


@staff_view(Perm.WORK_COMPLAINTS)
def complaint_analysis(request: HttpRequest, complaint_id: int) -> HttpResponse:
    return _handle(
        request,
        complaint_id,
        "analysis_form",
        lambda c, data: AnalysisForm(data),
        lambda c, f: handling.complaint_analysis_record(
            actor=request.user,
            complaint=c,
            root_cause=f.cleaned_data.get("root_cause") or "",
            root_cause_detail=f.cleaned_data.get("root_cause_detail") or "",
            corrective_action=f.cleaned_data.get("corrective_action") or "",
            preventive_action=f.cleaned_data.get("preventive_action") or "",
            version=_version(f),
        ),
        _("Root cause and actions recorded."),
    )


@staff_view(Perm.WORK_COMPLAINTS)
def complaint_assign(request: HttpRequest, complaint_id: int) -> HttpResponse:
    return _handle(
        request,
        complaint_id,
        "assign_form",
        lambda c, data: AssignForm(data, handlers=_choices(complaint_handlers(c.dealer_id))),
        lambda c, f: handling.complaint_assign(
            actor=request.user,
            complaint=c,
            handler_id=f.cleaned_data["handler_id"],
            version=_version(f),
        ),
        _("Complaint assigned."),
    )


@staff_view(Perm.WORK_COMPLAINTS)
def complaint_follow_up(request: HttpRequest, complaint_id: int) -> HttpResponse:
    return _handle(
        request,
        complaint_id,
        "follow_up_form",
        lambda c, data: FollowUpForm(data),
        lambda c, f: handling.complaint_follow_up(
            actor=request.user,
            complaint=c,
            satisfied=f.satisfied_value(),
            note=f.cleaned_data.get("note") or "",
            version=_version(f),
        ),
        _("Follow-up recorded."),
    )


# --- intake -------------------------------------------------------------------------------------


def _related_choices(dealer_id: int, customer_id: int | None) -> dict[str, list[tuple[int, str]]]:
    """The customer's vehicles, repair orders and orders (newest first, a few each)."""
    if not customer_id:
        return {"vehicles": [], "repair_orders": [], "orders": []}
    from dealercrm.sales.models import Order
    from dealercrm.service.models import RepairOrder
    from dealercrm.vehicles.models import Vehicle

    vehicles = [
        (pk, " · ".join(p for p in (plate, vin) if p))
        for pk, plate, vin in Vehicle.objects.filter(dealer_id=dealer_id, owner_id=customer_id)
        .order_by("-id")
        .values_list("id", "plate", "vin")[:20]
    ]
    repair_orders = [
        (pk, f"{number} · {opened:%Y-%m-%d}")
        for pk, number, opened in RepairOrder.objects.filter(
            dealer_id=dealer_id, customer_id=customer_id
        )
        .order_by("-opened_at", "-id")
        .values_list("id", "number", "opened_at")[:20]
    ]
    orders = [
        (pk, f"{number} · {ordered:%Y-%m-%d}")
        for pk, number, ordered in Order.objects.filter(
            dealer_id=dealer_id, customer_id=customer_id
        )
        .order_by("-ordered_on", "-id")
        .values_list("id", "number", "ordered_on")[:20]
    ]
    return {"vehicles": vehicles, "repair_orders": repair_orders, "orders": orders}


def _customer_hits(request: HttpRequest, dealer_id: int | None) -> HttpResponse:
    """The customer picker: customers the user sees at the chosen dealer matching `customer_q`."""
    from dealercrm.search.selectors import search_customers

    query = (request.GET.get("customer_q") or "").strip()[:50]
    hits = search_customers(request.user, query, limit=20) if query else []
    hits = [h for h in hits if h.dealer_id == dealer_id][:8]
    return render(request, f"{CREATE}#customer_hits", {"hits": hits, "query": query})


@staff_view(Perm.ADD_COMPLAINT)
def complaint_create(request: HttpRequest) -> HttpResponse:
    """Record a complaint. `?customer=<id>` preselects the customer (and their dealer). A
    network user (the brand hotline) chooses the dealer and finds the customer there, or
    enters a name and phone to record a new prospect."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    user = request.user
    oem = not user.dealer_id
    params = request.POST if request.method == "POST" else request.GET
    customer = None
    customer_param = params.get("customer_id") or request.GET.get("customer")
    if customer_param:
        try:
            customer = get_customer_for_user(user, int(customer_param))
        except (TypeError, ValueError) as exc:
            raise Http404 from exc
    dealer = customer.dealer if customer is not None else acting_dealer(request)
    if dealer is None:
        raise Http404
    if request.htmx and request.headers.get("HX-Target") == "customer-hits":
        return _customer_hits(request, dealer.pk)
    related = _related_choices(dealer.pk, customer.pk if customer else None)
    form_kwargs: dict[str, Any] = {"oem": oem, **related}
    if not oem:
        form_kwargs["staff"] = _choices(
            list(
                User.objects.filter(dealer_id=dealer.pk, is_active=True).order_by(
                    "display_name", "username"
                )
            )
        )
        form_kwargs["handlers"] = _choices(complaint_handlers(dealer.pk))
    initial: dict[str, Any] = {"channel": ComplaintChannel.PHONE}
    if customer is not None:
        initial["customer_id"] = customer.pk
    form = ComplaintCreateForm(
        request.POST if request.method == "POST" else None, initial=initial, **form_kwargs
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            complaint = complaint_open(
                actor=user,
                dealer_id=dealer.pk,
                customer_id=data.get("customer_id"),
                customer_name=data.get("customer_name") or "",
                customer_phone=data.get("customer_phone") or "",
                channel=data.get("channel") or ComplaintChannel.OEM_HOTLINE,
                category=data["category"],
                severity=data["severity"],
                description=data["description"],
                vehicle_id=data.get("vehicle_id"),
                repair_order_id=data.get("repair_order_id"),
                order_id=data.get("order_id"),
                staff_id=data.get("staff_id"),
                handler_id=data.get("handler_id"),
                oem_reference=data.get("oem_reference") or "",
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Complaint recorded."))
            return redirect("feedback:complaint", complaint_id=complaint.pk)
    context = {
        "form": form,
        "oem": oem,
        "dealer": dealer,
        "customer": customer,
        "dealers": list(visible_dealers(user).order_by("name")) if oem else [],
    }
    return render(request, CREATE, context, status=400 if request.method == "POST" else 200)
