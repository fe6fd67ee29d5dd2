"""Reads of OEM dispatch: the OEM's list and detail, and the dealer scorecard.

Only the network reads dispatches (DISPATCH_LEADS, or VIEW_FUNNEL with VIEW_NETWORK): dealer
staff never see the table, unreleased rows above all; what reaches them is the lead.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm, Role

from ..models import LeadStage, OemDispatch

DISPATCH_PAGE_SIZE = 50
SCORECARD_DEFAULT_DAYS = 90


class DispatchStatus:
    """What the list filters by: waiting for its release day, or released to the dealer."""

    WAITING = "waiting"
    RELEASED = "released"
    VALUES = (WAITING, RELEASED)


def _reads_dispatches(user: User) -> bool:
    return user.has_perm(Perm.DISPATCH_LEADS) or (
        user.has_perm(Perm.VIEW_FUNNEL) and user.has_perm(Perm.VIEW_NETWORK)
    )


def visible_dispatches(user: User) -> QuerySet[OemDispatch]:
    """The dispatches of the user's network (inside the active scope); none for dealer staff."""
    qs = OemDispatch.objects.all()
    if not user.is_authenticated or not user.is_active or not _reads_dispatches(user):
        return qs.none()
    if user.role == Role.SYSTEM_ADMIN:
        return qs
    if user.dealer_id or not user.brand_id:
        return qs.none()
    return qs.filter(dealer__brand_id=user.brand_id)


