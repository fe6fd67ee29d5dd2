"""Reads: the funnel dashboard's figures, all from the roll-up cells (models/funnel.py).

A fixed number of grouped queries whatever the number of leads: the cells of the period are
summed by channel, month, model, consultant (one dealer in view) or dealer (network users),
and the loss cells by reason. The dealer scope of the request limits every one of them, so a
dealer manager's figures can only ever be their dealer's.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import Dealer, User
from dealercrm.core.permissions import Role
from dealercrm.core.scoping import visible_dealers
from dealercrm.sales.models import (
    FunnelCell,
    FunnelLossCell,
    FunnelRefresh,
    LeadChannel,
    LossReason,
)
from dealercrm.sales.models.funnel import grain_for
from dealercrm.sales.models.leads import ADVERTISING_CHANNELS
from dealercrm.vehicles.models import CarModel

# What the source documents say, shown beside the dealer's own figures.
DOCUMENT_DECISION_DAYS = 45
DOCUMENT_REFERRAL_CONVERSION = Decimal("0.30")
DOCUMENT_ADVERTISING_CONVERSION = Decimal("0.05")
DOCUMENT_DELAY_TOLD_RATE = Decimal("0.471")

PERIODS = (3, 6, 12, 24, 36)
DEFAULT_PERIOD = 12

COUNTS = (
    "leads",
    "contacted",
    "test_driven",
    "negotiated",
    "ordered",
    "delivered",
    "lost",
    "responded",
    "response_seconds",
    "responded_in_time",
    "decision_seconds",
)


def stage_labels() -> list[tuple[str, str]]:
    """The funnel's stages, top to bottom: (count field, label)."""
    return [
        ("leads", _("Leads")),
        ("contacted", _("Contacted")),
        ("test_driven", _("Test drive")),
        ("negotiated", _("Negotiation")),
        ("ordered", _("Order")),
        ("delivered", _("Delivered")),
    ]


