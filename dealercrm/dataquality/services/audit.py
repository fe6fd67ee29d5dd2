"""The OEM's data-quality audit: the brand's policy and rebate bands, the monthly run that scores
every dealer of a brand, and the rebate table for finance.

The run is set-based: one aggregate query per table (customers, phones, vehicles, orders) for
all the brand's dealers and all the months asked at once — each record's checks are evaluated
once, and the records are grouped by dealer, by the month that places them and by their checks'
outcomes — then the scores are worked out per dealer and month in Python (a few numbers each)
and upserted in one statement. The number of queries grows with neither dealers, customers nor
months.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.audit import audit_record
from dealercrm.core.models import AuditEvent, Dealer, User
from dealercrm.core.tenancy import DealerScope, dealer_scope

from ..models import AuditPolicy, DealerAuditScore, RebateBand
from ..models.audit import DEFAULT_REQUIRED_FIELDS, DEFAULT_WEIGHTS
from .audit_checks import (
    DIMENSIONS,
    PLACEMENTS,
    REQUIRED_FIELD_CHOICES,
    TABLE_MODELS,
    Check,
    all_checks,
)

Progress = Callable[[int, int, str], None]
FOREVER = dt.date(9999, 12, 31)


# --- periods and parameters ---------------------------------------------------------------------


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(period: dt.date) -> dt.date:
    return (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def previous_months(period: dt.date, count: int) -> list[dt.date]:
    """The `count` months ending with `period`, oldest first."""
    months = [month_start(period)]
    while len(months) < count:
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    return list(reversed(months))


def period_values(period: dt.date) -> dict[str, Any]:
    """The named values the checks' SQL uses, adapted for the database."""
    start = month_start(period)
    end = next_month(start)
    end_at = timezone.make_aware(dt.datetime.combine(end, dt.time.min), dt.UTC)
    ops = connection.ops
    return {
        "false": False,
        "start": ops.adapt_datefield_value(start),
        "end": ops.adapt_datefield_value(end),
        "end_at": ops.adapt_datetimefield_value(end_at),
        "forever": ops.adapt_datefield_value(FOREVER),
    }


_NAMED = re.compile(r"%\((\w+)\)s")


