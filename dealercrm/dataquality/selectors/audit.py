"""Reads of the data-quality audit: which brand and period a user looks at, a dealer's scores and
trend, the brand's ranking with rebate bands, the failing records of one check (the same SQL
predicate the run counted with), and the rebate table for finance."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import Brand, Dealer, User
from dealercrm.core.permissions import Role

from ..models import DealerAuditScore, RebateBand
from ..services.audit import (
    Policy,
    bind,
    month_start,
    period_values,
    policy_for_brand,
    previous_months,
    rebate_for,
)
from ..services.audit_checks import DIMENSION_LABELS, DIMENSIONS, Check, period_filter_sql

TREND_MONTHS = 12


def audit_brand_id(user: User) -> int | None:
    """The brand whose audit the user sees: their own, their dealer's, or (system admin) the
    first brand."""
    if user.brand_id:
        return user.brand_id
    if user.dealer_id:
        return user.dealer.brand_id
    if user.role == Role.SYSTEM_ADMIN:
        return Brand.objects.order_by("pk").values_list("pk", flat=True).first()
    return None


def parse_period(value: str | None) -> tuple[dt.date | None, str]:
    """A "YYYY-MM" (or a date) as the month's first day; an error message when unreadable."""
    if not value:
        return None, ""
    text = value.strip()
    for pattern in ("%Y-%m", "%Y-%m-%d"):
        try:
            return month_start(dt.datetime.strptime(text, pattern).date()), ""  # noqa: DTZ007
        except ValueError:
            continue
    return None, _("“%(value)s” is not a month: write it as YYYY-MM, e.g. 2024-09.") % {
        "value": value
    }


def current_period() -> dt.date:
    return month_start(timezone.localdate())


def latest_period(dealer_ids: list[int]) -> dt.date:
    """The newest audited month of these dealers, else this month."""
    latest = (
        DealerAuditScore.objects.filter(dealer_id__in=dealer_ids)
        .order_by("-period")
        .values_list("period", flat=True)
        .first()
    )
    return latest or current_period()


def brand_periods(dealer_ids: list[int]) -> list[dt.date]:
    """The audited months, newest first (for the period picker)."""
    return list(
        DealerAuditScore.objects.filter(dealer_id__in=dealer_ids)
        .order_by("-period")
        .values_list("period", flat=True)
        .distinct()[:36]
    )


def dealer_trend(dealer_id: int, period: dt.date) -> list[dict]:
    """The 12 months ending with `period`: score and dimensions (None where not audited)."""
    months = previous_months(period, TREND_MONTHS)
    rows = {
        r.period: r
        for r in DealerAuditScore.objects.filter(
            dealer_id=dealer_id, period__gte=months[0], period__lte=months[-1]
        )
    }
    trend = []
    for month in months:
        row = rows.get(month)
        trend.append(
            {
                "label": month.strftime("%Y-%m"),
                "score": row.score if row else None,
                **{d: (getattr(row, d) if row else None) for d in DIMENSIONS},
            }
        )
    return trend


@dataclass
class FailingCheck:
    code: str
    label: str
    dimension: str
    dimension_label: str
    count: int


def failing_checks(score: DealerAuditScore | None, policy: Policy) -> list[FailingCheck]:
    """The checks that failed for the dealer, in the policy's order, with their counts."""
    if score is None:
        return []
    return [
        FailingCheck(
            code=c.code,
            label=str(c.label),
            dimension=c.dimension,
            dimension_label=str(DIMENSION_LABELS[c.dimension]),
            count=score.failures[c.code],
        )
        for c in policy.checks()
        if score.failures.get(c.code)
    ]


def dimension_rows(score: DealerAuditScore | None, weights: dict[str, float]) -> list[dict]:
    return [
        {
            "key": d,
            "label": str(DIMENSION_LABELS[d]),
            "score": getattr(score, d) if score else None,
            "weight": (score.weights if score and score.weights else weights).get(d, 0),
        }
        for d in DIMENSIONS
    ]


def bands_for_brand(brand_id: int) -> list[RebateBand]:
    return list(RebateBand.objects.filter(brand_id=brand_id).order_by("-min_score"))


@dataclass
class RankedDealer:
    dealer: Dealer
    score: DealerAuditScore | None
    band: RebateBand | None

    @property
    def rebate_percent(self) -> Decimal | None:
        return self.band.rebate_percent if self.band else None


def brand_ranking(brand_id: int, period: dt.date, dealers: list[Dealer]) -> list[RankedDealer]:
    """Every dealer given, best first (unaudited dealers last), with their rebate band."""
    scores = {
        s.dealer_id: s
        for s in DealerAuditScore.objects.filter(
            dealer_id__in=[d.pk for d in dealers], period=period
        )
    }
    bands = bands_for_brand(brand_id)
    rows = [
        RankedDealer(
            dealer=d,
            score=scores.get(d.pk),
            band=rebate_for(scores[d.pk].score, bands) if d.pk in scores else None,
        )
        for d in dealers
    ]
    rows.sort(
        key=lambda r: (
            r.score is None,
            r.score.rank if r.score and r.score.rank else 0,
            r.dealer.code,
        )
    )
    return rows


def check_for(policy: Policy, code: str) -> Check | None:
    return next((c for c in policy.checks() if c.code == code), None)


def failing_records(check: Check, *, dealer_id: int, period: dt.date) -> QuerySet:
    """The records of the dealer that fail the check in the period, by the very predicate the
    run counts with, oldest first."""
    model = check.model()
    predicate = (
        f"CASE WHEN ({period_filter_sql(check.table)}) AND ({check.applies_sql()})"
        f" AND ({check.fails_sql()}) THEN 1 ELSE 0 END"
    )
    brand_id = Dealer.objects.filter(pk=dealer_id).values_list("brand_id", flat=True).first()
    values = {**period_values(period), "brand": brand_id, "true": True, "dealer": dealer_id}
    sql, params = bind(predicate, values)
    qs = model.objects.filter(dealer_id=dealer_id)
    if check.table == "phone":
        qs = qs.select_related("customer")
    elif check.table in ("vehicle", "order"):
        qs = qs.select_related("owner" if check.table == "vehicle" else "customer")
    # The SQL is the checks' own text (no user input); the values are bound parameters.
    failing = RawSQL(sql, params)  # noqa: S611
    return qs.alias(audit_failing=failing).filter(audit_failing=1).order_by("pk")


@dataclass(frozen=True)
class RebateRow:
    dealer_code: str
    dealer_name: str
    region: str
    score: float | None
    rank: int | None
    ranked_of: int | None
    band: str
    rebate_percent: Decimal | None


def rebate_table(*, brand_id: int, period: dt.date) -> list[RebateRow]:
    """Every active dealer of the brand for the month: score, rank, band and rebate %, ranked."""
    dealers = list(
        Dealer.objects.filter(brand_id=brand_id, is_active=True).select_related("region")
    )
    rows = []
    for r in brand_ranking(brand_id, month_start(period), dealers):
        rows.append(
            RebateRow(
                dealer_code=r.dealer.code,
                dealer_name=r.dealer.name,
                region=r.dealer.region.name,
                score=r.score.score if r.score else None,
                rank=r.score.rank if r.score else None,
                ranked_of=r.score.ranked_of if r.score else None,
                band=(r.band.label or f"≥{r.band.min_score}") if r.band else "",
                rebate_percent=r.band.rebate_percent
                if r.band
                else (Decimal("0") if r.score else None),
            )
        )
    return rows


def policy_of(brand_id: int) -> Policy:
    return policy_for_brand(brand_id)