def _ratio(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def percent(rate: Decimal | None) -> float | None:
    return None if rate is None else float((rate * 100).quantize(Decimal("0.1")))


@dataclass
class FunnelRow:
    """The summed cells of one group (a channel, a month, a dealer …) and what follows from them."""

    key: Any = None
    label: str = ""
    leads: int = 0
    contacted: int = 0
    test_driven: int = 0
    negotiated: int = 0
    ordered: int = 0
    delivered: int = 0
    lost: int = 0
    responded: int = 0
    response_seconds: int = 0
    responded_in_time: int = 0
    decision_seconds: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_values(cls, values: dict[str, Any], *, key: Any = None, label: str = "") -> FunnelRow:
        counts: dict[str, Any] = {n: int(values.get(n) or 0) for n in COUNTS}
        return cls(key=key, label=label, **counts)

    def add(self, other: FunnelRow) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def conversion(self) -> Decimal | None:
        """Leads that became orders."""
        return _ratio(self.ordered, self.leads)

    @property
    def conversion_percent(self) -> float | None:
        return percent(self.conversion)

    @property
    def lost_rate(self) -> Decimal | None:
        return _ratio(self.lost, self.leads)

    @property
    def lost_percent(self) -> float | None:
        return percent(self.lost_rate)

    @property
    def response_minutes(self) -> float | None:
        """Average minutes to the first response, over the leads answered."""
        if not self.responded:
            return None
        return round(self.response_seconds / self.responded / 60, 1)

    @property
    def in_time_rate(self) -> Decimal | None:
        return _ratio(self.responded_in_time, self.responded)

    @property
    def in_time_percent(self) -> float | None:
        return percent(self.in_time_rate)

    @property
    def decision_days(self) -> float | None:
        """Average days from the lead to the order, over the ordered leads."""
        if not self.ordered:
            return None
        return round(self.decision_seconds / self.ordered / 86400, 1)

    def stages(self) -> list[dict[str, Any]]:
        """Each stage's count, its share of the previous stage and of all leads."""
        out, previous = [], None
        for name, label in stage_labels():
            count = getattr(self, name)
            out.append(
                {
                    "key": name,
                    "label": label,
                    "count": count,
                    "from_previous": percent(_ratio(count, previous))
                    if previous is not None
                    else None,
                    "from_leads": percent(_ratio(count, self.leads)),
                }
            )
            previous = count
        return out


@dataclass(frozen=True)
class FunnelFilters:
    """What the dashboard is asked for. Ids are checked by the form against what the user sees."""

    months: int = DEFAULT_PERIOD
    dealer_id: int | None = None
    channel: str = ""
    consultant_id: int | None = None
    car_model_id: int | None = None

    def period(self, today: datetime.date) -> tuple[datetime.date, datetime.date]:
        """First month in the period, and the first day after it (this month included)."""
        end = _next_month(today.replace(day=1))
        start = today.replace(day=1)
        for _step in range(self.months - 1):
            start = (start - datetime.timedelta(days=1)).replace(day=1)
        return start, end


def _next_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


@dataclass
class FunnelOptions:
    """What the filters offer the user, and the names the figures need."""

    is_network: bool
    dealers: list[Dealer]
    consultants: list[User]
    car_models: list[CarModel]
    single_dealer_id: int | None  # the one dealer in view, if only one

    @property
    def dealer_names(self) -> dict[int, str]:
        return {d.pk: d.name for d in self.dealers}


def funnel_options(user: User, *, dealer_id: int | None = None) -> FunnelOptions:
    """Dealers (network users), the dealer's consultants (one dealer in view), the brand's
    models. At most three queries."""
    own = user.dealer
    is_network = own is None
    single: int | None
    if own is None:
        dealers = list(visible_dealers(user).order_by("name"))
        single = dealer_id if dealer_id in {d.pk for d in dealers} else None
        brand_id = user.brand_id or (dealers[0].brand_id if dealers else None)
    else:
        dealers = [own]
        single = own.pk
        brand_id = own.brand_id
    consultants = (
        list(
            User.objects.filter(dealer_id=single)
            .filter(Q(role__in=[Role.SALES_CONSULTANT, Role.DEALER_MANAGER]))
            .order_by("display_name", "username")
        )
        if single
        else []
    )
    models = (
        list(CarModel.objects.filter(brand_id=brand_id).order_by("series", "name", "-model_year"))
        if brand_id
        else []
    )
    return FunnelOptions(
        is_network=is_network,
        dealers=dealers,
        consultants=consultants,
        car_models=models,
        single_dealer_id=single,
    )


@dataclass
class FunnelFigures:
    filters: FunnelFilters
    start: datetime.date
    end: datetime.date
    total: FunnelRow
    by_channel: list[FunnelRow]
    by_month: list[FunnelRow]
    by_model: list[FunnelRow]
    by_consultant: list[FunnelRow]
    by_dealer: list[FunnelRow]
    referral: FunnelRow
    advertising: FunnelRow
    loss_reasons: list[FunnelRow]
    delay: FunnelRow | None  # extra: delayed, decided, told_in_time, rate; None: not known
    as_of: datetime.datetime | None

    @property
    def documents(self) -> dict[str, Any]:
        return {
            "decision_days": DOCUMENT_DECISION_DAYS,
            "referral_percent": percent(DOCUMENT_REFERRAL_CONVERSION),
            "advertising_percent": percent(DOCUMENT_ADVERTISING_CONVERSION),
            "delay_told_percent": percent(DOCUMENT_DELAY_TOLD_RATE),
        }


_SUMS = {name: Sum(name) for name in COUNTS}


def _grouped(qs, key: str) -> list[tuple[Any, dict[str, Any]]]:  # noqa: ANN001
    return [(row[key], row) for row in qs.order_by().values(key).annotate(**_SUMS).order_by(key)]


def funnel_figures(
    user: User,
    filters: FunnelFilters,
    options: FunnelOptions,
    *,
    today: datetime.date | None = None,
) -> FunnelFigures:
    """Everything the dashboard shows. Runs in the request's dealer scope (which also bounds
    a network user to the brand's dealers)."""
    today = today or timezone.localdate()
    start, end = filters.period(today)
    cells = FunnelCell.objects.filter(month__gte=start, month__lt=end)
    losses = FunnelLossCell.objects.filter(month__gte=start, month__lt=end)
    dealer_ids: list[int] | None = None
    if not options.is_network and options.single_dealer_id:
        dealer_ids = [options.single_dealer_id]
    elif filters.dealer_id:
        dealer_ids = [filters.dealer_id]
    if dealer_ids is not None:
        cells = cells.filter(dealer_id__in=dealer_ids)
        losses = losses.filter(dealer_id__in=dealer_ids)
    # The dimensions the filters need; each chart adds the one it groups by and reads the
    # coarsest grain that keeps them all.
    filtered: set[str] = set()
    if filters.channel:
        cells = cells.filter(channel=filters.channel)
        losses = losses.filter(channel=filters.channel)
        filtered.add("channel")
    if filters.consultant_id and options.single_dealer_id:
        cells = cells.filter(consultant_id=filters.consultant_id)
        losses = losses.filter(consultant_id=filters.consultant_id)
        filtered.add("consultant_id")
    if filters.car_model_id:
        cells = cells.filter(car_model_id=filters.car_model_id)
        losses = losses.filter(car_model_id=filters.car_model_id)
        filtered.add("car_model_id")

    def grouped(key: str) -> list[tuple[Any, dict[str, Any]]]:
        dimension = {"month": None, "dealer_id": None}.get(key, key)
        needed = filtered | ({dimension} if dimension else set())
        return _grouped(cells.filter(grain=grain_for(needed)), key)

    channel_labels = dict(LeadChannel.choices)
    by_channel = [
        FunnelRow.from_values(v, key=k, label=str(channel_labels.get(k, k)))
        for k, v in grouped("channel")
    ]
    by_channel.sort(key=lambda r: -r.leads)
    total = FunnelRow(key="total", label=_("All"))
    referral = FunnelRow(key="referral", label=_("Referral"))
    advertising = FunnelRow(key="advertising", label=_("Advertising"))
    for row in by_channel:
        total.add(row)
        if row.key == LeadChannel.REFERRAL:
            referral.add(row)
        elif row.key in ADVERTISING_CHANNELS:
            advertising.add(row)

    months = {m: v for m, v in grouped("month")}
    by_month = []
    month = start
    while month < end:  # every month of the period, empty ones too, so the line has no gaps
        by_month.append(
            FunnelRow.from_values(months.get(month, {}), key=month, label=month.strftime("%Y-%m"))
        )
        month = _next_month(month)

    model_names = {m.pk: f"{m.series} {m.name} {m.model_year}" for m in options.car_models}
    by_model = [
        FunnelRow.from_values(
            v, key=k, label=model_names.get(k, _("Not given") if k is None else _("Other model"))
        )
        for k, v in grouped("car_model_id")
    ]
    by_model.sort(key=lambda r: -r.leads)

    by_consultant: list[FunnelRow] = []
    if options.single_dealer_id:
        names = {u.pk: str(u) for u in options.consultants}
        by_consultant = [
            FunnelRow.from_values(
                v, key=k, label=names.get(k, _("Unassigned") if k is None else _("Former staff"))
            )
            for k, v in grouped("consultant_id")
        ]
        by_consultant.sort(key=lambda r: -r.leads)

    by_dealer: list[FunnelRow] = []
    delay: FunnelRow | None = None
    rates = _delay_rates(dealer_ids, start, end - datetime.timedelta(days=1), today)
    if rates is not None:
        delay = FunnelRow(key="delay", label=_("Delayed orders"))
        delay.extra = _delay_extra(rates.values())
    if options.is_network:
        names = options.dealer_names
        figures = dict(grouped("dealer_id"))
        shown = [filters.dealer_id] if filters.dealer_id else list(names)
        for dealer_id in shown:
            row = FunnelRow.from_values(
                figures.get(dealer_id, {}), key=dealer_id, label=names.get(dealer_id, "")
            )
            row.extra = _delay_extra([rates[dealer_id]] if rates and dealer_id in rates else [])
            by_dealer.append(row)

    reason_labels = dict(LossReason.choices)
    loss_reasons = [
        FunnelRow(
            key=row["reason"],
            label=str(reason_labels.get(row["reason"], row["reason"])),
            lost=row["n"],
        )
        for row in losses.filter(grain=grain_for(filtered))
        .order_by()
        .values("reason")
        .annotate(n=Sum("lost"))
        .order_by("-n")
    ]

    refreshes = FunnelRefresh.objects.all()
    if dealer_ids is not None:
        refreshes = refreshes.filter(dealer_id__in=dealer_ids)
    as_of = refreshes.aggregate(at=Min("refreshed_at"))["at"]

    return FunnelFigures(
        filters=filters,
        start=start,
        end=end,
        total=total,
        by_channel=by_channel,
        by_month=by_month,
        by_model=by_model,
        by_consultant=by_consultant,
        by_dealer=by_dealer,
        referral=referral,
        advertising=advertising,
        loss_reasons=loss_reasons,
        delay=delay,
        as_of=as_of,
    )


def _delay_rates(
    dealer_ids: list[int] | None, since: datetime.date, until: datetime.date, today: datetime.date
) -> dict[int, Any] | None:
    """The orders topic's delay-notice rate per dealer; None when it is not available."""
    try:
        from dealercrm.sales.selectors import orders
    except ImportError:  # pragma: no cover
        return None
    rate = getattr(orders, "delay_notice_rate", None)
    if rate is None:  # pragma: no cover
        return None
    return rate(dealer_ids, since, until, today=today)


def _delay_extra(rates: Iterable[Any]) -> dict[str, Any]:
    delayed = decided = told_in_time = 0
    for r in rates:
        delayed += r.delayed
        decided += getattr(r, "decided", r.delayed)
        told_in_time += r.told_in_time
    rate = _ratio(told_in_time, decided)
    return {
        "delayed": delayed,
        "decided": decided,
        "told_in_time": told_in_time,
        "rate": rate,
        "percent": percent(rate),
    }


def row_as_dict(row: FunnelRow) -> dict[str, Any]:
    """A row with its derived figures, for JSON (charts, API)."""
    out = {f.name: getattr(row, f.name) for f in fields(row) if f.name != "extra"}
    out.update(
        conversion_percent=row.conversion_percent,
        lost_percent=row.lost_percent,
        response_minutes=row.response_minutes,
        in_time_percent=row.in_time_percent,
        decision_days=row.decision_days,
    )
    if row.extra:
        out.update({k: v for k, v in row.extra.items() if k != "rate"})
    return out