def get_dispatch_for_user(user: User, dispatch_id: int | str) -> OemDispatch:
    """The dispatch with its dealer, model and lead, or Http404 alike for missing and not visible."""
    try:
        return (
            visible_dispatches(user)
            .select_related("dealer", "car_model", "lead", "lead__consultant", "created_by")
            .get(pk=int(dispatch_id))
        )
    except (OemDispatch.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def _parse_date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _parse_int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class DispatchFilters:
    """The list's filters (test-drive dates); empty values mean "any"."""

    dealer_id: int | None = None
    status: str = ""
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    q: str = ""

    @classmethod
    def from_params(cls, params: Any) -> DispatchFilters:
        """From query parameters; malformed values are ignored, not errors."""
        status = params.get("status") or ""
        return cls(
            dealer_id=_parse_int(params.get("dealer")),
            status=status if status in DispatchStatus.VALUES else "",
            date_from=_parse_date(params.get("date_from")),
            date_to=_parse_date(params.get("date_to")),
            q=(params.get("q") or "").strip()[:100],
        )


def dispatch_list_queryset(
    user: User, filters: DispatchFilters | None = None
) -> QuerySet[OemDispatch]:
    filters = filters or DispatchFilters()
    qs = visible_dispatches(user)
    if filters.dealer_id:
        qs = qs.filter(dealer_id=filters.dealer_id)
    if filters.status == DispatchStatus.WAITING:
        qs = qs.filter(released_at__isnull=True)
    elif filters.status == DispatchStatus.RELEASED:
        qs = qs.filter(released_at__isnull=False)
    if filters.date_from:
        qs = qs.filter(test_drive_date__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(test_drive_date__lte=filters.date_to)
    if filters.q:
        qs = qs.filter(
            Q(prospect_name__contains=filters.q)
            | Q(external_ref=filters.q)
            | Q(campaign__contains=filters.q)
        )
    return qs.select_related("dealer", "car_model", "lead").order_by("-test_drive_date", "-id")


def dispatch_list(
    user: User,
    filters: DispatchFilters | None = None,
    *,
    page: int | str = 1,
    per_page: int = DISPATCH_PAGE_SIZE,
) -> Page:
    return Paginator(dispatch_list_queryset(user, filters), per_page).get_page(page)


# --- the scorecard ------------------------------------------------------------------------------

SCORE_COUNTS = (
    "dispatched",
    "received",
    "contacted_on_time",
    "test_driven",
    "converted",
    "lost",
    "loss_pending",
)
# Rates over what the dealer received (released); "received" over what was dispatched.
SCORE_RATES = {
    "received": "dispatched",
    "contacted_on_time": "received",
    "test_driven": "received",
    "converted": "received",
    "lost": "received",
}
SORT_KEYS = frozenset({"dealer", *SCORE_COUNTS, *(f"{name}_rate" for name in SCORE_RATES)})


@dataclass(frozen=True)
class ScorecardRow:
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

    def rate(self, name: str) -> float | None:
        base = getattr(self, SCORE_RATES[name])
        return round(getattr(self, name) / base, 4) if base else None

    @property
    def received_rate(self) -> float | None:
        return self.rate("received")

    @property
    def contacted_on_time_rate(self) -> float | None:
        return self.rate("contacted_on_time")

    @property
    def test_driven_rate(self) -> float | None:
        return self.rate("test_driven")

    @property
    def converted_rate(self) -> float | None:
        return self.rate("converted")

    @property
    def lost_rate(self) -> float | None:
        return self.rate("lost")


@dataclass(frozen=True)
class ScorecardPeriod:
    """Dispatches whose test-drive date falls in [date_from, date_to]."""

    date_from: datetime.date
    date_to: datetime.date

    @classmethod
    def from_params(cls, params: Any, *, today: datetime.date | None = None) -> ScorecardPeriod:
        today = today or timezone.localdate()
        date_to = _parse_date(params.get("date_to")) or today
        date_from = _parse_date(params.get("date_from")) or date_to - datetime.timedelta(
            days=SCORECARD_DEFAULT_DAYS
        )
        if date_from > date_to:
            date_from, date_to = date_to, date_from
        return cls(date_from=date_from, date_to=date_to)


def scorecard(
    user: User,
    period: ScorecardPeriod,
    *,
    sort: str = "dealer",
    descending: bool = False,
    dealer_id: int | None = None,
) -> list[ScorecardRow]:
    """Per dealer, of the dispatches in the period: how many were dispatched, received (released),
    contacted within the first-response time, test-driven, converted (ordered), lost, and waiting
    for a loss decision. One aggregate query (grouped by dealer), however many dealers."""
    lead_open = ~Q(lead__stage__in=[LeadStage.DELIVERED, LeadStage.LOST])
    qs = visible_dispatches(user).filter(
        test_drive_date__gte=period.date_from, test_drive_date__lte=period.date_to
    )
    if dealer_id:
        qs = qs.filter(dealer_id=dealer_id)
    aggregated = (
        qs.values("dealer_id", "dealer__code", "dealer__name")
        .annotate(
            dispatched=Count("id"),
            received=Count("id", filter=Q(released_at__isnull=False)),
            contacted_on_time=Count(
                "id",
                filter=Q(
                    lead__first_contacted_at__isnull=False,
                    lead__first_response_due_at__isnull=False,
                    lead__first_contacted_at__lte=F("lead__first_response_due_at"),
                ),
            ),
            test_driven=Count("id", filter=Q(lead__test_drive_at__isnull=False)),
            converted=Count("id", filter=Q(lead__ordered_at__isnull=False)),
            lost=Count("id", filter=Q(lead__stage=LeadStage.LOST)),
            loss_pending=Count("id", filter=Q(lead__loss_requested_at__isnull=False) & lead_open),
        )
        .order_by()
    )
    rows = [
        ScorecardRow(
            dealer_id=r["dealer_id"],
            dealer_code=r["dealer__code"],
            dealer_name=r["dealer__name"],
            **{name: r[name] for name in SCORE_COUNTS},
        )
        for r in aggregated
    ]
    return sort_scorecard(rows, sort=sort, descending=descending)


def sort_scorecard(
    rows: list[ScorecardRow], *, sort: str = "dealer", descending: bool = False
) -> list[ScorecardRow]:
    if sort not in SORT_KEYS or sort == "dealer":
        return sorted(rows, key=lambda r: r.dealer_code, reverse=descending)

    def key(row: ScorecardRow) -> tuple[bool, float, str]:
        value = getattr(row, sort)
        # Dealers without a rate (nothing received) go last whichever way the column is sorted.
        missing = value is None
        number = 0.0 if missing else float(value)
        return (missing if not descending else not missing, number, row.dealer_code)

    return sorted(rows, key=key, reverse=descending)


def scorecard_totals(rows: list[ScorecardRow]) -> ScorecardRow:
    return ScorecardRow(
        dealer_id=0,
        dealer_code="",
        dealer_name="",
        **{name: sum(getattr(r, name) for r in rows) for name in SCORE_COUNTS},
    )
