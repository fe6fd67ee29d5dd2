"""Reads: the satisfaction dashboard, from the score rollup only (services/scores.py).

A fixed number of grouped queries whatever the number of answers: one by month, dimension and
question kind (trend, dimensions, totals), then one per table (dealers for network users;
consultants, advisors and models). Each reads the coarsest grain of the rollup that holds its
filters and its grouping. The request's dealer scope limits every query, so a dealer's user
can only ever see their dealer's numbers; network users see their brand's dealers.

Definitions (models/surveys.py): CSI = mean of experience ratings on 0–100; gap = mean
experience − mean expectation (0–100) per dimension; NPS = % promoters − % detractors; response
rate = responses / invitations sent in the period. Intervals are 95 % normal approximations:
CSI ± 1.96·s/√n; NPS ± 1.96·SE of the promoter − detractor difference (each answer scored +1,
0, −1). Fewer than SMALL_SAMPLE answers is flagged "small sample".
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import Dealer, User
from dealercrm.core.permissions import Role
from dealercrm.core.scoping import visible_dealers
from dealercrm.vehicles.models import CarModel

from ..models import Aspect, Dimension, QuestionKind, SurveyKind, SurveyScoreRollup
from ..services.scores import ANY, INVITED, RESPONDED

PERIODS = (3, 6, 12, 24)
DEFAULT_PERIOD = 12
SMALL_SAMPLE = 30
Z95 = 1.96
RATING_KINDS = (QuestionKind.RATING_5.value, QuestionKind.RATING_10.value)
SLICES = ("consultant_id", "advisor_id", "car_model_id")


@dataclass
class Score:
    """Summed rollup rows of one group, and the scores that follow from them."""

    key: Any = None
    label: str = ""
    answers: int = 0  # experience ratings
    points: float = 0.0
    points_sq: float = 0.0
    expected_answers: int = 0  # expectation ratings
    expected_points: float = 0.0
    nps_answers: int = 0
    promoters: int = 0
    detractors: int = 0
    responses: int = 0
    invitations: int = 0
    rank: int | None = None

    def add_row(self, row: dict[str, Any]) -> None:
        kind = row["question_kind"]
        n = int(row["n"] or 0)
        if kind in RATING_KINDS:
            if row["aspect"] == Aspect.EXPECTATION:
                self.expected_answers += n
                self.expected_points += float(row["pts"] or 0)
            else:
                self.answers += n
                self.points += float(row["pts"] or 0)
                self.points_sq += float(row["sq"] or 0)
        elif kind == QuestionKind.NPS:
            self.nps_answers += n
            self.promoters += int(row["prom"] or 0)
            self.detractors += int(row["detr"] or 0)
        elif kind == RESPONDED:
            self.responses += n
        elif kind == INVITED:
            self.invitations += n

    # --- CSI -------------------------------------------------------------------------------
    @property
    def csi(self) -> float | None:
        return round(self.points / self.answers, 1) if self.answers else None

    @property
    def csi_interval(self) -> tuple[float, float] | None:
        n = self.answers
        if n < 2:
            return None
        mean = self.points / n
        variance = max(0.0, (self.points_sq - n * mean * mean) / (n - 1))
        half = Z95 * math.sqrt(variance / n)
        return round(max(0.0, mean - half), 1), round(min(100.0, mean + half), 1)

    @property
    def expectation(self) -> float | None:
        if not self.expected_answers:
            return None
        return round(self.expected_points / self.expected_answers, 1)

    @property
    def gap(self) -> float | None:
        """Experience − expectation (negative: the customers got less than they expected)."""
        if not self.answers or not self.expected_answers:
            return None
        return round(self.points / self.answers - self.expected_points / self.expected_answers, 1)

    # --- NPS -------------------------------------------------------------------------------
    @property
    def passives(self) -> int:
        return self.nps_answers - self.promoters - self.detractors

    @property
    def nps(self) -> float | None:
        if not self.nps_answers:
            return None
        return round(100 * (self.promoters - self.detractors) / self.nps_answers, 1)

    def _share(self, part: int) -> float | None:
        return round(100 * part / self.nps_answers, 1) if self.nps_answers else None

    @property
    def promoter_percent(self) -> float | None:
        return self._share(self.promoters)

    @property
    def passive_percent(self) -> float | None:
        return self._share(self.passives)

    @property
    def detractor_percent(self) -> float | None:
        return self._share(self.detractors)

    @property
    def nps_interval(self) -> tuple[float, float] | None:
        n = self.nps_answers
        if n < 2:
            return None
        mean = (self.promoters - self.detractors) / n
        second = (self.promoters + self.detractors) / n
        variance = max(0.0, (second - mean * mean) * n / (n - 1))
        half = Z95 * math.sqrt(variance / n)
        return round(max(-100.0, 100 * (mean - half)), 1), round(min(100.0, 100 * (mean + half)), 1)

    # --- response rate ---------------------------------------------------------------------
    @property
    def response_rate(self) -> float | None:
        if not self.invitations:
            return None
        return round(100 * self.responses / self.invitations, 1)

    @property
    def csi_small(self) -> bool:
        return 0 < self.answers < SMALL_SAMPLE

    @property
    def nps_small(self) -> bool:
        return 0 < self.nps_answers < SMALL_SAMPLE

    def as_dict(self) -> dict[str, Any]:
        key = self.key.isoformat() if isinstance(self.key, datetime.date) else self.key
        return {
            "key": None if key is None else str(key),
            "label": self.label,
            "rank": self.rank,
            "csi": self.csi,
            "csi_interval": list(self.csi_interval) if self.csi_interval else None,
            "csi_answers": self.answers,
            "csi_small_sample": self.csi_small,
            "expectation": self.expectation,
            "expectation_answers": self.expected_answers,
            "gap": self.gap,
            "nps": self.nps,
            "nps_interval": list(self.nps_interval) if self.nps_interval else None,
            "nps_answers": self.nps_answers,
            "nps_small_sample": self.nps_small,
            "promoters": self.promoters,
            "passives": self.passives,
            "detractors": self.detractors,
            "promoter_percent": self.promoter_percent,
            "passive_percent": self.passive_percent,
            "detractor_percent": self.detractor_percent,
            "responses": self.responses,
            "invitations": self.invitations,
            "response_rate": self.response_rate,
        }


@dataclass(frozen=True)
class ScoreFilters:
    """What the dashboard is asked for; ids are checked against the options by the form."""

    months: int = DEFAULT_PERIOD
    kind: str = ""
    dealer_id: int | None = None
    consultant_id: int | None = None
    advisor_id: int | None = None
    car_model_id: int | None = None

    def period(self, today: datetime.date) -> tuple[datetime.date, datetime.date]:
        """First month of the period and the first day after it (this month included)."""
        start = today.replace(day=1)
        for _step in range(self.months - 1):
            start = (start - datetime.timedelta(days=1)).replace(day=1)
        return start, _next_month(today.replace(day=1))

    @property
    def slices(self) -> dict[str, int]:
        values = {
            "consultant_id": self.consultant_id,
            "advisor_id": self.advisor_id,
            "car_model_id": self.car_model_id,
        }
        return {k: v for k, v in values.items() if v is not None}


def _next_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


@dataclass
class ScoreOptions:
    """What the filters offer, and the names the tables need."""

    is_network: bool
    dealers: list[Dealer]
    consultants: list[User]
    advisors: list[User]
    car_models: list[CarModel]
    single_dealer_id: int | None

    @property
    def dealer_names(self) -> dict[int, str]:
        return {d.pk: d.name for d in self.dealers}


def score_options(user: User, *, dealer_id: int | None = None) -> ScoreOptions:
    """Dealers (network users), the dealer's consultants and advisors (one dealer in view), the
    brand's models. At most three queries."""
    own = user.dealer if user.dealer_id else None
    if own is None:
        dealers = list(visible_dealers(user).order_by("name"))
        single = dealer_id if dealer_id in {d.pk for d in dealers} else None
        brand_id = user.brand_id or (dealers[0].brand_id if dealers else None)
    else:
        dealers, single, brand_id = [own], own.pk, own.brand_id
    consultants: list[User] = []
    advisors: list[User] = []
    if single:
        staff = list(
            User.objects.filter(
                dealer_id=single,
                role__in=[Role.SALES_CONSULTANT, Role.SERVICE_ADVISOR, Role.DEALER_MANAGER],
            ).order_by("display_name", "username")
        )
        consultants = [u for u in staff if u.role != Role.SERVICE_ADVISOR]
        advisors = [u for u in staff if u.role != Role.SALES_CONSULTANT]
    car_models = (
        list(CarModel.objects.filter(brand_id=brand_id).order_by("series", "name", "-model_year"))
        if brand_id
        else []
    )
    return ScoreOptions(
        is_network=own is None,
        dealers=dealers,
        consultants=consultants,
        advisors=advisors,
        car_models=car_models,
        single_dealer_id=single,
    )


