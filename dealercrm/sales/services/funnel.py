"""The funnel roll-up. CONTRACT:
- `funnel_refresh(*, dealer_ids=None, now=None, full=False) -> int`  recompute the cells of the
  months whose leads changed since the dealer's last refresh; set-based; idempotent. Returns
  how many (dealer, month) cohorts were recomputed.

How a run finds what to recompute, per dealer:

1. the cohort months (month of `created_at`, dealer's time zone) of the leads whose `updated_at`
   is later than `refreshed_through` (index `lead_updated`). Every lead write sets
   `updated_at`; a transaction that commits a little after another may carry an earlier
   `updated_at` than rows already seen, so `refreshed_through` never goes past
   `now - SAFETY_MARGIN`: the next run reads the last minutes again — recomputing a month twice
   costs little and changes nothing;
2. the cohort months of leads inserted since the last run (id above `last_lead_id`), whatever
   their `updated_at`: a bulk demo load writes history with old timestamps;
3. once an hour (`verify`), after those are rebuilt, months whose lead count still differs
   from the cells': leads deleted (a customer erased, a merge). One count per dealer finds a
   mismatch; only then are that dealer's months compared. Counting every lead costs about a
   second per million leads, too much for every five minutes;
4. no refresh yet (or `full=True`): every month.

Then, in one transaction per dealer, those months' cells are deleted and re-inserted with one
INSERT … SELECT … GROUP BY over the leads (and one more for the loss cells), and
`refreshed_through` moves to the latest `updated_at` seen.

Month truncation differs per engine; `month_sql` writes it for both. SQLite has no time zones:
it shifts by the dealer's UTC offset now (exact for China, which keeps no daylight saving).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dealercrm.core.models import Dealer
from dealercrm.sales.models import FunnelCell, FunnelLossCell, FunnelRefresh, Lead
from dealercrm.sales.models.funnel import GRAIN_DIMENSIONS, Grain

SAFETY_MARGIN = datetime.timedelta(minutes=5)

LEAD = Lead._meta.db_table
CELL = FunnelCell._meta.db_table
LOSS = FunnelLossCell._meta.db_table

# A stage counts as reached when it or any later stage was reached.
_REACHED = {
    "contacted": (
        "delivered_at",
        "ordered_at",
        "negotiation_at",
        "test_drive_at",
        "first_contacted_at",
    ),
    "test_driven": ("delivered_at", "ordered_at", "negotiation_at", "test_drive_at"),
    "negotiated": ("delivered_at", "ordered_at", "negotiation_at"),
    "ordered": ("delivered_at", "ordered_at"),
    "delivered": ("delivered_at",),
    "lost": ("lost_at",),
}


# --- SQL for both engines ------------------------------------------------------------------------


def _vendor() -> str:
    return connection.vendor


def month_sql(column: str, tz_name: str) -> tuple[str, list]:
    """SQL for the first day of `column`'s month in the time zone, as a date, and its params."""
    if _vendor() == "postgresql":
        return f"CAST(date_trunc('month', {column} AT TIME ZONE %s) AS date)", [tz_name]
    utcoffset = timezone.now().astimezone(ZoneInfo(tz_name)).utcoffset()
    offset = int(utcoffset.total_seconds()) if utcoffset else 0
    return f"date({column}, %s, 'start of month')", [f"{offset:+d} seconds"]


def seconds_between_sql(later: str, earlier: str) -> str:
    """Whole seconds from `earlier` to `later`."""
    if _vendor() == "postgresql":
        return f"CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS bigint)"
    return f"CAST(ROUND((julianday({later}) - julianday({earlier})) * 86400) AS INTEGER)"


def _db_datetime(value: datetime.datetime):  # noqa: ANN202
    return connection.ops.adapt_datetimefield_value(value)


def _as_datetime(value) -> datetime.datetime | None:  # noqa: ANN001
    """A datetime read by raw SQL (SQLite answers text for expressions) as an aware UTC one."""
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=datetime.UTC)
    return value


