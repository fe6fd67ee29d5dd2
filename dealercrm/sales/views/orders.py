"""Pages: orders — the list (with the dealer's delay-notice rate), a new order from a lead, an
order's page (milestones expected vs reached, the delay: record "customer told" or send the
delay message, the tracking link), delivery; and the customer's public tracking page.

Every write goes through services/orders.py; reads through selectors/orders.py. A refused
write shows the service's message on its form, and nothing is saved.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.permissions import Perm
from dealercrm.vehicles.models import Vehicle
from dealercrm.vehicles.validators import normalise_vin
from dealercrm.worklist.models import Task

from ..forms.orders import (
    CancelForm,
    CustomerToldForm,
    DelayMessageForm,
    DeliverForm,
    MilestoneForm,
    OrderForm,
)
from ..models import Lead, Order, OrderStage, Quote
from ..selectors import orders as selectors
from ..services import orders as services


def _lead_for_user(request: HttpRequest, lead_id: int) -> Lead:
    try:
        return (
            Lead.objects.visible_to(request.user)
            .select_related("customer", "car_model", "consultant")
            .get(pk=int(lead_id))
        )
    except (Lead.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def _lead_url(lead_id: int) -> str:
    """The lead's page ("" while the leads topic has not routed it)."""
    try:
        return reverse("sales:lead", kwargs={"lead_id": lead_id})
    except NoReverseMatch:
        return ""


# --- the list ---------------------------------------------------------------------------------


def _rate_context(request: HttpRequest) -> dict[str, Any]:
    """The delay-notice rate of the user's dealers over the last 12 months of promised dates."""
    today = timezone.localdate()
    since = today - datetime.timedelta(days=365)
    user = request.user
    dealer_ids = [user.dealer_id] if user.dealer_id else None
    rates = selectors.delay_notice_rate(dealer_ids, since, today + datetime.timedelta(days=365))
    return {
        "rate": selectors.delay_notice_total(rates.values()),
        "documents_rate": selectors.DOCUMENTS_DELAY_NOTICE_RATE * 100,
        "rate_since": since,
    }


@staff_view(Perm.VIEW_LEADS)
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.OrderFilters.from_params(request.GET)
    page = Paginator(
        selectors.order_list(request.user, filters), selectors.ORDER_PAGE_SIZE
    ).get_page(request.GET.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "rows": page.object_list,
        "filters": filters,
        "query": query.urlencode(),
        "stages": OrderStage.choices,
        "show_dealer": not request.user.dealer_id,
        "today": timezone.localdate(),
        **_rate_context(request),
    }
    name = "sales/orders/order_list.html"
    return render(request, f"{name}#results" if request.htmx else name, context)


# --- create -----------------------------------------------------------------------------------


def _current_quote(lead: Lead) -> Quote | None:
    return lead.quotes.filter(status=Quote.Status.CURRENT).order_by("-version").first()


def _stock_vehicle(request: HttpRequest, lead: Lead, vin: str) -> Vehicle | None:
    vin = normalise_vin(vin or "")
    if not vin:
        return None
    vehicle = Vehicle.objects.filter(dealer_id=lead.dealer_id, vin=vin).first()
    if vehicle is None:
        raise ValidationError(
            {"vin": _("The dealer has no car with the VIN %(vin)s.") % {"vin": vin}}
        )
    return vehicle


