"""Reads: the complaint archive's statistics, set-based over the complaints received in a period.

Counts by category, dealer, staff member, model and month are one GROUP BY each; SLA compliance,
escalations and the timing figures come from one query over the clocks' timestamps; root causes
(Pareto) and repeat complainants are one grouped query each. The request's dealer scope limits
every query: a dealer's user sees their dealer, network users their brand's dealers.

SLA compliance: a first response is "in time" when `first_response_at <= response_due_at`,
"breached" when later, or when it is still missing and the deadline has passed; complaints
whose deadline is still ahead and unanswered are not counted yet. The same for the solution
(`solved_at` against `solution_due_at`).
"""

from __future__ import annotations

import datetime
import statistics
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import Dealer, User
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import visible_dealers
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.models import CustomerPhone
from dealercrm.vehicles.models import CarModel

from ..models import Complaint, ComplaintCategory, EscalationLevel, RootCause

PERIODS = (3, 6, 12, 24)
DEFAULT_PERIOD = 12
REPEAT_LIMIT = 50  # repeat complainants listed


@dataclass(frozen=True)
class ComplaintStatsFilters:
    months: int = DEFAULT_PERIOD
    dealer_id: int | None = None
    category: str = ""

    def period(self, today: datetime.date) -> tuple[datetime.date, datetime.date]:
        start = today.replace(day=1)
        for _step in range(self.months - 1):
            start = (start - datetime.timedelta(days=1)).replace(day=1)
        following = (today.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
        return start, following


@dataclass
class Count_:
    key: Any
    label: str
    count: int
    percent: float | None = None
    cumulative_percent: float | None = None


@dataclass
class Sla:
    """Compliance and timing of one group of complaints."""

    key: Any = None
    label: str = ""
    complaints: int = 0
    response_in_time: int = 0
    response_breached: int = 0
    solution_in_time: int = 0
    solution_breached: int = 0
    escalated: int = 0  # reached the dealer manager (level 1 or 2)
    escalated_oem: int = 0
    response_hours: list[float] = field(default_factory=list, repr=False)
    solution_hours: list[float] = field(default_factory=list, repr=False)
    rank: int | None = None

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def response_percent(self) -> float | None:
        return self._rate(self.response_in_time, self.response_in_time + self.response_breached)

    @property
    def solution_percent(self) -> float | None:
        return self._rate(self.solution_in_time, self.solution_in_time + self.solution_breached)

    @staticmethod
    def _mean(values: list[float]) -> float | None:
        return round(statistics.fmean(values), 2) if values else None

    @staticmethod
    def _median(values: list[float]) -> float | None:
        return round(statistics.median(values), 2) if values else None

    @property
    def response_mean_hours(self) -> float | None:
        return self._mean(self.response_hours)

    @property
    def response_median_hours(self) -> float | None:
        return self._median(self.response_hours)

    @property
    def solution_mean_hours(self) -> float | None:
        return self._mean(self.solution_hours)

    @property
    def solution_median_hours(self) -> float | None:
        return self._median(self.solution_hours)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": None if self.key is None else str(self.key),
            "label": self.label,
            "rank": self.rank,
            "complaints": self.complaints,
            "response_in_time": self.response_in_time,
            "response_breached": self.response_breached,
            "response_percent": self.response_percent,
            "solution_in_time": self.solution_in_time,
            "solution_breached": self.solution_breached,
            "solution_percent": self.solution_percent,
            "escalated": self.escalated,
            "escalated_oem": self.escalated_oem,
            "response_mean_hours": self.response_mean_hours,
            "response_median_hours": self.response_median_hours,
            "solution_mean_hours": self.solution_mean_hours,
            "solution_median_hours": self.solution_median_hours,
        }


@dataclass
class RepeatComplainant:
    customer_id: int
    dealer_id: int
    name: str
    phone: str
    complaints: int
    last_at: datetime.datetime
    dealer_name: str = ""


@dataclass
class ComplaintStats:
    filters: ComplaintStatsFilters
    start: datetime.date
    end: datetime.date
    total: Sla
    by_category: list[Count_]
    by_staff: list[Count_]
    by_model: list[Count_]
    by_month: list[Count_]
    by_escalation: list[Count_]
    root_causes: list[Count_]  # Pareto: descending, with the cumulative share
    repeat_complainants: list[RepeatComplainant]
    by_dealer: list[Sla] = field(default_factory=list)  # network users: ranked