def _as_date(value) -> datetime.date:  # noqa: ANN001
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def _next_month(month: datetime.date) -> datetime.date:
    return (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def _month_ranges(months: Iterable[datetime.date]) -> list[tuple[datetime.date, datetime.date]]:
    """Consecutive months joined into [start, end) ranges."""
    ranges: list[tuple[datetime.date, datetime.date]] = []
    for month in sorted(set(months)):
        if ranges and ranges[-1][1] == month:
            ranges[-1] = (ranges[-1][0], _next_month(month))
        else:
            ranges.append((month, _next_month(month)))
    return ranges


def _created_in(ranges, tz: ZoneInfo) -> tuple[str, list]:  # noqa: ANN001
    """A WHERE fragment: created_at inside any of the month ranges (index lead_created)."""
    parts, params = [], []
    for start, end in ranges:
        parts.append("(created_at >= %s AND created_at < %s)")
        params += [
            _db_datetime(datetime.datetime.combine(start, datetime.time(), tz)),
            _db_datetime(datetime.datetime.combine(end, datetime.time(), tz)),
        ]
    return "(" + " OR ".join(parts) + ")", params


def _sum_if_any(columns: tuple[str, ...]) -> str:
    if len(columns) == 1:
        return f"SUM(CASE WHEN {columns[0]} IS NOT NULL THEN 1 ELSE 0 END)"
    return f"SUM(CASE WHEN COALESCE({', '.join(columns)}) IS NOT NULL THEN 1 ELSE 0 END)"


def _insert_cells_sql(dealer_id: int, tz_name: str, where: str, where_params: list):  # noqa: ANN202
    month, month_params = month_sql("created_at", tz_name)
    response = seconds_between_sql("first_contacted_at", "created_at")
    decision = seconds_between_sql("ordered_at", "created_at")
    counts = ", ".join(_sum_if_any(cols) for cols in _REACHED.values())
    sql = (
        f"INSERT INTO {CELL} (dealer_id, grain, month, channel, consultant_id, car_model_id, leads, "
        f"{', '.join(_REACHED)}, responded, response_seconds, responded_in_time, "
        "decision_seconds) "
        f"SELECT dealer_id, {Grain.FULL.value}, {month}, channel, consultant_id, car_model_id, "
        f"COUNT(*), {counts}, "
        "SUM(CASE WHEN first_contacted_at IS NOT NULL THEN 1 ELSE 0 END), "
        f"COALESCE(SUM(CASE WHEN first_contacted_at IS NOT NULL THEN {response} END), 0), "
        "SUM(CASE WHEN first_contacted_at IS NOT NULL AND first_contacted_at <= "
        "COALESCE(first_response_due_at, first_contacted_at) THEN 1 ELSE 0 END), "
        f"COALESCE(SUM(CASE WHEN ordered_at IS NOT NULL THEN {decision} END), 0) "
        f"FROM {LEAD} WHERE dealer_id = %s AND {where} "
        "GROUP BY dealer_id, 3, channel, consultant_id, car_model_id"
    )
    return sql, [*month_params, dealer_id, *where_params]


def _insert_losses_sql(dealer_id: int, tz_name: str, where: str, where_params: list):  # noqa: ANN202
    cohort, cohort_params = month_sql("created_at", tz_name)
    lost, lost_params = month_sql("lost_at", tz_name)
    sql = (
        f"INSERT INTO {LOSS} (dealer_id, grain, cohort_month, month, channel, consultant_id, "
        "car_model_id, reason, lost) "
        f"SELECT dealer_id, {Grain.FULL.value}, {cohort}, {lost}, channel, consultant_id, "
        f"car_model_id, loss_reason, COUNT(*) FROM {LEAD} "
        f"WHERE dealer_id = %s AND lost_at IS NOT NULL AND {where} "
        "GROUP BY dealer_id, 3, 4, channel, consultant_id, car_model_id, loss_reason"
    )
    return sql, [*cohort_params, *lost_params, dealer_id, *where_params]


_DIMENSIONS = (("channel", "''"), ("consultant_id", "NULL"), ("car_model_id", "NULL"))
_CELL_COUNTS = (*_REACHED, "leads", "responded", "response_seconds", "responded_in_time",
                "decision_seconds")  # fmt: skip


def _months_in(column: str, months: set[datetime.date] | None) -> tuple[str, list]:
    if months is None:
        return "1 = 1", []
    parts, params = [], []
    for start, end in _month_ranges(months):
        parts.append(f"({column} >= %s AND {column} < %s)")
        params += [connection.ops.adapt_datefield_value(start),
                   connection.ops.adapt_datefield_value(end)]  # fmt: skip
    return "(" + " OR ".join(parts) + ")", params


def _rollup_sql(grain: int, dealer_id: int, months: set[datetime.date] | None):  # noqa: ANN202
    """The coarser grains, summed from the full cells just written (not from the leads)."""
    kept = GRAIN_DIMENSIONS[grain]
    values = [name if name in kept else empty for name, empty in _DIMENSIONS]
    group = [name for name, _empty in _DIMENSIONS if name in kept]
    cells_where, cells_params = _months_in("month", months)
    cells = (
        f"INSERT INTO {CELL} (dealer_id, grain, month, channel, consultant_id, car_model_id, "
        f"{', '.join(_CELL_COUNTS)}) "
        f"SELECT dealer_id, {grain}, month, {', '.join(values)}, "
        f"{', '.join(f'SUM({c})' for c in _CELL_COUNTS)} FROM {CELL} "
        f"WHERE dealer_id = %s AND grain = {Grain.FULL.value} AND {cells_where} "
        f"GROUP BY {', '.join(['dealer_id', 'month', *group])}"
    )
    loss_where, loss_params = _months_in("cohort_month", months)
    losses = (
        f"INSERT INTO {LOSS} (dealer_id, grain, cohort_month, month, channel, consultant_id, "
        "car_model_id, reason, lost) "
        f"SELECT dealer_id, {grain}, cohort_month, month, {', '.join(values)}, reason, SUM(lost) "
        f"FROM {LOSS} WHERE dealer_id = %s AND grain = {Grain.FULL.value} AND {loss_where} "
        f"GROUP BY {', '.join(['dealer_id', 'cohort_month', 'month', *group, 'reason'])}"
    )
    return (cells, [dealer_id, *cells_params]), (losses, [dealer_id, *loss_params])


# --- what changed --------------------------------------------------------------------------------


def _changed_months(
    dealer_id: int, tz_name: str, since: datetime.datetime
) -> tuple[set[datetime.date], datetime.datetime | None]:
    """Cohort months of the leads changed after `since`, and the latest updated_at among them."""
    month, params = month_sql("created_at", tz_name)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {month}, MAX(updated_at) FROM {LEAD} "
            "WHERE dealer_id = %s AND updated_at > %s GROUP BY 1",
            [*params, dealer_id, _db_datetime(since)],
        )
        rows = cursor.fetchall()
    stamps = [t for t in (_as_datetime(r[1]) for r in rows) if t is not None]
    return {_as_date(r[0]) for r in rows}, max(stamps, default=None)


