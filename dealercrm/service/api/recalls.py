"""The recall API (under /api/service/): the OEM's campaigns (list, one with its completion per
dealer, create, launch) and a dealer's affected cars.

A campaign is the brand's: another brand's answers 404. The cars go through the scoped manager,
so a dealer's token lists that dealer's cars only, never another's.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.core.tenancy import get_current_scope

from ..models import RecallCampaign, RecallVehicle
from ..selectors import recalls as selectors
from ..services import recalls as services

router = Router(tags=["service"])


class CampaignOut(Schema):
    id: int
    code: str
    title: str
    description: str
    remedy: str
    status: str
    car_model_ids: list[int]
    model_year_from: int | None
    model_year_to: int | None
    vin_from: str
    vin_to: str
    vin_list_count: int
    starts_on: datetime.date
    launched_at: datetime.datetime | None
    launch_state: str
    launch_done: int
    launch_total: int

    @staticmethod
    def resolve_car_model_ids(obj: RecallCampaign) -> list[int]:
        return [m.pk for m in obj.car_models.all()]

    @staticmethod
    def resolve_vin_list_count(obj: RecallCampaign) -> int:
        return obj.vins.count()


class FiguresOut(Schema):
    affected: int
    notified: int
    booked: int
    completed: int
    rate: float = Field(description="completed / affected")


class DealerFiguresOut(FiguresOut):
    dealer_id: int
    dealer_code: str
    dealer_name: str
    region: str


class RegionFiguresOut(FiguresOut):
    region: str


class CampaignDetailOut(CampaignOut):
    dealers: list[DealerFiguresOut]
    regions: list[RegionFiguresOut]
    total: FiguresOut


class CampaignIn(Schema):
    code: str
    title: str
    description: str = ""
    remedy: str = ""
    car_model_ids: list[int] = Field(default_factory=list)
    model_year_from: int | None = None
    model_year_to: int | None = None
    vin_from: str = ""
    vin_to: str = ""
    starts_on: datetime.date | None = None


class LaunchOut(Schema):
    queued: bool = Field(description="True: a job launches it; follow launch_done/launch_total")
    report: dict[str, int] | None
    campaign: CampaignOut


class RecallVehicleOut(Schema):
    id: int
    dealer_id: int
    campaign_id: int
    vehicle_id: int
    customer_id: int | None
    customer_name: str
    vin: str
    plate: str
    assigned_how: str
    status: str
    notified_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    repair_order_id: int | None

    @staticmethod
    def resolve_customer_name(obj: RecallVehicle) -> str:
        return obj.customer.name if obj.customer else ""

    @staticmethod
    def resolve_plate(obj: RecallVehicle) -> str:
        return obj.vehicle.plate


class RecallVehicleQuery(Schema):
    campaign_id: int | None = None
    status: str = Field(default="", description="open, notified, booked, completed, unreachable")
    q: str = Field(default="", description="Part of the VIN or plate")
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


def _campaign(request: HttpRequest, recall_id: int) -> RecallCampaign:
    return selectors.get_campaign_for_user(request.user, recall_id)


@router.get("/recalls", response=list[CampaignOut])
@api_permission(Perm.VIEW_RECALLS)
def recalls_list(request: HttpRequest):  # noqa: ANN201
    return list(selectors.campaign_list(request.user).prefetch_related("car_models")[:500])


@router.post("/recalls", response={201: CampaignOut})
@api_permission(Perm.MANAGE_RECALLS)
def recalls_create(request: HttpRequest, payload: CampaignIn):  # noqa: ANN201
    data = payload.dict()
    data["car_models"] = data.pop("car_model_ids")
    if data["starts_on"] is None:
        data.pop("starts_on")
    try:
        campaign = services.recall_campaign_create(actor=request.user, **data)
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "car_models" in exc.error_dict:
            errors = exc.message_dict
            errors["car_model_ids"] = errors.pop("car_models")
            raise ValidationError(errors) from exc
        raise
    return Status(201, campaign)


@router.get("/recalls/{recall_id}", response=CampaignDetailOut)
@api_permission(Perm.VIEW_RECALLS)
def recalls_get(request: HttpRequest, recall_id: int):  # noqa: ANN201
    campaign = _campaign(request, recall_id)
    figures = selectors.campaign_figures(campaign)

    def numbers(f) -> dict:  # noqa: ANN001
        return {
            "affected": f.affected,
            "notified": f.notified,
            "booked": f.booked,
            "completed": f.completed,
            "rate": round(f.rate, 4),
        }

    campaign.dealers = [  # type: ignore[attr-defined]
        {
            **numbers(d),
            "dealer_id": d.dealer_id,
            "dealer_code": d.dealer_code,
            "dealer_name": d.dealer_name,
            "region": d.region,
        }
        for d in figures.dealers
    ]
    campaign.regions = [{**numbers(f), "region": region} for region, f in figures.regions]  # type: ignore[attr-defined]
    campaign.total = numbers(figures.total)  # type: ignore[attr-defined]
    return campaign


@router.post("/recalls/{recall_id}/launch", response=LaunchOut)
@api_permission(Perm.MANAGE_RECALLS)
def recalls_launch(request: HttpRequest, recall_id: int):  # noqa: ANN201
    campaign = _campaign(request, recall_id)
    scope = get_current_scope()
    if scope is None or not scope.is_network:
        raise ValidationError({"status": _("Launching a recall needs a network role.")})
    report = services.recall_launch_start(actor=request.user, campaign=campaign)
    campaign.refresh_from_db()
    return {
        "queued": report is None,
        "report": report.as_dict() if report is not None else None,
        "campaign": campaign,
    }


@router.get("/recall-vehicles", response=list[RecallVehicleOut])
@api_permission(Perm.VIEW_RECALLS)
def recall_vehicles_list(request: HttpRequest, query: Query[RecallVehicleQuery]):  # noqa: ANN201
    """The affected cars the user may see: a dealer's own (all campaigns, or one)."""
    qs = RecallVehicle.objects.select_related("customer", "vehicle").order_by("-created_at", "id")
    if query.campaign_id is not None:
        qs = qs.filter(campaign_id=_campaign(request, query.campaign_id).pk)
    else:
        qs = qs.filter(campaign__in=selectors.campaigns_for_user(request.user))
    if query.status:
        qs = qs.filter(status=query.status)
    if query.q:
        from django.db.models import Q

        text = query.q.strip().upper()
        qs = qs.filter(Q(vin__contains=text) | Q(vehicle__plate__contains=text))
    return list(qs[query.offset : query.offset + query.limit])
