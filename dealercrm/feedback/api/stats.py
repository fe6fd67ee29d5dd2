"""API: the satisfaction scores and the complaint archive's statistics, the same numbers as the
pages (same selectors, same scope). A dealer's user gets their dealer's figures only; a network
user the brand's dealers, one of them with `dealer_id` (another brand's dealer: 404). An invalid
filter answers 422 naming it."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm

from ..selectors import complaint_stats as archive
from ..selectors import survey_scores as scores

router = Router()

_NAMES = {
    "dealer": "dealer_id",
    "consultant": "consultant_id",
    "advisor": "advisor_id",
    "car_model": "car_model_id",
}


class ScoreQuery(Schema):
    months: int = Field(default=scores.DEFAULT_PERIOD, description="3, 6, 12 or 24")
    kind: str = Field(default="", description="Survey kind: delivery, service, complaint, ad_hoc")
    dealer_id: int | None = Field(default=None, description="Network users: one dealer")
    consultant_id: int | None = Field(default=None, description="With one dealer in view; 0: none")
    advisor_id: int | None = Field(default=None, description="With one dealer in view; 0: none")
    car_model_id: int | None = None


class ScoreOut(Schema):
    key: str | None = Field(description="Dimension, month (YYYY-MM-DD), dealer, person or model id")
    label: str
    rank: int | None
    csi: float | None = Field(description="Mean experience rating on 0–100")
    csi_interval: list[float] | None = Field(description="95% interval of the CSI")
    csi_answers: int
    csi_small_sample: bool
    expectation: float | None = Field(description="Mean expectation rating on 0–100")
    expectation_answers: int
    gap: float | None = Field(description="Experience − expectation, on 0–100")
    nps: float | None = Field(description="% promoters − % detractors")
    nps_interval: list[float] | None
    nps_answers: int
    nps_small_sample: bool
    promoters: int
    passives: int
    detractors: int
    promoter_percent: float | None
    passive_percent: float | None
    detractor_percent: float | None
    responses: int
    invitations: int = Field(description="Invitations sent (sent, answered or expired)")
    response_rate: float | None = Field(description="Responses per invitation, %")


class ScoresOut(Schema):
    since: datetime.date = Field(description="First month of the period")
    until: datetime.date = Field(description="First day after the period")
    small_sample: int = Field(description="Fewer answers than this are a small sample")
    total: ScoreOut
    by_dimension: list[ScoreOut]
    by_month: list[ScoreOut]
    by_dealer: list[ScoreOut]
    by_consultant: list[ScoreOut]
    by_advisor: list[ScoreOut]
    by_model: list[ScoreOut]


def _check(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationError({_NAMES.get(k, k): [v] for k, v in errors.items()})


@router.get("/scores", response=ScoresOut)
@api_permission(Perm.VIEW_FEEDBACK_STATS)
def scores_get(request: HttpRequest, query: Query[ScoreQuery]) -> dict:
    """CSI per dimension with the expectation gap, NPS with promoters / passives / detractors,
    the response rate, the trend by month with sample sizes and 95% intervals, and tables by
    dealer (network users, ranked), consultant, advisor and model — from the score rollup."""
    user = request.user
    options = scores.score_options(user, dealer_id=query.dealer_id)
    if query.dealer_id is not None and query.dealer_id != options.single_dealer_id:
        raise Http404
    params = {
        "months": query.months,
        "kind": query.kind,
        "dealer": query.dealer_id if options.is_network else None,
        "consultant": query.consultant_id,
        "advisor": query.advisor_id,
        "car_model": query.car_model_id,
    }
    filters, errors = scores.parse_filters(
        {k: "" if v is None else str(v) for k, v in params.items()}, options
    )
    _check(errors)
    figures = scores.dashboard_figures(user, filters, options)
    return {
        "since": figures.start,
        "until": figures.end,
        "small_sample": scores.SMALL_SAMPLE,
        "total": figures.total.as_dict(),
        "by_dimension": [s.as_dict() for s in figures.by_dimension],
        "by_month": [s.as_dict() for s in figures.by_month],
        "by_dealer": [s.as_dict() for s in figures.by_dealer],
        "by_consultant": [s.as_dict() for s in figures.by_consultant],
        "by_advisor": [s.as_dict() for s in figures.by_advisor],
        "by_model": [s.as_dict() for s in figures.by_model],
    }


class ComplaintStatsQuery(Schema):
    months: int = Field(default=archive.DEFAULT_PERIOD, description="3, 6, 12 or 24")
    dealer_id: int | None = Field(default=None, description="Network users: one dealer")
    category: str = ""


class CountOut(Schema):
    key: str | None
    label: str
    count: int
    percent: float | None
    cumulative_percent: float | None = Field(default=None, description="Root causes (Pareto)")


class SlaOut(Schema):
    key: str | None
    label: str
    rank: int | None
    complaints: int
    response_in_time: int
    response_breached: int = Field(description="Late, or missing past the deadline")
    response_percent: float | None
    solution_in_time: int
    solution_breached: int
    solution_percent: float | None
    escalated: int = Field(description="Escalated to the dealer manager (or further)")
    escalated_oem: int
    response_mean_hours: float | None
    response_median_hours: float | None
    solution_mean_hours: float | None
    solution_median_hours: float | None


class RepeatOut(Schema):
    customer_id: int
    dealer_id: int
    name: str = Field(description="Masked for roles without full contact access")
    phone: str = Field(description="Masked")
    complaints: int
    last_at: datetime.datetime


class ComplaintStatsOut(Schema):
    since: datetime.date
    until: datetime.date
    total: SlaOut
    by_category: list[CountOut]
    by_staff: list[CountOut]
    by_model: list[CountOut]
    by_month: list[CountOut]
    by_escalation: list[CountOut]
    root_causes: list[CountOut]
    repeat_complainants: list[RepeatOut]
    by_dealer: list[SlaOut]


def _count(c: archive.Count_) -> dict:
    return {
        "key": None if c.key is None else str(c.key),
        "label": c.label,
        "count": c.count,
        "percent": c.percent,
        "cumulative_percent": c.cumulative_percent,
    }


@router.get("/complaint-stats", response=ComplaintStatsOut)
@api_permission(Perm.VIEW_FEEDBACK_STATS)
def complaint_stats_get(request: HttpRequest, query: Query[ComplaintStatsQuery]) -> dict:
    """Complaints by category, staff member, model, month and escalation level; SLA compliance;
    mean and median time to first response and to solution; root causes as a Pareto list;
    repeat complainants; dealers compared and ranked (network users)."""
    user = request.user
    options = archive.complaint_stats_options(user)
    if query.dealer_id is not None and (
        not options.is_network or query.dealer_id not in options.dealer_names
    ):
        raise Http404
    filters, errors = archive.parse_filters(
        {
            "months": str(query.months),
            "dealer": "" if query.dealer_id is None else str(query.dealer_id),
            "category": query.category,
        },
        options,
    )
    _check(errors)
    stats = archive.complaint_stats(user, filters, options)
    return {
        "since": stats.start,
        "until": stats.end,
        "total": stats.total.as_dict(),
        "by_category": [_count(c) for c in stats.by_category],
        "by_staff": [_count(c) for c in stats.by_staff],
        "by_model": [_count(c) for c in stats.by_model],
        "by_month": [_count(c) for c in stats.by_month],
        "by_escalation": [_count(c) for c in stats.by_escalation],
        "root_causes": [_count(c) for c in stats.root_causes],
        "repeat_complainants": [r.__dict__ for r in stats.repeat_complainants],
        "by_dealer": [s.as_dict() for s in stats.by_dealer],
    }