def _new_lead_months(dealer_id: int, tz_name: str, after_id: int) -> set[datetime.date]:
    """Cohort months of leads inserted since the last run, whatever their updated_at (a bulk
    load writing history)."""
    month, params = month_sql("created_at", tz_name)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT {month} FROM {LEAD} WHERE id > %s AND dealer_id = %s",
            [*params, after_id, dealer_id],
        )
        return {_as_date(r[0]) for r in cursor.fetchall()}


def _counts_differ(dealer_id: int) -> bool:
    """Leads deleted (a customer erased, a merge) leave the cells counting more than there are."""
    leads = Lead.objects.unscoped().filter(dealer_id=dealer_id).count()
    cells = (
        FunnelCell.objects.unscoped()
        .filter(dealer_id=dealer_id, grain=Grain.TOTAL)
        .aggregate(n=Sum("leads"))
    )
    return leads != (cells["n"] or 0)


def _miscounted_months(dealer_id: int, tz_name: str) -> set[datetime.date]:
    month, params = month_sql("created_at", tz_name)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {month}, COUNT(*) FROM {LEAD} WHERE dealer_id = %s GROUP BY 1",
            [*params, dealer_id],
        )
        leads = {_as_date(m): n for m, n in cursor.fetchall()}
    cells = {
        m: n
        for m, n in FunnelCell.objects.unscoped()
        .filter(dealer_id=dealer_id, grain=Grain.TOTAL)
        .order_by()
        .values_list("month")
        .annotate(n=Sum("leads"))
        .values_list("month", "n")
    }
    return {m for m in leads.keys() | cells.keys() if leads.get(m, 0) != (cells.get(m) or 0)}


# --- the refresh ---------------------------------------------------------------------------------