def bind(sql: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """Named placeholders to positional ones, with the values in order (Django's RawSQL and
    every backend take positional parameters)."""
    params: list[Any] = []

    def take(match: re.Match[str]) -> str:
        params.append(values[match.group(1)])
        return "%s"

    return _NAMED.sub(take, sql), params


# --- the policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A brand's audit rules, with the defaults filled in."""

    weights: dict[str, float]
    required_fields: list[str]
    timeliness_days: int

    def checks(self) -> list[Check]:
        return all_checks(
            required_fields=self.required_fields, timeliness_days=self.timeliness_days
        )


def policy_for_brand(brand_id: int) -> Policy:
    row = AuditPolicy.objects.filter(brand_id=brand_id).first()
    weights = dict(DEFAULT_WEIGHTS)
    if row is not None and row.weights:
        weights = {d: float(row.weights.get(d, 0)) for d in DIMENSIONS}
    required = list(row.required_fields) if row is not None and row.required_fields else []
    return Policy(
        weights={d: float(weights[d]) for d in DIMENSIONS},
        required_fields=required or list(DEFAULT_REQUIRED_FIELDS),
        timeliness_days=row.timeliness_days if row is not None else 7,
    )


def _number(value: Any, field: str, errors: dict[str, str]) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors[field] = _("Enter a number.")
        return None
    if not number.is_finite():
        errors[field] = _("Enter a number.")
        return None
    return number


def audit_policy_save(
    *,
    actor: User | None,
    brand_id: int,
    weights: dict[str, Any],
    required_fields: Sequence[str],
    timeliness_days: Any,
) -> AuditPolicy:
    """Set the brand's weights (non-negative, summing to 100), required fields and days to enter
    a sale. Raises ValidationError keyed by field ("weights.validity", "required_fields" …)."""
    errors: dict[str, str] = {}
    clean_weights: dict[str, float] = {}
    for dimension in DIMENSIONS:
        field = f"weights.{dimension}"
        raw = (weights or {}).get(dimension)
        if raw in (None, ""):
            errors[field] = _("Enter a weight (0–100).")
            continue
        number = _number(raw, field, errors)
        if number is None:
            continue
        if number < 0 or number > 100:
            errors[field] = _("A weight is between 0 and 100.")
            continue
        clean_weights[dimension] = float(number)
    unknown = [d for d in (weights or {}) if d not in DIMENSIONS]
    if unknown:
        errors["weights"] = _("Unknown dimension: %(names)s.") % {"names": ", ".join(unknown)}
    elif len(clean_weights) == len(DIMENSIONS) and abs(sum(clean_weights.values()) - 100) > 1e-6:
        errors["weights"] = _("The weights add up to %(total)s; they must add up to 100.") % {
            "total": f"{sum(clean_weights.values()):g}"
        }
    fields = list(dict.fromkeys(required_fields or []))
    bad_fields = [f for f in fields if f not in REQUIRED_FIELD_CHOICES]
    if bad_fields:
        errors["required_fields"] = _("Unknown field: %(names)s.") % {
            "names": ", ".join(bad_fields)
        }
    elif not fields:
        errors["required_fields"] = _("Choose at least one required field.")
    days = None
    try:
        days = int(str(timeliness_days).strip())
    except (TypeError, ValueError):
        errors["timeliness_days"] = _("Enter a whole number of days.")
    if days is not None and not 0 <= days <= 365:
        errors["timeliness_days"] = _("Enter between 0 and 365 days.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        policy, _created = AuditPolicy.objects.select_for_update().get_or_create(brand_id=brand_id)
        before = {
            "weights": policy.weights,
            "required_fields": policy.required_fields,
            "timeliness_days": policy.timeliness_days,
        }
        policy.weights = clean_weights
        policy.required_fields = fields
        policy.timeliness_days = days
        policy.updated_at = timezone.now()
        policy.updated_by = actor
        policy.save()
        after = {"weights": clean_weights, "required_fields": fields, "timeliness_days": days}
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            target=policy,
            changes={k: [before[k], v] for k, v in after.items() if before[k] != v},
        )
    return policy


@dataclass(frozen=True)
class Band:
    min_score: Decimal
    rebate_percent: Decimal
    label: str


def clean_bands(bands: Sequence[Sequence[Any]]) -> list[Band]:
    """Validated bands, highest first. Errors keyed "bands.<n>.<field>" (n from 1) or "bands"."""
    errors: dict[str, str] = {}
    clean: list[Band] = []
    for n, band in enumerate(bands, start=1):
        min_score, percent, label = (list(band) + [None, None, ""])[:3]
        score = _number(min_score, f"bands.{n}.min_score", errors)
        rebate = _number(percent, f"bands.{n}.rebate_percent", errors)
        if score is not None and not 0 <= score <= 100:
            errors[f"bands.{n}.min_score"] = _("A score is between 0 and 100.")
        if rebate is not None and not 0 <= rebate <= 100:
            errors[f"bands.{n}.rebate_percent"] = _("A rebate is between 0 and 100 percent.")
        label = str(label or "").strip()
        if len(label) > 40:
            errors[f"bands.{n}.label"] = _("At most 40 characters.")
        if score is not None and rebate is not None:
            clean.append(
                Band(score.quantize(Decimal("0.01")), rebate.quantize(Decimal("0.01")), label)
            )
    scores = [b.min_score for b in clean]
    if len(set(scores)) != len(scores):
        errors["bands"] = _("Two bands start at the same score; bands must not overlap.")
    if not bands:
        errors["bands"] = _("Add at least one band.")
    if errors:
        raise ValidationError(errors)
    return sorted(clean, key=lambda b: b.min_score, reverse=True)


def rebate_bands_save(
    *, actor: User | None, brand_id: int, bands: Sequence[Sequence[Any]]
) -> list[RebateBand]:
    """Replace the brand's bands: each (min_score, rebate_percent, label) runs from its score to
    the next band's. Scores below the lowest band earn nothing."""
    clean = clean_bands(bands)
    with transaction.atomic():
        existing = list(RebateBand.objects.select_for_update().filter(brand_id=brand_id))
        before = [[str(b.min_score), str(b.rebate_percent), b.label] for b in existing]
        RebateBand.objects.filter(brand_id=brand_id).delete()
        rows = RebateBand.objects.bulk_create(
            RebateBand(
                brand_id=brand_id,
                min_score=b.min_score,
                rebate_percent=b.rebate_percent,
                label=b.label,
            )
            for b in clean
        )
        after = [[str(b.min_score), str(b.rebate_percent), b.label] for b in clean]
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            target_type="dataquality.rebateband",
            target_id=brand_id,
            target_repr=_("Rebate bands"),
            changes={"bands": [before, after]} if before != after else {},
        )
    return rows


