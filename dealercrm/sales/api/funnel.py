"""API: the funnel figures (the dashboard's, as JSON), from the roll-up cells.

Same filters and same scope as the page: a dealer's user gets their dealer's figures only; a
network user the brand's dealers, one of them with `dealer_id` (another brand's dealer: 404).
An invalid filter answers 422 naming it.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm

from ..forms.funnel import FunnelFilterForm
from ..selectors import funnel as selectors
from ..selectors.funnel import FunnelRow

router = Router(tags=["sales"])


class FunnelQuery(Schema):
    months: int = Field(default=selectors.DEFAULT_PERIOD, description="3, 6, 12, 24 or 36")
    dealer_id: int | None = Field(default=None, description="Network users: one dealer")
    channel: str = ""
    consultant_id: int | None = Field(default=None, description="With one dealer in view")
    car_model_id: int | None = None


class FunnelRowOut(Schema):
    key: str | None = Field(
        description="Channel, month (YYYY-MM-DD), model, consultant or dealer id"
    )
    label: str
    leads: int
    contacted: int
    test_driven: int
    negotiated: int
    ordered: int
    delivered: int
    lost: int
    responded: int = Field(description="Leads given a first response")
    responded_in_time: int
    conversion_percent: float | None = Field(description="Orders per lead, %")
    lost_percent: float | None
    response_minutes: float | None = Field(description="Average minutes to the first response")
    in_time_percent: float | None
    decision_days: float | None = Field(description="Average days from lead to order")
    delayed_orders: int | None = None
    delays_told_in_time_percent: float | None = None


class StageOut(Schema):
    key: str
    label: str
    count: int
    from_previous: float | None = Field(description="% of the stage before")
    from_leads: float | None = Field(description="% of all leads")


class LossOut(Schema):
    reason: str
    label: str
    lost: int


class DocumentsOut(Schema):
    decision_days: int
    referral_percent: float
    advertising_percent: float
    delay_told_percent: float


class FunnelOut(Schema):
    since: datetime.date = Field(description="First month of the period")
    until: datetime.date = Field(description="First day after the period")
    as_of: datetime.datetime | None = Field(description="When the figures were last rolled up")
    total: FunnelRowOut
    stages: list[StageOut]
    by_channel: list[FunnelRowOut]
    by_month: list[FunnelRowOut]
    by_model: list[FunnelRowOut]
    by_consultant: list[FunnelRowOut]
    by_dealer: list[FunnelRowOut]
    referral: FunnelRowOut
    advertising: FunnelRowOut
    loss_reasons: list[LossOut]
    delay_told_in_time_percent: float | None
    delayed_orders: int | None
    documents: DocumentsOut


def _row(row: FunnelRow) -> dict:
    key = row.key
    if isinstance(key, datetime.date):
        key = key.isoformat()
    return {
        "key": None if key is None else str(key),
        "label": row.label,
        **{
            n: getattr(row, n)
            for n in (
                "leads",
                "contacted",
                "test_driven",
                "negotiated",
                "ordered",
                "delivered",
                "lost",
                "responded",
                "responded_in_time",
                "conversion_percent",
                "lost_percent",
                "response_minutes",
                "in_time_percent",
                "decision_days",
            )
        },
        "delayed_orders": row.extra.get("delayed") if row.extra else None,
        "delays_told_in_time_percent": row.extra.get("percent") if row.extra else None,
    }


@router.get("/funnel", response=FunnelOut)
@api_permission(Perm.VIEW_FUNNEL)
def funnel_get(request: HttpRequest, query: Query[FunnelQuery]) -> dict:
    """The funnel: counts and conversion per stage, by channel, month, model, consultant (one
    dealer in view) and dealer (network users); first response; decision cycle; referral versus
    advertising; lost reasons; the delay-notice rate; the documents' figures beside them."""
    user = request.user
    options = selectors.funnel_options(user, dealer_id=query.dealer_id)
    # A dealer the user may not see answers as a missing one.
    if query.dealer_id is not None and query.dealer_id != options.single_dealer_id:
        raise Http404
    data = {
        "months": query.months,
        "dealer": query.dealer_id if options.is_network else None,
        "channel": query.channel,
        "consultant": query.consultant_id,
        "car_model": query.car_model_id,
    }
    form = FunnelFilterForm({k: "" if v is None else v for k, v in data.items()}, options=options)
    if not form.is_valid():
        names = {"dealer": "dealer_id", "consultant": "consultant_id", "car_model": "car_model_id"}
        raise ValidationError(
            {names.get(k, k): [str(e) for e in v] for k, v in form.errors.items()}
        )
    if query.consultant_id is not None and "consultant" not in form.fields:
        raise ValidationError(
            {"consultant_id": _("Choose a dealer before filtering by consultant.")}
        )
    figures = selectors.funnel_figures(user, form.filters(), options)
    delay = figures.delay.extra if figures.delay else {}
    documents = figures.documents
    return {
        "since": figures.start,
        "until": figures.end,
        "as_of": figures.as_of,
        "total": _row(figures.total),
        "stages": figures.total.stages(),
        "by_channel": [_row(r) for r in figures.by_channel],
        "by_month": [_row(r) for r in figures.by_month],
        "by_model": [_row(r) for r in figures.by_model],
        "by_consultant": [_row(r) for r in figures.by_consultant],
        "by_dealer": [_row(r) for r in figures.by_dealer],
        "referral": _row(figures.referral),
        "advertising": _row(figures.advertising),
        "loss_reasons": [
            {"reason": r.key, "label": r.label, "lost": r.lost} for r in figures.loss_reasons
        ],
        "delay_told_in_time_percent": delay.get("percent"),
        "delayed_orders": delay.get("delayed"),
        "documents": {k: (float(v) if isinstance(v, Decimal) else v) for k, v in documents.items()},
    }
