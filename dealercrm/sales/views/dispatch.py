"""Pages of OEM dispatch: the OEM's list, one dispatch, creating and importing, releasing now, and
the dealer scorecard (the network's view of what dealers did with the leads they were given).

Writes go through services.dispatch; reads through selectors.dispatch. Phones are masked for
everyone (OEM roles never see them in full; the dealer reveals them on the customer page).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import visible_dealers
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.vehicles.models import CarModel

from ..forms.dispatch import DispatchForm, DispatchImportForm
from ..selectors import dispatch as selectors
from ..services import dispatch as services


def _dealers(request: HttpRequest) -> list:
    return list(visible_dealers(request.user).order_by("code"))


def _car_models(dealers: list) -> list[CarModel]:
    brand_ids = sorted({d.brand_id for d in dealers})
    return list(
        CarModel.objects.filter(brand_id__in=brand_ids, is_active=True).order_by(
            "series", "name", "-model_year"
        )
    )


def _phone_for(request: HttpRequest, phone: str) -> str:
    # Masked for everyone: the number reaches the dealer with the lead, and is revealed there
    # (audit-logged) by those who may.
    return mask_phone(phone)


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@staff_view(Perm.DISPATCH_LEADS)
def dispatch_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.DispatchFilters.from_params(request.GET)
    page = selectors.dispatch_list(request.user, filters, page=request.GET.get("page") or 1)
    for dispatch in page:
        dispatch.shown_phone = _phone_for(request, dispatch.phone)
    context = {
        "page": page,
        "filters": filters,
        "dealers": _dealers(request),
        "statuses": [
            (selectors.DispatchStatus.WAITING, _("Waiting for release")),
            (selectors.DispatchStatus.RELEASED, _("Released to the dealer")),
        ],
        "query": _query_without_page(request),
    }
    name = "sales/dispatch/list.html"
    return render(request, f"{name}#results" if request.htmx else name, context)


@staff_view(Perm.DISPATCH_LEADS)
def dispatch_detail(request: HttpRequest, dispatch_id: int) -> HttpResponse:
    dispatch = selectors.get_dispatch_for_user(request.user, dispatch_id)
    tasks = []
    if dispatch.lead_id:
        from dealercrm.worklist.models import Task

        tasks = list(
            Task.objects.filter(
                dealer_id=dispatch.dealer_id,
                source_kind=services.SOURCE_KIND,
                source_id__startswith=f"{dispatch.pk}:",
            )
            .select_related("assignee")
            .order_by("due_at")
        )
    return render(
        request,
        "sales/dispatch/detail.html",
        {
            "dispatch": dispatch,
            "lead": dispatch.lead,
            "shown_phone": _phone_for(request, dispatch.phone),
            "tasks": tasks,
        },
    )


@staff_view(Perm.DISPATCH_LEADS)
def dispatch_create(request: HttpRequest) -> HttpResponse:
    dealers = _dealers(request)
    car_models = _car_models(dealers)
    if request.method == "POST":
        form = DispatchForm(request.POST, dealers=dealers, car_models=car_models)
        if form.is_valid():
            try:
                dispatch = services.dispatch_create(actor=request.user, **form.service_kwargs())
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("%(name)s dispatched; released to the dealer on %(date)s.")
                    % {"name": dispatch.prospect_name, "date": dispatch.release_on.isoformat()},
                )
                return redirect("sales:dispatch", dispatch_id=dispatch.pk)
    else:
        form = DispatchForm(dealers=dealers, car_models=car_models)
    return render(request, "sales/dispatch/form.html", {"form": form})


@staff_view(Perm.DISPATCH_LEADS)
def dispatch_import(request: HttpRequest) -> HttpResponse:
    result = None
    if request.method == "POST":
        form = DispatchImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = services.dispatch_import(
                    actor=request.user, file=upload, filename=upload.name
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
    else:
        form = DispatchImportForm()
    return render(request, "sales/dispatch/import.html", {"form": form, "result": result})


@require_POST
@staff_view(Perm.DISPATCH_LEADS)
def dispatch_release_now(request: HttpRequest, dispatch_id: int) -> HttpResponse:
    """The OEM releases a dispatch before its day (the prospect wants to come sooner)."""
    dispatch = selectors.get_dispatch_for_user(request.user, dispatch_id)
    if dispatch.released_at is None:
        try:
            services.dispatch_release(dispatch_id=dispatch.pk)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Released to the dealer."))
    return redirect("sales:dispatch", dispatch_id=dispatch.pk)


# (count, its rate or "") of the scorecard's columns, in order.
SCORE_COLUMNS = (
    ("dispatched", ""),
    ("received", "received_rate"),
    ("contacted_on_time", "contacted_on_time_rate"),
    ("test_driven", "test_driven_rate"),
    ("converted", "converted_rate"),
    ("lost", "lost_rate"),
    ("loss_pending", ""),
)


def _score_columns() -> list[tuple[str, str, str]]:
    """(count key, rate key or "", label) of the table's columns."""
    labels = {
        "dispatched": _("Dispatched"),
        "received": _("Received"),
        "contacted_on_time": _("Contacted on time"),
        "test_driven": _("Test-driven"),
        "converted": _("Converted"),
        "lost": _("Lost"),
        "loss_pending": _("Loss pending"),
    }
    return [(count, rate, labels[count]) for count, rate in SCORE_COLUMNS]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _cells(
    row: selectors.ScorecardRow, columns: list[tuple[str, str, str]]
) -> list[tuple[int, str]]:
    """(count, rate as text or "") for each column of a row."""
    return [
        (getattr(row, count), _percent(getattr(row, rate)) if rate else "")
        for count, rate, _label in columns
    ]


@staff_view(Perm.VIEW_NETWORK)
def scorecard(request: HttpRequest) -> HttpResponse:
    # The network's view (VIEW_NETWORK) of the funnel (VIEW_FUNNEL): every network role has both.
    if not request.user.has_perm(Perm.VIEW_FUNNEL):
        raise PermissionDenied
    period = selectors.ScorecardPeriod.from_params(request.GET)
    sort = request.GET.get("sort") or "dealer"
    descending = request.GET.get("dir") == "desc"
    rows = selectors.scorecard(request.user, period, sort=sort, descending=descending)
    totals = selectors.scorecard_totals(rows)
    columns = _score_columns()
    chart = {
        "dealers": [r.dealer_code for r in rows],
        "series": [
            {"name": label, "data": [getattr(r, count) for r in rows]}
            for count, _rate, label in columns
            if count != "loss_pending"
        ],
    }
    context = {
        "table": [(row, _cells(row, columns)) for row in rows],
        "total_cells": _cells(totals, columns),
        "rows": rows,
        "period": period,
        "sort": sort,
        "descending": descending,
        "columns": columns,
        "chart": chart,
    }
    name = "sales/dispatch/scorecard.html"
    return render(request, f"{name}#results" if request.htmx else name, context)


urlpatterns = [
    path("dispatch/", dispatch_list, name="dispatches"),
    path("dispatch/new/", dispatch_create, name="dispatch_create"),
    path("dispatch/import/", dispatch_import, name="dispatch_import"),
    path("dispatch/scorecard/", scorecard, name="scorecard"),
    path("dispatch/<int:dispatch_id>/", dispatch_detail, name="dispatch"),
    path("dispatch/<int:dispatch_id>/release/", dispatch_release_now, name="dispatch_release"),
]