@staff_view(Perm.WORK_LEADS)
@require_http_methods(["GET", "POST"])
def order_create(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = _lead_for_user(request, lead_id)
    quote = _current_quote(lead)
    if request.method == "POST":
        form = OrderForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            chosen_quote = quote if quote and data.get("quote") == quote.pk else None
            try:
                vehicle = _stock_vehicle(request, lead, data.get("vin", ""))
                order = services.order_create(
                    actor=request.user,
                    lead=lead,
                    car_model=data["car_model"],
                    price=data["price"],
                    deposit=data.get("deposit") or 0,
                    deposit_paid_on=data.get("deposit_paid_on"),
                    promised_delivery_on=data["promised_delivery_on"],
                    colour=data.get("colour", ""),
                    quote=chosen_quote,
                    vehicle=vehicle,
                    request=request,
                )
            except ValidationError as exc:
                if hasattr(exc, "error_dict") and "vehicle" in exc.error_dict:
                    exc = ValidationError(
                        {("vin" if k == "vehicle" else k): v for k, v in exc.error_dict.items()}
                    )
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Order %(number)s created.") % {"number": order.number})
                return redirect("sales:order", order_id=order.pk)
    else:
        initial: dict[str, Any] = {
            "car_model": lead.car_model_id,
            "promised_delivery_on": timezone.localdate() + datetime.timedelta(days=30),
            "deposit": 0,
        }
        if quote is not None:
            initial.update(
                car_model=quote.car_model_id,
                colour=quote.colour,
                price=quote.vehicle_price - quote.discount,
                quote=quote.pk,
            )
        form = OrderForm(initial=initial)
    return render(
        request,
        "sales/orders/order_form.html",
        {"form": form, "lead": lead, "quote": quote, "lead_url": _lead_url(lead.pk)},
    )


# --- one order --------------------------------------------------------------------------------


def _order_context(request: HttpRequest, order: Order, **forms: Any) -> dict[str, Any]:
    today = timezone.localdate()
    can_work = request.user.has_perm(Perm.WORK_LEADS) and order.stage not in (
        OrderStage.DELIVERED,
        OrderStage.CANCELLED,
    )
    delay_task = (
        Task.objects.filter(
            dealer_id=order.dealer_id,
            source_kind=services.TASK_SOURCE_KIND,
            source_id=f"{order.pk}:{services.DELAY_TASK_SUFFIX}",
        )
        .select_related("assignee")
        .first()
        if order.delay_detected_at
        else None
    )
    tracking_url = request.build_absolute_uri(
        reverse("sales_public:tracking", kwargs={"tracking_token": order.tracking_token})
    )
    return {
        "order": order,
        "lead_url": _lead_url(order.lead_id),
        "milestones": selectors.order_milestones(order, today=today),
        "delay_task": delay_task,
        "tracking_url": tracking_url,
        "can_work": can_work,
        "is_late": order.expected_delivery_on > order.promised_delivery_on,
        "today": today,
        "milestone_form": forms.get("milestone_form"),
        "told_form": forms.get("told_form") or CustomerToldForm(),
        "message_form": forms.get("message_form")
        or DelayMessageForm(initial={"body": services.default_delay_message(order)}),
        "deliver_form": forms.get("deliver_form")
        or DeliverForm(
            initial={"delivered_on": today, "vin": order.vehicle.vin if order.vehicle else ""}
        ),
        "cancel_form": forms.get("cancel_form") or CancelForm(),
    }


@staff_view(Perm.VIEW_LEADS)
@require_GET
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.get_order_for_user(request.user, order_id)
    return render(request, "sales/orders/order_detail.html", _order_context(request, order))


@staff_view(Perm.WORK_LEADS)
@require_POST
def order_milestone(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.get_order_for_user(request.user, order_id)
    delayed_before = order.delay_detected_at is not None
    form = MilestoneForm(request.POST)
    if form.is_valid():
        try:
            order = services.order_milestone_set(
                actor=request.user,
                order=order,
                stage=form.cleaned_data["stage"],
                expected_on=form.cleaned_data.get("expected_on"),
                reached_on=form.cleaned_data.get("reached_on"),
                request=request,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            order = selectors.get_order_for_user(request.user, order_id)
            form = None
    if request.htmx and not delayed_before and order.delay_detected_at is not None:
        # The change made the order late: the whole page gains its delay card and task.
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    context = _order_context(request, order, milestone_form=form)
    name = "sales/orders/order_detail.html"
    return render(request, f"{name}#progress" if request.htmx else name, context)


@staff_view(Perm.WORK_LEADS)
@require_POST
def order_told(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.get_order_for_user(request.user, order_id)
    form = CustomerToldForm(request.POST)
    if form.is_valid():
        try:
            services.order_customer_told(
                actor=request.user,
                order=order,
                at=form.cleaned_data.get("told_at"),
                how=_("recorded on the order page"),
                request=request,
            )
        except ValidationError as exc:
            exc = ValidationError({"told_at": exc.messages})
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Recorded: the customer was told about the delay."))
            return redirect("sales:order", order_id=order.pk)
    return render(
        request, "sales/orders/order_detail.html", _order_context(request, order, told_form=form)
    )


@staff_view(Perm.WORK_LEADS)
@require_POST
def order_delay_message(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.get_order_for_user(request.user, order_id)
    form = DelayMessageForm(request.POST)
    if form.is_valid():
        try:
            services.order_delay_message_send(
                actor=request.user,
                order=order,
                channel=form.cleaned_data["channel"],
                body=form.cleaned_data["body"],
                request=request,
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(
                request, _("The delay message is on its way; the customer counts as told.")
            )
            return redirect("sales:order", order_id=order.pk)
    return render(
        request,
        "sales/orders/order_detail.html",
        _order_context(request, order, message_form=form),
    )


@staff_view(Perm.WORK_LEADS)
@require_POST
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.get_order_for_user(request.user, order_id)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            services.order_cancel(
                actor=request.user, order=order, reason=form.cleaned_data["reason"], request=request
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Order %(number)s cancelled.") % {"number": order.number})
            return redirect("sales:order", order_id=order.pk)
    return render(
        request,
        "sales/orders/order_detail.html",
        _order_context(request, order, cancel_form=form),
    )


@staff_view(Perm.WORK_LEADS)
@require_http_methods(["GET", "POST"])
def order_deliver(request: HttpRequest, order_id: int) -> HttpResponse:
    order = selectors.get_order_for_user(request.user, order_id)
    if request.method == "POST":
        form = DeliverForm(request.POST)
        if form.is_valid():
            try:
                services.order_deliver(
                    actor=request.user,
                    order=order,
                    vin=form.cleaned_data["vin"],
                    plate=form.cleaned_data.get("plate", ""),
                    delivered_on=form.cleaned_data["delivered_on"],
                    request=request,
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _(
                        "Delivered: the car is registered to the customer, and a follow-up call "
                        "is on the consultant's list."
                    ),
                )
                return redirect("sales:order", order_id=order.pk)
    else:
        form = DeliverForm(
            initial={
                "delivered_on": timezone.localdate(),
                "vin": order.vehicle.vin if order.vehicle else "",
                "plate": order.vehicle.plate if order.vehicle else "",
            }
        )
    return render(
        request,
        "sales/orders/order_deliver.html",
        {"order": order, "form": form, "is_open": order.stage not in ("delivered", "cancelled")},
    )


# --- the customer's tracking page (no login) --------------------------------------------------

_PUBLIC_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


def _public(response: HttpResponse) -> HttpResponse:
    for name, value in _PUBLIC_HEADERS.items():
        response[name] = value
    return response


@require_GET
def tracking(request: HttpRequest, tracking_token: str) -> HttpResponse:
    """This order's progress and nothing else: model, colour, stages with dates, the dealer's
    name and phone, the consultant's name. Never the customer's phone, ID, price or other
    orders. Unknown links get the same plain 404 page."""
    try:
        order = selectors.order_for_tracking(tracking_token)
    except Http404:
        return _public(render(request, "sales/orders/public/tracking_unknown.html", status=404))
    from dealercrm.core.tenancy import dealer_scope

    with dealer_scope(order.dealer_id):
        milestones = selectors.order_milestones(order)
    consultant = order.lead.consultant
    context = {
        "order": order,
        "model": order.car_model,
        "milestones": milestones,
        "dealer_name": order.dealer.name,
        "dealer_phone": order.dealer.phone,
        "consultant_name": str(consultant) if consultant else "",
        "is_late": order.expected_delivery_on > order.promised_delivery_on,
    }
    return _public(render(request, "sales/orders/public/tracking.html", context))


urlpatterns = [
    path("orders/", order_list, name="orders"),
    path("leads/<int:lead_id>/order/", order_create, name="order_create"),
    path("orders/<int:order_id>/", order_detail, name="order"),
    path("orders/<int:order_id>/milestone/", order_milestone, name="order_milestone"),
    path("orders/<int:order_id>/told/", order_told, name="order_told"),
    path("orders/<int:order_id>/delay-message/", order_delay_message, name="order_delay_message"),
    path("orders/<int:order_id>/cancel/", order_cancel, name="order_cancel"),
    path("orders/<int:order_id>/deliver/", order_deliver, name="order_deliver"),
]

# Public (no login): the customer's tracking page, under /p/ (see ../public_urls.py).
public_urlpatterns = [
    path("t/<str:tracking_token>/", tracking, name="tracking"),
]
