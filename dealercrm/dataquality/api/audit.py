"""Data-quality audit API (under /api/dataquality/).

GET /quality/scores?period=YYYY-MM — the month's scores of the dealers the user sees, ranked;
GET /quality/failures?check=&dealer=&period= — one check's failing records of a dealer (paged);
GET/PUT /quality/policy — the brand's weights, required fields and days (OEM admins);
PUT /quality/rebate-bands — the brand's rebate bands (OEM admins);
GET /quality/rebates?period= — the rebate table (OEM). Errors are 422 keyed by field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import get_dealer_for_user, visible_dealers
from dealercrm.customers.contact_masking import mask_phone

from ..selectors import audit as selectors
from ..services.audit import audit_policy_save, rebate_bands_save
from ..services.audit_checks import DIMENSIONS

router = Router(tags=["dataquality"])


class ScoreOut(Schema):
    dealer_id: int
    dealer_code: str
    dealer_name: str
    period: dt.date
    score: float
    completeness: float
    validity: float
    uniqueness: float
    timeliness: float
    consistency: float
    rank: int | None
    ranked_of: int | None
    customers: int
    failures: dict[str, int]
    rebate_percent: float | None


class FailureOut(Schema):
    model: str
    id: int
    customer_id: int | None
    label: str
    detail: str


class CheckOut(Schema):
    code: str
    label: str
    dimension: str


class FailuresOut(Schema):
    check: str
    label: str
    dealer_id: int | None
    period: dt.date | None
    count: int
    page: int
    pages: int
    results: list[FailureOut]
    # Without ?check=: the brand's checks, to choose from.
    checks: list[CheckOut] = []


class PolicyIO(Schema):
    weights: dict[str, float]
    required_fields: list[str]
    timeliness_days: int


class BandIO(Schema):
    min_score: float
    rebate_percent: float
    label: str = ""


class RebateOut(Schema):
    dealer_code: str
    dealer_name: str
    region: str
    score: float | None
    rank: int | None
    ranked_of: int | None
    band: str
    rebate_percent: float | None


def _brand_id(request: HttpRequest) -> int:
    brand_id = selectors.audit_brand_id(request.user)
    if brand_id is None:
        raise Http404
    return brand_id


def _period(value: str | None, dealer_ids: list[int]) -> dt.date:
    period, error = selectors.parse_period(value)
    if error:
        raise ValidationError({"period": [error]})
    return period or selectors.latest_period(dealer_ids)


def _network_only(request: HttpRequest) -> None:
    if request.user.dealer_id:
        raise Http404


@router.get("/quality/scores", response=list[ScoreOut])
@api_permission(Perm.VIEW_DATA_QUALITY)
def quality_scores(request: HttpRequest, period: str | None = None):  # noqa: ANN201
    brand_id = _brand_id(request)
    dealers = list(visible_dealers(request.user).filter(brand_id=brand_id, is_active=True))
    month = _period(period, [d.pk for d in dealers])
    return [
        {
            "dealer_id": r.dealer.pk,
            "dealer_code": r.dealer.code,
            "dealer_name": r.dealer.name,
            "period": month,
            "score": r.score.score,
            **{d: getattr(r.score, d) for d in DIMENSIONS},
            "rank": r.score.rank,
            "ranked_of": r.score.ranked_of,
            "customers": r.score.customers,
            "failures": r.score.failures,
            "rebate_percent": float(r.rebate_percent) if r.rebate_percent is not None else None,
        }
        for r in selectors.brand_ranking(brand_id, month, dealers)
        if r.score is not None
    ]


def _failure(table: str, record: Any) -> dict[str, Any]:
    if table == "customer":
        return {
            "model": "customer",
            "id": record.pk,
            "customer_id": record.pk,
            "label": record.name,
            "detail": record.id_number_masked,
        }
    if table == "phone":
        return {
            "model": "customer_phone",
            "id": record.pk,
            "customer_id": record.customer_id,
            "label": record.customer.name,
            "detail": mask_phone(record.number),
        }
    if table == "vehicle":
        return {
            "model": "vehicle",
            "id": record.pk,
            "customer_id": record.owner_id,
            "label": record.plate or record.vin,
            "detail": record.vin,
        }
    return {
        "model": "order",
        "id": record.pk,
        "customer_id": record.customer_id,
        "label": record.number,
        "detail": f"{record.ordered_on} → {record.delivered_on} ({record.created_at.date()})",
    }


@router.get("/quality/failures", response=FailuresOut)
@api_permission(Perm.VIEW_DATA_QUALITY)
def quality_failures(  # noqa: ANN201
    request: HttpRequest,
    check: str = "",
    dealer: int | None = None,
    period: str | None = None,
    page: int = 1,
):
    brand_id = _brand_id(request)
    policy = selectors.policy_of(brand_id)
    if not check:
        return {
            "check": "",
            "label": "",
            "dealer_id": dealer,
            "period": None,
            "count": 0,
            "page": 1,
            "pages": 0,
            "results": [],
            "checks": [
                {"code": c.code, "label": str(c.label), "dimension": c.dimension}
                for c in policy.checks()
            ],
        }
    if request.user.dealer_id:
        if dealer not in (None, request.user.dealer_id):
            raise Http404
        dealer_obj = request.user.dealer
    elif dealer is None:
        raise ValidationError({"dealer": [_("Choose the dealer.")]})
    else:
        dealer_obj = get_dealer_for_user(request.user, dealer)
    month = _period(period, [dealer_obj.pk])
    found = selectors.check_for(policy, check)
    if found is None:
        raise ValidationError(
            {"check": [_("“%(code)s” is not one of this brand's checks.") % {"code": check}]}
        )
    records = selectors.failing_records(found, dealer_id=dealer_obj.pk, period=month)
    paged = Paginator(records, 100).get_page(page)
    return {
        "check": found.code,
        "label": str(found.label),
        "dealer_id": dealer_obj.pk,
        "period": month,
        "count": paged.paginator.count,
        "page": paged.number,
        "pages": paged.paginator.num_pages,
        "results": [_failure(found.table, r) for r in paged.object_list],
    }


def _policy_answer(brand_id: int) -> dict[str, Any]:
    policy = selectors.policy_of(brand_id)
    return {
        "weights": policy.weights,
        "required_fields": policy.required_fields,
        "timeliness_days": policy.timeliness_days,
    }


@router.get("/quality/policy", response=PolicyIO)
@api_permission(Perm.MANAGE_AUDIT)
def quality_policy_get(request: HttpRequest):  # noqa: ANN201
    _network_only(request)
    return _policy_answer(_brand_id(request))


@router.put("/quality/policy", response=PolicyIO)
@api_permission(Perm.MANAGE_AUDIT)
def quality_policy_put(request: HttpRequest, payload: PolicyIO):  # noqa: ANN201
    _network_only(request)
    brand_id = _brand_id(request)
    audit_policy_save(
        actor=request.user,
        brand_id=brand_id,
        weights=payload.weights,
        required_fields=payload.required_fields,
        timeliness_days=payload.timeliness_days,
    )
    return _policy_answer(brand_id)


@router.put("/quality/rebate-bands", response=list[BandIO])
@api_permission(Perm.MANAGE_AUDIT)
def quality_rebate_bands_put(request: HttpRequest, payload: list[BandIO]):  # noqa: ANN201
    _network_only(request)
    rows = rebate_bands_save(
        actor=request.user,
        brand_id=_brand_id(request),
        bands=[(b.min_score, b.rebate_percent, b.label) for b in payload],
    )
    return [
        {
            "min_score": float(b.min_score),
            "rebate_percent": float(b.rebate_percent),
            "label": b.label,
        }
        for b in rows
    ]


@router.get("/quality/rebates", response=list[RebateOut])
@api_permission(Perm.EXPORT_REBATES)
def quality_rebates(request: HttpRequest, period: str | None = None):  # noqa: ANN201
    _network_only(request)
    brand_id = _brand_id(request)
    dealer_ids = list(
        visible_dealers(request.user).filter(brand_id=brand_id).values_list("pk", flat=True)
    )
    month = _period(period, dealer_ids)
    return [
        {
            **r.__dict__,
            "rebate_percent": float(r.rebate_percent) if r.rebate_percent is not None else None,
        }
        for r in selectors.rebate_table(brand_id=brand_id, period=month)
    ]