def rebate_for(score: float | Decimal | None, bands: Sequence[RebateBand | Band]):  # noqa: ANN201
    """The band a score falls in (the highest band whose start it reaches), or None."""
    if score is None:
        return None
    value = Decimal(str(score))
    for band in sorted(bands, key=lambda b: b.min_score, reverse=True):
        if value >= band.min_score:
            return band
    return None


# --- the run ------------------------------------------------------------------------------------


@dataclass
class DealerCounts:
    """What the run counted for one dealer: records per table, and per check checked / failed."""

    records: dict[str, int]
    checked: dict[str, int]
    failed: dict[str, int]


# Enough for the hashed subqueries over a million customers' ids (about 40 bytes each).
AUDIT_WORK_MEM = "256MB"


def months_values(periods: Sequence[dt.date]) -> dict[str, Any]:
    """Named values for the months (sorted): start_<i>, end_<i>, end_at_<i>, and the shared ones."""
    values: dict[str, Any] = {}
    for index, period in enumerate(periods):
        for name, value in period_values(period).items():
            values[f"{name}_{index}" if name in ("start", "end", "end_at") else name] = value
    return values


def _month_of(column: str, months: int, *, cumulative: bool, timestamp: bool) -> str:
    """The index of the month a date falls in (cumulative: the first month it is before the end
    of), NULL for none."""
    end = "end_at" if timestamp else "end"
    if cumulative:
        whens = [f"WHEN {column} < %({end}_{i})s THEN {i}" for i in range(months)]
    else:
        whens = [
            f"WHEN {column} >= %(start_{i})s AND {column} < %({end}_{i})s THEN {i}"
            for i in range(months)
        ]
    return f"CASE {' '.join(whens)} END"


def _months_sql(table: str, checks: list[Check], months: int) -> str:
    """One pass over the table for every month: rows (dealer, month, one value per check's
    applies and fails, count). A plain check's values are 0/1 for the record; a `since` check's
    are the month of its first checked / failing day (NULL: none), joined per record."""
    model = TABLE_MODELS[table]
    name = connection.ops.quote_name(model._meta.db_table)
    dealers = connection.ops.quote_name(Dealer._meta.db_table)
    placement = PLACEMENTS[table]
    date = placement.date.format(t=name)
    joins = []
    if placement.by_customer:
        customers = connection.ops.quote_name(TABLE_MODELS["customer"]._meta.db_table)
        joins.append(
            f"JOIN {customers} c ON c.id = {name}.customer_id AND c.is_deleted = %(false)s"
        )
    values = []
    for index, check in enumerate(checks):
        if check.since:
            joins.append(
                f"LEFT JOIN ({check.since_sql()}) s{index} ON s{index}.record_id = {name}.id"
            )
            for column in ("applies_on", "fails_on"):
                values.append(
                    _month_of(f"s{index}.{column}", months, cumulative=True, timestamp=False)
                )
        else:
            values.append(f"CASE WHEN {check.applies_sql()} THEN 1 ELSE 0 END")
            values.append(check.failing_sql())
    last = months - 1
    if placement.cumulative:
        scope = f"{date} < %(end_at_{last})s"
    else:
        scope = f"{date} >= %(start_0)s AND {date} < %(end_{last})s"
    where = [
        f"{name}.dealer_id IN (SELECT id FROM {dealers} WHERE brand_id = %(brand)s"
        " AND is_active = %(true)s)",
        scope,
    ]
    if placement.where:
        where.append(placement.where.format(t=name))
    month = _month_of(date, months, cumulative=placement.cumulative, timestamp=placement.cumulative)
    columns = ", ".join(f"{value} AS v{i}" for i, value in enumerate(values))
    grouped = ", ".join(f"q.v{i}" for i in range(len(values)))
    return (
        f"SELECT q.dealer_id, q.month, {grouped}, COUNT(*) FROM ("  # noqa: S608
        f"SELECT {name}.dealer_id AS dealer_id, {month} AS month, {columns}"
        f" FROM {name} {' '.join(joins)} WHERE {' AND '.join(where)}) q"
        f" WHERE q.month IS NOT NULL GROUP BY q.dealer_id, q.month, {grouped}"
    )


