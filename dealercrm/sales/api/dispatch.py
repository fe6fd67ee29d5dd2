"""API of OEM dispatch: dispatch a prospect, import a list, read dispatches, the dealer scorecard.

The same services and selectors as the pages: a dealer outside the caller's network is a field
error, another brand's dispatch answers 404, phones are masked unless the caller's role may see
them (OEM roles never do).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.customers.contact_masking import mask_phone

from ..models import OemDispatch
from ..selectors import dispatch as selectors
from ..services import dispatch as services

router = Router(tags=["sales"])


class DispatchIn(Schema):
    dealer_id: int
    prospect_name: str
    phone: str = Field(description="Mobile; stored in E.164 (+86…)")
    test_drive_date: datetime.date = Field(description="The day the prospect chose; today or later")
    car_model_id: int | None = None
    wechat_id: str = ""
    preferred_time: str = Field(default="", description='"10:30", "下午3点" …')
    pickup_requested: bool = False
    pickup_address: str = ""
    note: str = ""
    campaign: str = ""
    external_ref: str = Field(default="", description="The OEM's own reference; unique per dealer")


class DispatchOut(Schema):
    id: int
    dealer_id: int
    dealer_code: str
    prospect_name: str
    phone: str = Field(description="Masked (138****1234) for everyone")
    wechat_id: str
    car_model_id: int | None
    test_drive_date: datetime.date
    preferred_time: str
    pickup_requested: bool
    pickup_address: str
    note: str
    campaign: str
    external_ref: str
    release_on: datetime.date
    released_at: datetime.datetime | None
    lead_id: int | None
    lead_stage: str | None
    created_at: datetime.datetime


class DispatchListOut(Schema):
    count: int
    items: list[DispatchOut]


class DispatchListQuery(Schema):
    dealer: int | None = None
    status: str = Field(default="", description='"waiting" or "released"')
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class ImportProblemOut(Schema):
    row: int
    field: str
    message: str


class ImportSkipOut(Schema):
    row: int
    external_ref: str


class ImportResultOut(Schema):
    rows: int
    created: int
    skipped: int
    error_rows: int
    created_ids: list[int]
    skipped_rows: list[ImportSkipOut]
    errors: list[ImportProblemOut]


class ScorecardQuery(Schema):
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    sort: str = "dealer"
    descending: bool = False


class ScorecardRowOut(Schema):
    dealer_id: int
    dealer_code: str
    dealer_name: str
    dispatched: int
    received: int
    contacted_on_time: int
    test_driven: int
    converted: int
    lost: int
    loss_pending: int
    received_rate: float | None
    contacted_on_time_rate: float | None
    test_driven_rate: float | None
    converted_rate: float | None
    lost_rate: float | None


class ScorecardOut(Schema):
    date_from: datetime.date
    date_to: datetime.date
    dealers: list[ScorecardRowOut]


def _out(request: HttpRequest, dispatch: OemDispatch) -> dict[str, Any]:
    lead = dispatch.lead if dispatch.lead_id else None
    return {
        "id": dispatch.pk,
        "dealer_id": dispatch.dealer_id,
        "dealer_code": dispatch.dealer.code,
        "prospect_name": dispatch.prospect_name,
        "phone": mask_phone(dispatch.phone),
        "wechat_id": dispatch.wechat_id,
        "car_model_id": dispatch.car_model_id,
        "test_drive_date": dispatch.test_drive_date,
        "preferred_time": dispatch.preferred_time,
        "pickup_requested": dispatch.pickup_requested,
        "pickup_address": dispatch.pickup_address,
        "note": dispatch.note,
        "campaign": dispatch.campaign,
        "external_ref": dispatch.external_ref,
        "release_on": dispatch.release_on,
        "released_at": dispatch.released_at,
        "lead_id": dispatch.lead_id,
        "lead_stage": lead.stage if lead is not None else None,
        "created_at": dispatch.created_at,
    }


@router.post("/dispatches", response={201: DispatchOut}, summary="Dispatch a prospect to a dealer")
@api_permission(Perm.DISPATCH_LEADS)
def dispatch_create(request: HttpRequest, payload: DispatchIn) -> Any:
    dispatch = services.dispatch_create(actor=request.user, **payload.dict())
    return Status(201, _out(request, selectors.get_dispatch_for_user(request.user, dispatch.pk)))


@router.get(
    "/dispatches", response=DispatchListOut, summary="List dispatches, latest test drive first"
)
@api_permission(Perm.DISPATCH_LEADS)
def dispatch_list(request: HttpRequest, params: Query[DispatchListQuery]) -> dict[str, Any]:
    filters = selectors.DispatchFilters(
        dealer_id=params.dealer,
        status=params.status if params.status in selectors.DispatchStatus.VALUES else "",
        date_from=params.date_from,
        date_to=params.date_to,
    )
    qs = selectors.dispatch_list_queryset(request.user, filters)
    items = [_out(request, d) for d in qs[params.offset : params.offset + params.limit]]
    return {"count": qs.count(), "items": items}


# Before /dispatches/{dispatch_id}: the first route whose path matches answers.
@router.post(
    "/dispatches/import",
    response=ImportResultOut,
    summary="Import a CSV or XLSX list of prospects",
    description=(
        "Headers in Chinese or English: 姓名/name, 手机/mobile, 经销商代码/dealer code, "
        "试驾日期/test-drive date (required); 车型/model, 试驾时间/preferred time, 微信/WeChat, "
        "上门接送/pick-up, 接送地址/pick-up address, 备注/note, 活动/campaign, 厂家编号/OEM "
        "reference. Every row is created, skipped (OEM reference imported before) or listed in "
        "`errors` with its row number (the header is row 1), field and reason."
    ),
)
@api_permission(Perm.DISPATCH_LEADS)
def dispatch_import(request: HttpRequest, file: File[UploadedFile]) -> dict[str, Any]:
    result = services.dispatch_import(actor=request.user, file=file, filename=file.name or "")
    return {
        "rows": result.rows,
        "created": result.created_count,
        "skipped": result.skipped_count,
        "error_rows": result.error_rows,
        "created_ids": [d.pk for d in result.created],
        "skipped_rows": [{"row": s.row, "external_ref": s.external_ref} for s in result.skipped],
        "errors": [{"row": e.row, "field": e.field, "message": e.message} for e in result.errors],
    }


@router.get("/dispatches/{dispatch_id}", response=DispatchOut, summary="A dispatch and its lead")
@api_permission(Perm.DISPATCH_LEADS)
def dispatch_get(request: HttpRequest, dispatch_id: int) -> dict[str, Any]:
    return _out(request, selectors.get_dispatch_for_user(request.user, dispatch_id))


@router.get("/scorecard", response=ScorecardOut, summary="Dispatched leads per dealer, with rates")
@api_permission(Perm.VIEW_NETWORK)
def scorecard(request: HttpRequest, params: Query[ScorecardQuery]) -> dict[str, Any]:
    if not request.user.has_perm(Perm.VIEW_FUNNEL):
        raise PermissionDenied
    period = selectors.ScorecardPeriod.from_params(
        {"date_from": params.date_from, "date_to": params.date_to}
    )
    rows = selectors.scorecard(request.user, period, sort=params.sort, descending=params.descending)
    return {
        "date_from": period.date_from,
        "date_to": period.date_to,
        "dealers": [
            {
                **{name: getattr(r, name) for name in ScorecardRowOut.model_fields},
            }
            for r in rows
        ],
    }