@dataclass
class ComplaintStatsOptions:
    is_network: bool
    dealers: list[Dealer]

    @property
    def dealer_names(self) -> dict[int, str]:
        return {d.pk: d.name for d in self.dealers}


def complaint_stats_options(user: User) -> ComplaintStatsOptions:
    if user.dealer_id:
        return ComplaintStatsOptions(is_network=False, dealers=[user.dealer])
    return ComplaintStatsOptions(
        is_network=True, dealers=list(visible_dealers(user).order_by("name"))
    )


def parse_filters(
    params, options: ComplaintStatsOptions
) -> tuple[ComplaintStatsFilters, dict[str, str]]:  # noqa: ANN001
    errors: dict[str, str] = {}
    months = DEFAULT_PERIOD
    raw = params.get("months")
    if raw not in (None, ""):
        try:
            months = int(raw)
        except (TypeError, ValueError):
            months = 0
        if months not in PERIODS:
            errors["months"] = _("Choose a period of 3, 6, 12 or 24 months.")
            months = DEFAULT_PERIOD
    dealer_id = None
    raw = params.get("dealer")
    if options.is_network and raw not in (None, ""):
        try:
            dealer_id = int(raw)
        except (TypeError, ValueError):
            dealer_id = None
        if dealer_id not in options.dealer_names:
            errors["dealer"] = _("Unknown dealer.")
            dealer_id = None
    category = params.get("category") or ""
    if category and category not in ComplaintCategory.values:
        errors["category"] = _("Unknown category.")
        category = ""
    return ComplaintStatsFilters(months=months, dealer_id=dealer_id, category=category), errors


def _hours(later: datetime.datetime, earlier: datetime.datetime) -> float:
    return (later - earlier).total_seconds() / 3600


def _counts(rows: list[tuple[Any, int]], labels: dict, *, none_label: str) -> list[Count_]:
    total = sum(n for _k, n in rows)
    out = [
        Count_(
            key=k,
            label=str(labels.get(k, none_label if k in (None, "") else _("Former staff"))),
            count=n,
            percent=round(100 * n / total, 1) if total else None,
        )
        for k, n in rows
    ]
    out.sort(key=lambda c: (-c.count, c.label))
    return out


def _mask_name(name: str) -> str:
    return (name[:1] + "*" * max(len(name) - 1, 1)) if name else ""