@dataclass
class DashboardFigures:
    filters: ScoreFilters
    start: datetime.date
    end: datetime.date
    total: Score
    by_dimension: list[Score]
    by_month: list[Score]
    by_dealer: list[Score] = field(default_factory=list)
    by_consultant: list[Score] = field(default_factory=list)
    by_advisor: list[Score] = field(default_factory=list)
    by_model: list[Score] = field(default_factory=list)


_SUMS = {
    "n": Sum("answers"),
    "pts": Sum("points"),
    "sq": Sum("points_sq"),
    "prom": Sum("promoters"),
    "detr": Sum("detractors"),
}


def _grain(qs, needed: set[str], model_ids: list[int]):  # noqa: ANN001, ANN202
    """Rows of the coarsest grain holding every slice in `needed`. The models are named as a
    list rather than a range, so an index on (dealer, car_model_id, advisor_id, consultant_id,
    month) seeks each one instead of running through the full-slice rows."""
    if len(needed) > 1:
        return qs.filter(consultant_id__gte=0, advisor_id__gte=0, car_model_id__gte=0)
    lookups: dict[str, Any] = {name: ANY for name in SLICES if name not in needed}
    for name in needed:
        lookups[f"{name}__gte"] = 0
    if "car_model_id" in needed:
        del lookups["car_model_id__gte"]
        lookups["car_model_id__in"] = [0, *model_ids]
    return qs.filter(**lookups)