def _add_group(
    table: str,
    checks: list[Check],
    row: Sequence[Any],
    tallies: dict[int, dict[tuple[str, str], list[int]]],
    months: int,
) -> None:
    """Add one group of the months query to the dealer's tallies (per (kind, name): a count per
    month in which the records were placed, checked or failed)."""
    dealer_id, month, *outcomes, count = row
    dealer = tallies.setdefault(dealer_id, {})

    def add(key: tuple[str, str], at: int | None) -> None:
        if at is not None:
            dealer.setdefault(key, [0] * months)[at] += count

    add(("records", table), month)
    for index, check in enumerate(checks):
        applies, fails = outcomes[2 * index], outcomes[2 * index + 1]
        if check.since:
            # From the later of the record's own month and the check's first day.
            add(("checked", check.code), None if applies is None else max(month, applies))
            add(("failed", check.code), None if fails is None else max(month, fails))
        else:
            add(("checked", check.code), month if applies else None)
            add(("failed", check.code), month if fails else None)


def count_checks(
    *,
    brand_id: int,
    periods: Sequence[dt.date],
    checks: list[Check],
    progress: Progress | None = None,
) -> dict[dt.date, dict[int, DealerCounts]]:
    """Per month (first days), per active dealer of the brand: the counts. One query per table
    for all the months."""
    periods = sorted({month_start(p) for p in periods})
    months = len(periods)
    values = {**months_values(periods), "brand": brand_id, "true": True, "dealer": 0}
    by_table: dict[str, list[Check]] = {}
    for check in checks:
        by_table.setdefault(check.table, []).append(check)
    # (dealer) -> (kind, name) -> per month
    tallies: dict[int, dict[tuple[str, str], list[int]]] = {}
    tables = [t for t in TABLE_MODELS if t in by_table]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The checks' IN (subquery) are hashed only when the hash fits in work_mem; past it
            # PostgreSQL rescans the subquery for every row (hours at 1,000,000 customers).
            cursor.execute(f"SET LOCAL work_mem = '{AUDIT_WORK_MEM}'")
        for step, table in enumerate(tables, start=1):
            table_checks = by_table[table]
            sql, params = bind(_months_sql(table, table_checks, months), values)
            cursor.execute(sql, params)
            for row in cursor.fetchall():
                _add_group(table, table_checks, row, tallies, months)
            if progress is not None:
                progress(step, len(tables), table)
    table_of = {check.code: check.table for check in checks}
    counts: dict[dt.date, dict[int, DealerCounts]] = {p: {} for p in periods}
    for dealer_id, dealer in tallies.items():
        for (kind, key), per_month in dealer.items():
            # What exists by a month's end counts in it and every later one; orders only in
            # their own month.
            cumulative = PLACEMENTS[key if kind == "records" else table_of[key]].cumulative
            running = 0
            for index, period in enumerate(periods):
                running = (running if cumulative else 0) + per_month[index]
                dealer_counts = counts[period].setdefault(dealer_id, DealerCounts({}, {}, {}))
                getattr(dealer_counts, kind)[key] = running
    # A dealer with records in some month only is there in the others too; one with none in a
    # month is left out of it (as it would be by a query of that month alone).
    for period in periods:
        for dealer_id in list(counts[period]):
            if not any(counts[period][dealer_id].records.values()):
                del counts[period][dealer_id]
    return counts