def funnel_refresh(
    *,
    dealer_ids: Iterable[int] | None = None,
    now: datetime.datetime | None = None,
    full: bool = False,
    verify: bool | None = None,
) -> int:
    """Recompute the funnel cells of every month whose leads changed since the last run.

    `verify` compares each dealer's lead count with its cells' to find deleted leads: a count
    of every lead, so by default only on the first run of each hour (minute < 5).

    Runs across dealers (the caller holds a network scope, as the periodic job does). Each
    dealer is its own transaction, so one dealer's refresh never waits for the whole network.
    """
    now = now or timezone.now()
    if verify is None:
        verify = timezone.localtime(now).minute < 5
    dealers = Dealer.objects.order_by("id")
    if dealer_ids is not None:
        dealers = dealers.filter(id__in=list(dealer_ids))
    zones = dict(dealers.values_list("id", "time_zone"))
    # The network's newest lead id now: the next run looks for inserts above it, a short
    # range of the primary key whatever the size of the table.
    top_id = Lead.objects.unscoped().aggregate(m=Max("id"))["m"] or 0
    recomputed = 0
    for dealer_id in zones:
        recomputed += _refresh_dealer(
            dealer_id,
            zones[dealer_id] or "Asia/Shanghai",
            now=now,
            full=full,
            top_id=top_id,
            verify=verify,
        )
    return recomputed


@transaction.atomic
def _refresh_dealer(
    dealer_id: int,
    tz_name: str,
    *,
    now: datetime.datetime,
    full: bool,
    top_id: int,
    verify: bool,
) -> int:
    # Read (and on PostgreSQL lock) inside the transaction: two runs never interleave.
    refresh = (
        FunnelRefresh.objects.unscoped().select_for_update().filter(dealer_id=dealer_id).first()
    )
    everything = full or refresh is None or refresh.refreshed_through is None
    months: set[datetime.date] = set()
    if everything:
        latest = (
            Lead.objects.unscoped()
            .filter(dealer_id=dealer_id)
            .aggregate(latest=Max("updated_at"))["latest"]
        )
        _rebuild(dealer_id, tz_name, None)
        months = set(
            FunnelCell.objects.unscoped()
            .filter(dealer_id=dealer_id, grain=Grain.TOTAL)
            .values_list("month", flat=True)
        )
    else:
        assert refresh is not None and refresh.refreshed_through is not None
        months, latest = _changed_months(dealer_id, tz_name, refresh.refreshed_through)
        months |= _new_lead_months(dealer_id, tz_name, refresh.last_lead_id)
        if months:
            _rebuild(dealer_id, tz_name, months)
        # Whatever is still off after that was deleted.
        if verify and _counts_differ(dealer_id):
            deleted = _miscounted_months(dealer_id, tz_name)
            _rebuild(dealer_id, tz_name, deleted)
            months |= deleted
    # Never past `now - SAFETY_MARGIN`: a transaction that stamped its updated_at a moment ago
    # may commit after this read, so the next run reads the last minutes again.
    seen = max(
        (t for t in (latest, refresh.refreshed_through if refresh else None) if t is not None),
        default=now,
    )
    through = min(seen, now - SAFETY_MARGIN)
    # A run over a dealer with no leads yet still records itself, so "as of" shows it.
    last_id = max(top_id, refresh.last_lead_id if refresh else 0)
    FunnelRefresh.objects.unscoped().update_or_create(
        dealer_id=dealer_id,
        defaults={"refreshed_through": through, "refreshed_at": now, "last_lead_id": last_id},
    )
    return len(months)


def _rebuild(dealer_id: int, tz_name: str, months: set[datetime.date] | None) -> None:
    """Delete and re-insert the cells of these cohort months (None: all of the dealer's)."""
    cells = FunnelCell.objects.unscoped().filter(dealer_id=dealer_id)
    losses = FunnelLossCell.objects.unscoped().filter(dealer_id=dealer_id)
    params: list = []
    if months is None:
        where = "1 = 1"
    elif not months:
        return
    else:
        cells = cells.filter(month__in=months)
        losses = losses.filter(cohort_month__in=months)
        where, params = _created_in(_month_ranges(months), ZoneInfo(tz_name))
    cells.delete()
    losses.delete()
    with connection.cursor() as cursor:
        cursor.execute(*_insert_cells_sql(dealer_id, tz_name, where, params))
        cursor.execute(*_insert_losses_sql(dealer_id, tz_name, where, params))
        for grain in GRAIN_DIMENSIONS:
            if grain != Grain.FULL:
                for statement in _rollup_sql(grain, dealer_id, months):
                    cursor.execute(*statement)