def _grouped(qs, keys: list[str]) -> list[dict[str, Any]]:  # noqa: ANN001
    return list(qs.order_by().values(*keys, "question_kind", "aspect").annotate(**_SUMS).order_by())


def _scores(rows: list[dict[str, Any]], key: str, labels: dict) -> dict[Any, Score]:
    out: dict[Any, Score] = {}
    for row in rows:
        k = row[key]
        score = out.get(k)
        if score is None:
            score = out[k] = Score(key=k, label=str(labels.get(k, k)))
        score.add_row(row)
    return out


def _ranked(scores: list[Score]) -> list[Score]:
    """Best CSI first (then NPS); groups without answers last, unranked."""
    scores.sort(
        key=lambda s: (
            s.csi is None,
            -(s.csi or 0),
            -(s.nps if s.nps is not None else -101),
            s.label,
        )
    )
    for position, score in enumerate(scores, start=1):
        score.rank = position if (score.answers or score.nps_answers) else None
    return scores


def dashboard_figures(
    user: User,
    filters: ScoreFilters,
    options: ScoreOptions,
    *,
    today: datetime.date | None = None,
) -> DashboardFigures:
    """Everything the dashboard shows (and the API returns). Runs in the request's scope."""
    today = today or timezone.localdate()
    start, end = filters.period(today)
    rows = SurveyScoreRollup.objects.filter(month__gte=start, month__lt=end)
    if not options.is_network and options.single_dealer_id:
        rows = rows.filter(dealer_id=options.single_dealer_id)
    elif filters.dealer_id:
        rows = rows.filter(dealer_id=filters.dealer_id)
    else:
        rows = rows.filter(dealer_id__in=[d.pk for d in options.dealers])
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    slices = filters.slices
    if slices:
        rows = rows.filter(**slices)
    filtered = set(slices)
    model_ids = [m.pk for m in options.car_models]

    # 1. Trend, dimensions and totals: one query.
    base = _grouped(_grain(rows, filtered, model_ids), ["month", "dimension"])
    dimension_labels = dict(Dimension.choices)
    dimension_labels[""] = _("No dimension")
    total = Score(key="total", label=_("All"))
    months: dict[datetime.date, Score] = {}
    dimensions: dict[str, Score] = {}
    for row in base:
        total.add_row(row)
        month = row["month"]
        if month not in months:
            months[month] = Score(key=month, label=month.strftime("%Y-%m"))
        months[month].add_row(row)
        if row["question_kind"] in RATING_KINDS:
            dimension = row["dimension"]
            if dimension not in dimensions:
                dimensions[dimension] = Score(
                    key=dimension, label=str(dimension_labels.get(dimension, dimension))
                )
            dimensions[dimension].add_row(row)
    by_month = []
    month = start
    while month < end:  # every month, the empty ones too, so the line shows the gaps
        by_month.append(months.get(month) or Score(key=month, label=month.strftime("%Y-%m")))
        month = _next_month(month)
    order = {value: i for i, value in enumerate(Dimension.values)}
    by_dimension = sorted(dimensions.values(), key=lambda s: order.get(s.key, len(order)))

    figures = DashboardFigures(
        filters=filters,
        start=start,
        end=end,
        total=total,
        by_dimension=by_dimension,
        by_month=by_month,
    )

    def table(key: str, labels: dict, *, none_label: str) -> list[Score]:
        scores = _scores(_grouped(_grain(rows, filtered | {key}, model_ids), [key]), key, labels)
        for pk, score in scores.items():
            if pk == 0:
                score.label = none_label
            elif pk not in labels:
                score.label = _("Former staff or model")
        return _ranked(list(scores.values()))

    if options.is_network:
        names = options.dealer_names
        scores = _scores(
            _grouped(_grain(rows, filtered, model_ids), ["dealer_id"]), "dealer_id", names
        )
        shown = [filters.dealer_id] if filters.dealer_id else list(names)
        figures.by_dealer = _ranked(
            [scores.get(pk) or Score(key=pk, label=names.get(pk, "")) for pk in shown]
        )
    if options.single_dealer_id:
        people = {u.pk: str(u) for u in (*options.consultants, *options.advisors)}
        figures.by_consultant = table("consultant_id", people, none_label=_("No consultant"))
        figures.by_advisor = table("advisor_id", people, none_label=_("No advisor"))
    model_names = {m.pk: f"{m.series} {m.name} {m.model_year}" for m in options.car_models}
    figures.by_model = table("car_model_id", model_names, none_label=_("Model not known"))
    return figures