def dimension_scores(counts: DealerCounts | None, checks: list[Check]) -> dict[str, float]:
    """Each dimension 0–100: the share of passing checks over the records checked (100 when
    nothing was checked: nothing there to be wrong)."""
    scores = {}
    for dimension in DIMENSIONS:
        checked = failed = 0
        for check in checks:
            if check.dimension == dimension and counts is not None:
                checked += counts.checked.get(check.code, 0)
                failed += counts.failed.get(check.code, 0)
        scores[dimension] = round(100.0 * (checked - failed) / checked, 2) if checked else 100.0
    return scores


def weighted_score(dimensions: dict[str, float], weights: dict[str, float]) -> float:
    total = sum(weights.get(d, 0) for d in DIMENSIONS)
    if not total:
        return round(sum(dimensions.values()) / len(dimensions), 2)
    return round(sum(dimensions[d] * weights.get(d, 0) for d in DIMENSIONS) / total, 2)


def competition_ranks(scores: dict[int, float]) -> dict[int, int]:
    """1 = best; equal scores share a rank and the next rank skips (1, 2, 2, 4)."""
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    ranks: dict[int, int] = {}
    previous: float | None = None
    rank = 0
    for position, (dealer_id, score) in enumerate(ordered, start=1):
        if score != previous:
            rank = position
            previous = score
        ranks[dealer_id] = rank
    return ranks


def audit_run_months(
    *, brand_id: int, periods: Sequence[dt.date], progress: Progress | None = None
) -> list[DealerAuditScore]:
    """Score every active dealer of the brand for each month of `periods` (any day of the
    month); upsert the scores. One pass per table for all the months."""
    periods = sorted({month_start(p) for p in periods})
    if not periods:
        return []
    policy = policy_for_brand(brand_id)
    checks = policy.checks()
    dealer_ids = list(
        Dealer.objects.filter(brand_id=brand_id, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    counts = count_checks(brand_id=brand_id, periods=periods, checks=checks, progress=progress)
    now = timezone.now()
    scores: list[DealerAuditScore] = []
    for period in periods:
        rows: dict[int, DealerAuditScore] = {}
        for dealer_id in dealer_ids:
            dealer_counts = counts[period].get(dealer_id)
            dimensions = dimension_scores(dealer_counts, checks)
            failures = {}
            if dealer_counts is not None:
                failures = {
                    c.code: dealer_counts.failed[c.code]
                    for c in checks
                    if dealer_counts.failed.get(c.code)
                }
            rows[dealer_id] = DealerAuditScore(
                dealer_id=dealer_id,
                period=period,
                **dimensions,
                score=weighted_score(dimensions, policy.weights),
                customers=dealer_counts.records.get("customer", 0) if dealer_counts else 0,
                failures=failures,
                weights=policy.weights,
                computed_at=now,
            )
        ranks = competition_ranks({d: row.score for d, row in rows.items()})
        for dealer_id, row in rows.items():
            row.rank = ranks[dealer_id]
            row.ranked_of = len(rows)
        scores.extend(rows.values())
    fields = [*DIMENSIONS, "score", "rank", "ranked_of", "customers", "failures", "weights"]
    # A network write: the brand's dealers, whoever (job, command, OEM admin) runs it.
    with transaction.atomic(), dealer_scope(DealerScope.for_dealers(dealer_ids, is_network=True)):
        DealerAuditScore.objects.bulk_create(
            scores,
            update_conflicts=True,
            unique_fields=["dealer", "period"],
            update_fields=[*fields, "computed_at"],
        )
    return scores


def audit_run(
    *, brand_id: int, period: dt.date, progress: Progress | None = None
) -> list[DealerAuditScore]:
    """Score every active dealer of the brand for the month of `period`; upsert the scores."""
    return audit_run_months(brand_id=brand_id, periods=[period], progress=progress)