def complaint_stats(
    user: User,
    filters: ComplaintStatsFilters,
    options: ComplaintStatsOptions,
    *,
    now: datetime.datetime | None = None,
) -> ComplaintStats:
    now = now or timezone.now()
    start, end = filters.period(timezone.localdate(now))
    zone = timezone.get_current_timezone()
    qs = Complaint.objects.filter(
        created_at__gte=datetime.datetime.combine(start, datetime.time.min, tzinfo=zone),
        created_at__lt=datetime.datetime.combine(end, datetime.time.min, tzinfo=zone),
    )
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    elif filters.dealer_id:
        qs = qs.filter(dealer_id=filters.dealer_id)
    else:
        qs = qs.filter(dealer_id__in=list(options.dealer_names))
    if filters.category:
        qs = qs.filter(category=filters.category)

    def grouped(key: str) -> list[tuple[Any, int]]:
        return list(qs.order_by().values_list(key).annotate(n=Count("id")).order_by())

    by_category = _counts(
        grouped("category"), dict(ComplaintCategory.choices), none_label=_("Other")
    )
    staff_rows = grouped("staff_id")
    staff_names = {
        u.pk: str(u) for u in User.objects.filter(pk__in=[k for k, _n in staff_rows if k])
    }
    by_staff = _counts(staff_rows, staff_names, none_label=_("No staff member named"))
    model_rows = grouped("car_model_id")
    model_names = {
        m.pk: f"{m.series} {m.name} {m.model_year}"
        for m in CarModel.objects.filter(pk__in=[k for k, _n in model_rows if k])
    }
    by_model = _counts(model_rows, model_names, none_label=_("Model not known"))
    month_rows = dict(
        qs.order_by()
        .annotate(m=TruncMonth("created_at"))
        .values_list("m")
        .annotate(n=Count("id"))
        .order_by()
    )
    month_counts: dict[datetime.date, int] = {}
    for at, n in month_rows.items():
        day = at.date() if isinstance(at, datetime.datetime) else at
        month_counts[day] = month_counts.get(day, 0) + n
    by_month = []
    month = start
    while month < end:
        by_month.append(
            Count_(
                key=month.isoformat(),
                label=month.strftime("%Y-%m"),
                count=month_counts.get(month, 0),
            )
        )
        month = (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    by_escalation = _counts(
        grouped("escalation_level"), dict(EscalationLevel.choices), none_label=""
    )
    by_escalation.sort(key=lambda c: c.key)

    # Pareto of root causes: descending, with the cumulative share.
    causes = _counts(
        list(
            qs.exclude(root_cause="")
            .order_by()
            .values_list("root_cause")
            .annotate(n=Count("id"))
            .order_by()
        ),
        dict(RootCause.choices),
        none_label="",
    )
    running = 0
    total_causes = sum(c.count for c in causes)
    for cause in causes:
        running += cause.count
        cause.cumulative_percent = round(100 * running / total_causes, 1)

    # SLA and timing: the clocks' timestamps of the period's complaints, one query.
    total = Sla(key="total", label=_("All"))
    per_dealer: dict[int, Sla] = {}
    clocks = qs.order_by().values_list(
        "dealer_id",
        "created_at",
        "response_due_at",
        "first_response_at",
        "solution_due_at",
        "solved_at",
        "escalation_level",
    )
    for dealer_id, created, response_due, responded, solution_due, solved, level in clocks:
        targets = [total]
        if options.is_network:
            if dealer_id not in per_dealer:
                per_dealer[dealer_id] = Sla(
                    key=dealer_id, label=options.dealer_names.get(dealer_id, "")
                )
            targets.append(per_dealer[dealer_id])
        for sla in targets:
            sla.complaints += 1
            if response_due:
                if responded:
                    if responded <= response_due:
                        sla.response_in_time += 1
                    else:
                        sla.response_breached += 1
                elif response_due < now:
                    sla.response_breached += 1
            if solution_due:
                if solved:
                    if solved <= solution_due:
                        sla.solution_in_time += 1
                    else:
                        sla.solution_breached += 1
                elif solution_due < now:
                    sla.solution_breached += 1
            if responded:
                sla.response_hours.append(_hours(responded, created))
            if solved:
                sla.solution_hours.append(_hours(solved, created))
            if level >= EscalationLevel.DEALER_MANAGER:
                sla.escalated += 1
            if level >= EscalationLevel.OEM:
                sla.escalated_oem += 1

    by_dealer: list[Sla] = []
    if options.is_network:
        shown = [filters.dealer_id] if filters.dealer_id else list(options.dealer_names)
        by_dealer = [
            per_dealer.get(pk) or Sla(key=pk, label=options.dealer_names.get(pk, ""))
            for pk in shown
        ]
        # Best first: solutions in time, then first responses in time, then fewer complaints.
        by_dealer.sort(
            key=lambda s: (
                s.complaints == 0,
                -(s.solution_percent or 0),
                -(s.response_percent or 0),
                s.complaints,
                s.label,
            )
        )
        for position, sla in enumerate(by_dealer, start=1):
            sla.rank = position if sla.complaints else None

    # Repeat complainants: two or more complaints in the period.
    repeats = list(
        qs.order_by()
        .values("customer_id", "dealer_id", "customer__name")
        .annotate(n=Count("id"), last=Max("created_at"))
        .filter(n__gte=2)
        .order_by("-n", "-last")[:REPEAT_LIMIT]
    )
    phones: dict[int, str] = {}
    if repeats:
        for customer_id, number in (
            CustomerPhone.objects.filter(customer_id__in=[r["customer_id"] for r in repeats])
            .order_by("customer_id", "-is_primary", "id")
            .values_list("customer_id", "number")
        ):
            phones.setdefault(customer_id, number)
    full_names = user.has_perm(Perm.VIEW_FULL_CONTACT)
    repeat_complainants = [
        RepeatComplainant(
            customer_id=r["customer_id"],
            dealer_id=r["dealer_id"],
            name=r["customer__name"] if full_names else _mask_name(r["customer__name"]),
            # Masked for everyone, as on the customer pages.
            phone=mask_phone(phones[r["customer_id"]]) if r["customer_id"] in phones else "",
            complaints=r["n"],
            last_at=r["last"],
            dealer_name=options.dealer_names.get(r["dealer_id"], ""),
        )
        for r in repeats
    ]
    return ComplaintStats(
        filters=filters,
        start=start,
        end=end,
        total=total,
        by_category=by_category,
        by_staff=by_staff,
        by_model=by_model,
        by_month=by_month,
        by_escalation=by_escalation,
        root_causes=causes,
        repeat_complainants=repeat_complainants,
        by_dealer=by_dealer,
    )