def kind_choices() -> list[tuple[str, str]]:
    return [("", _("All surveys")), *SurveyKind.choices]


def parse_filters(params, options: ScoreOptions) -> tuple[ScoreFilters, dict[str, str]]:  # noqa: ANN001
    """Filters from GET parameters (or the API's query), each checked against what the user
    may see. A value outside it is left out and reported: {field: message}."""
    errors: dict[str, str] = {}

    def number(name: str, allowed: set[int], message: str) -> int | None:
        raw = params.get(name)
        if raw in (None, ""):
            return None
        try:
            value = int(raw)
        except (TypeError, ValueError):
            value = None
        if value is None or value not in allowed:
            errors[name] = message
            return None
        return value

    months = number("months", set(PERIODS), _("Choose a period of 3, 6, 12 or 24 months."))
    kind = params.get("kind") or ""
    if kind and kind not in SurveyKind.values:
        errors["kind"] = _("Unknown survey kind.")
        kind = ""
    dealer_id = None
    if options.is_network:
        dealer_id = number("dealer", {d.pk for d in options.dealers}, _("Unknown dealer."))
    consultant_id = advisor_id = None
    if options.single_dealer_id:
        consultant_id = number(
            "consultant", {u.pk for u in options.consultants} | {0}, _("Unknown consultant.")
        )
        advisor_id = number(
            "advisor", {u.pk for u in options.advisors} | {0}, _("Unknown advisor.")
        )
    elif params.get("consultant") or params.get("advisor"):
        errors["consultant" if params.get("consultant") else "advisor"] = _(
            "Choose a dealer before filtering by person."
        )
    car_model_id = number("car_model", {m.pk for m in options.car_models}, _("Unknown model."))
    return (
        ScoreFilters(
            months=months or DEFAULT_PERIOD,
            kind=kind,
            dealer_id=dealer_id,
            consultant_id=consultant_id,
            advisor_id=advisor_id,
            car_model_id=car_model_id,
        ),
        errors,
    )
