"""Recall pages: the OEM defines a campaign (criteria, VIN list, preview), launches it and
follows completion per dealer and region; dealers see their own affected cars.

Writes go through services.recalls; a campaign is the brand's (another brand's answers 404), a
dealer's cars go through the scoped manager (another dealer's are never listed).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from dealercrm.core.access import staff_view
from dealercrm.core.forms import StyledForm, apply_service_errors
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import visible_dealers
from dealercrm.core.tenancy import get_current_scope
from dealercrm.vehicles.models import CarModel

from ..models import RecallCampaign, RecallStatus
from ..models.recalls import RecallCampaignStatus, RecallLaunchState
from ..selectors import recalls as selectors
from ..services import recalls as services


class CampaignForm(StyledForm):
    code = forms.CharField(label=gettext_lazy("Recall code"), max_length=40)
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    description = forms.CharField(
        label=gettext_lazy("What is wrong"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    remedy = forms.CharField(
        label=gettext_lazy("What the workshop does"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    car_models = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Models"),
        queryset=CarModel.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    model_year_from = forms.IntegerField(label=gettext_lazy("Model years from"), required=False)
    model_year_to = forms.IntegerField(label=gettext_lazy("Model years to"), required=False)
    vin_from = forms.CharField(label=gettext_lazy("VINs from"), max_length=30, required=False)
    vin_to = forms.CharField(label=gettext_lazy("VINs to"), max_length=30, required=False)
    starts_on = forms.DateField(
        label=gettext_lazy("Starts on"), widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, brand_id: int | None, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["car_models"].queryset = CarModel.objects.filter(brand_id=brand_id).order_by(
            "series", "name", "model_year"
        )
        self.fields["car_models"].help_text = _(
            "Criteria given are combined: these models, in these model years, in this VIN range. "
            "Cars of an uploaded VIN list are added whatever the other criteria."
        )

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["car_models"] = list(data["car_models"])
        return data


class VinListForm(StyledForm):
    file = forms.FileField(
        label=gettext_lazy("VIN list"),
        help_text=gettext_lazy("CSV, XLSX or TXT, one VIN per row, in the first column."),
    )


def _brand_id(request: HttpRequest) -> int | None:
    user = request.user
    return user.brand_id or (user.dealer.brand_id if user.dealer_id else None)


@staff_view(Perm.VIEW_RECALLS)
def recall_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(
        selectors.campaign_list(request.user).prefetch_related("car_models"), 25
    ).get_page(request.GET.get("page"))
    return render(request, "service/recalls/list.html", {"page": page})


@staff_view(Perm.MANAGE_RECALLS)
def recall_create(request: HttpRequest) -> HttpResponse:
    brand_id = _brand_id(request)
    if request.method == "POST":
        form = CampaignForm(request.POST, brand_id=brand_id)
        if form.is_valid():
            try:
                campaign = services.recall_campaign_create(
                    actor=request.user, **form.service_kwargs()
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Recall saved as a draft."))
                return redirect("service:recall_detail", recall_id=campaign.pk)
        status = 400
    else:
        form = CampaignForm(brand_id=brand_id)
        status = 200
    return render(
        request, "service/recalls/form.html", {"form": form, "campaign": None}, status=status
    )


def _edit_context(campaign: RecallCampaign, form: CampaignForm, **extra) -> dict:  # noqa: ANN003
    return {
        "campaign": campaign,
        "form": form,
        "vin_form": extra.pop("vin_form", None) or VinListForm(),
        "vin_count": campaign.vins.count(),
        **extra,
    }


@staff_view(Perm.MANAGE_RECALLS)
def recall_edit(request: HttpRequest, recall_id: int) -> HttpResponse:
    campaign = selectors.get_campaign_for_user(request.user, recall_id)
    if campaign.status != RecallCampaignStatus.DRAFT:
        messages.info(
            request, _("The recall has been launched: its criteria can no longer change.")
        )
        return redirect("service:recall_detail", recall_id=campaign.pk)
    status = 200
    if request.method == "POST":
        form = CampaignForm(request.POST, brand_id=campaign.brand_id)
        if form.is_valid():
            try:
                services.recall_campaign_update(
                    actor=request.user, campaign=campaign, **form.service_kwargs()
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Recall saved."))
                return redirect("service:recall_detail", recall_id=campaign.pk)
        status = 400
    else:
        initial = {name: getattr(campaign, name) for name in services.CAMPAIGN_FIELDS}
        initial["car_models"] = list(campaign.car_models.all())
        form = CampaignForm(initial=initial, brand_id=campaign.brand_id)
    return render(
        request, "service/recalls/form.html", _edit_context(campaign, form), status=status
    )


@staff_view(Perm.MANAGE_RECALLS)
@require_POST
def recall_vins(request: HttpRequest, recall_id: int) -> HttpResponse:
    """Upload a VIN list; the edit page shows what became of every row."""
    campaign = selectors.get_campaign_for_user(request.user, recall_id)
    vin_form = VinListForm(request.POST, request.FILES)
    report = None
    if vin_form.is_valid():
        upload = vin_form.cleaned_data["file"]
        try:
            report = services.recall_vins_upload(
                actor=request.user, campaign=campaign, file=upload, filename=upload.name
            )
        except ValidationError as exc:
            apply_service_errors(vin_form, exc)
    initial = {name: getattr(campaign, name) for name in services.CAMPAIGN_FIELDS}
    initial["car_models"] = list(campaign.car_models.all())
    form = CampaignForm(initial=initial, brand_id=campaign.brand_id)
    context = _edit_context(campaign, form, vin_form=vin_form, report=report)
    return render(
        request, "service/recalls/form.html", context, status=200 if report is not None else 400
    )


def _progress_context(campaign: RecallCampaign) -> dict:
    running = campaign.launch_state in (RecallLaunchState.QUEUED, RecallLaunchState.RUNNING)
    percent = (
        int(campaign.launch_done * 100 / campaign.launch_total) if campaign.launch_total else 0
    )
    return {"campaign": campaign, "running": running, "percent": percent}


@staff_view(Perm.VIEW_RECALLS)
def recall_detail(request: HttpRequest, recall_id: int) -> HttpResponse:
    campaign = selectors.get_campaign_for_user(request.user, recall_id)
    figures = selectors.campaign_figures(campaign)
    preview = None
    can_manage = request.user.has_perm(Perm.MANAGE_RECALLS)
    scope = get_current_scope()
    if (
        can_manage
        and campaign.status != RecallCampaignStatus.CLOSED
        and scope is not None
        and scope.is_network
        and services.has_criteria(campaign)
    ):
        preview = services.recall_preview(campaign)
    chart = {
        "dealers": [f"{d.dealer_code}" for d in figures.dealers],
        "series": [
            {"name": str(label), "data": [getattr(d, key) for d in figures.dealers]}
            for key, label in (
                ("affected", _("Affected")),
                ("notified", _("Notified")),
                ("booked", _("Booked")),
                ("completed", _("Repaired")),
            )
        ],
    }
    context = {
        "campaign": campaign,
        "car_models": list(campaign.car_models.all()),
        "vin_count": campaign.vins.count(),
        "figures": figures,
        "chart": chart,
        "preview": preview,
        "preview_total": sum(row.cars for row in preview) if preview else 0,
        "can_manage": can_manage,
        **_progress_context(campaign),
    }
    return render(request, "service/recalls/detail.html", context)


@staff_view(Perm.VIEW_RECALLS)
def recall_progress(request: HttpRequest, recall_id: int) -> HttpResponse:
    """The launch's progress bar (polled by the detail page while the job runs)."""
    campaign = selectors.get_campaign_for_user(request.user, recall_id)
    return render(request, "service/recalls/_progress.html", _progress_context(campaign))


@staff_view(Perm.MANAGE_RECALLS)
@require_POST
def recall_launch(request: HttpRequest, recall_id: int) -> HttpResponse:
    campaign = selectors.get_campaign_for_user(request.user, recall_id)
    try:
        report = services.recall_launch_start(actor=request.user, campaign=campaign)
    except (ValidationError, PermissionDenied) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
        return redirect("service:recall_detail", recall_id=campaign.pk)
    if report is None:
        messages.info(request, _("The recall is being launched; this page shows its progress."))
    else:
        messages.success(
            request,
            _(
                "Recall launched: %(cars)d cars found (%(nearest)d given to the dealer nearest "
                "their owner), %(messages)d owners messaged, %(tasks)d call tasks created."
            )
            % {
                "cars": report.own_dealer + report.nearest_dealer,
                "nearest": report.nearest_dealer,
                "messages": report.messages,
                "tasks": report.tasks,
            },
        )
    return redirect("service:recall_detail", recall_id=campaign.pk)


@staff_view(Perm.MANAGE_RECALLS)
@require_POST
def recall_close(request: HttpRequest, recall_id: int) -> HttpResponse:
    campaign = selectors.get_campaign_for_user(request.user, recall_id)
    try:
        services.recall_campaign_close(actor=request.user, campaign=campaign)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Recall closed."))
    return redirect("service:recall_detail", recall_id=campaign.pk)


@staff_view(Perm.VIEW_RECALLS)
def recall_vehicles(request: HttpRequest, recall_id: int) -> HttpResponse:
    """The campaign's cars: a dealer's own; the OEM's, filterable by dealer."""
    campaign = selectors.get_campaign_for_user(request.user, recall_id)
    network = not request.user.dealer_id
    try:
        dealer_id = int(request.GET.get("dealer") or 0) if network else None
    except ValueError:
        dealer_id = None
    filters = {
        "status": request.GET.get("status", ""),
        "dealer_id": dealer_id,
        "q": request.GET.get("q", "").strip(),
    }
    rows = selectors.recall_vehicle_list(campaign, **filters)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    query = urlencode(
        {
            k: v
            for k, v in (
                ("status", filters["status"]),
                ("dealer", dealer_id or ""),
                ("q", filters["q"]),
            )
            if v
        }
    )
    context = {
        "campaign": campaign,
        "page": page,
        "filters": filters,
        "query": query,
        "statuses": RecallStatus.choices,
        "dealers": list(visible_dealers(request.user).order_by("code")) if network else [],
        "network": network,
    }
    if request.htmx:
        return render(request, "service/recalls/vehicles.html#results", context)
    return render(request, "service/recalls/vehicles.html", context)


urlpatterns = [
    path("recalls/", recall_list, name="recall_list"),
    path("recalls/new/", recall_create, name="recall_create"),
    path("recalls/<int:recall_id>/", recall_detail, name="recall_detail"),
    path("recalls/<int:recall_id>/edit/", recall_edit, name="recall_edit"),
    path("recalls/<int:recall_id>/vins/", recall_vins, name="recall_vins"),
    path("recalls/<int:recall_id>/launch/", recall_launch, name="recall_launch"),
    path("recalls/<int:recall_id>/close/", recall_close, name="recall_close"),
    path("recalls/<int:recall_id>/progress/", recall_progress, name="recall_progress"),
    path("recalls/<int:recall_id>/vehicles/", recall_vehicles, name="recall_vehicles"),
]
