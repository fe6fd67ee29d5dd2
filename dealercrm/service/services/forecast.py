"""Mileage readings that must never be lost, their flags, and each vehicle's service forecast.

`mileage_reading_record` is the path of readings that arrive with something else (a repair
order, an import): it never refuses a plausible number, it stores it and flags it when it
contradicts the others, so nothing is lost and nothing wrong is believed. `readings_flag`
re-evaluates flags set-based; `forecast_refresh` recomputes `VehicleServiceState`.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.vehicles.models import MileageReading, Vehicle

MAX_PLAUSIBLE_KM = 2_000_000


def max_daily_km() -> int:
    return int(getattr(settings, "SERVICE_MAX_DAILY_KM", 500))


def default_daily_km() -> float:
    return float(getattr(settings, "SERVICE_DEFAULT_DAILY_KM", 40))


def mileage_reading_record(
    *, dealer_id: int, vehicle_id: int, km: int, read_on: date, source: str
) -> MileageReading:
    """Store an odometer reading that must not be lost (repair orders, imports).

    A reading lower than an earlier believed one is flagged LOWER, one that implies more than
    SERVICE_MAX_DAILY_KM a day since the previous believed one (or since delivery, at 0 km) is
    flagged JUMP; flagged readings are kept but not believed. Then the vehicle's flags are
    re-evaluated together (`readings_flag`), so a mistyped earlier reading that this one shows up
    as a spike stops being believed, and Vehicle.current_mileage_km follows the latest believed
    reading.
    """
    errors: dict[str, list[str]] = {}
    if km is None or km < 0:
        errors["km"] = [_("Mileage cannot be negative.")]
    elif km > MAX_PLAUSIBLE_KM:
        errors["km"] = [_("%(km)s km is not a plausible odometer reading.") % {"km": km}]
    if read_on is None:
        errors["read_on"] = [_("Give the date of the reading.")]
    if source not in MileageReading.Source.values:
        errors["source"] = [_("Choose where the reading comes from.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # Lock the vehicle so two readings recorded at once are judged against each other.
        vehicle = (
            Vehicle.objects.unscoped()
            .select_for_update()
            .filter(dealer_id=dealer_id, pk=vehicle_id)
            .only("id", "dealer_id", "delivery_date")
            .first()
        )
        if vehicle is None:
            raise ValidationError({"vehicle": [_("This vehicle does not exist at this dealer.")]})
        believed = MileageReading.objects.unscoped().filter(
            dealer_id=dealer_id, vehicle_id=vehicle_id, flag=""
        )
        flag = ""
        if believed.filter(read_on__lte=read_on, km__gt=km).exists():
            flag = MileageReading.Flag.LOWER
        else:
            previous = (
                believed.filter(read_on__lte=read_on)
                .order_by("-read_on", "-id")
                .values_list("km", "read_on")
                .first()
            )
            if previous is None and vehicle.delivery_date and vehicle.delivery_date <= read_on:
                previous = (0, vehicle.delivery_date)
            if previous is not None:
                days = max((read_on - previous[1]).days, 1)
                if km - previous[0] > max_daily_km() * days:
                    flag = MileageReading.Flag.JUMP
        reading = MileageReading.objects.unscoped().create(
            dealer_id=dealer_id,
            vehicle_id=vehicle_id,
            km=km,
            read_on=read_on,
            source=source,
            flag=flag,
        )
        readings_flag(dealer_id=dealer_id, vehicle_ids=[vehicle_id])
        reading.refresh_from_db(fields=["flag"])
    return reading


def _current_mileage_sync(*, dealer_id: int | None, vehicle_ids: list[int] | None) -> None:
    """Vehicle.current_mileage_km := the latest believed reading (one UPDATE)."""
    latest = (
        MileageReading.objects.unscoped()
        .filter(dealer_id=OuterRef("dealer_id"), vehicle_id=OuterRef("pk"), flag="")
        .order_by("-read_on", "-km")
        .values("km")[:1]
    )
    vehicles = Vehicle.objects.unscoped()
    if dealer_id is not None:
        vehicles = vehicles.filter(dealer_id=dealer_id)
    if vehicle_ids is not None:
        vehicles = vehicles.filter(pk__in=vehicle_ids)
    vehicles.update(current_mileage_km=Subquery(latest))


def _days_between_sql(later: str, earlier: str) -> str:
    """Whole days between two DATE columns, the same on both engines."""
    if connection.vendor == "postgresql":
        return f"({later} - {earlier})"
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


# Pass 1 finds the single mistyped reading by its neighbours (LAG/LEAD over the vehicle's
# readings by date, id): a SPIKE is higher than the next two readings while the next is
# consistent with the previous one (two later readings must disagree with it, so the latest
# reading alone never demotes an earlier one: it is the one flagged until another confirms
# it); a DIP is lower than the previous reading unless that previous one is the spike. Pass 2 then walks the readings
# pass 1 kept and flags a reading lower than the previous kept one (what is left of a longer
# run of bad readings) or an impossible jump from it (or from 0 km at delivery): more than
# SERVICE_MAX_DAILY_KM a day. Two passes of windows instead of a recursive "previous believed"
# keep it one statement on both engines and still let one bad reading in either direction be
# ignored without its neighbours being judged against it.
_FLAG_SQL = """
UPDATE vehicles_mileagereading SET flag = judged.new_flag
FROM (
    SELECT p2.id,
        CASE
            WHEN p2.pass1 <> '' THEN p2.pass1
            WHEN p2.prev_km IS NOT NULL AND p2.km < p2.prev_km THEN 'lower'
            WHEN p2.prev_km IS NOT NULL
                 AND p2.km - p2.prev_km > %(max_daily)s * MAX(1, {days_prev}) THEN 'jump'
            WHEN p2.prev_km IS NULL AND p2.delivery_date IS NOT NULL
                 AND p2.delivery_date <= p2.read_on
                 AND p2.km > %(max_daily)s * MAX(1, {days_delivery}) THEN 'jump'
            ELSE ''
        END AS new_flag
    FROM (
        SELECT s.id, s.km, s.read_on, s.pass1, s.delivery_date,
            CASE WHEN s.pass1 = '' THEN LAG(s.km) OVER kept END AS prev_km,
            CASE WHEN s.pass1 = '' THEN LAG(s.read_on) OVER kept END AS prev_on
        FROM (
            SELECT d.id, d.dealer_id, d.vehicle_id, d.km, d.read_on, d.delivery_date,
                CASE
                    WHEN d.spike = 1 THEN 'jump'
                    WHEN d.p1 IS NOT NULL AND d.km < d.p1 AND d.prev_spike = 0 THEN 'lower'
                    ELSE ''
                END AS pass1
            FROM (
                SELECT w.*, COALESCE(LAG(w.spike) OVER byday, 0) AS prev_spike
                FROM (
                    SELECT n.*,
                        CASE WHEN n.km > n.n1 AND n.km > n.n2
                            AND (n.p1 IS NULL OR n.n1 >= n.p1)
                        THEN 1 ELSE 0 END AS spike
                    FROM (
                        SELECT r.id, r.dealer_id, r.vehicle_id, r.km, r.read_on,
                            v.delivery_date,
                            LAG(r.km) OVER byday AS p1,
                            LEAD(r.km) OVER byday AS n1,
                            LEAD(r.km, 2) OVER byday AS n2
                        FROM vehicles_mileagereading r
                        JOIN vehicles_vehicle v ON v.id = r.vehicle_id
                        WHERE {where}
                        WINDOW byday AS (
                            PARTITION BY r.dealer_id, r.vehicle_id ORDER BY r.read_on, r.id
                        )
                    ) n
                ) w
                WINDOW byday AS (PARTITION BY w.dealer_id, w.vehicle_id ORDER BY w.read_on, w.id)
            ) d
        ) s
        WINDOW kept AS (
            PARTITION BY s.dealer_id, s.vehicle_id, s.pass1 = '' ORDER BY s.read_on, s.id
        )
    ) p2
) judged
WHERE vehicles_mileagereading.id = judged.id AND vehicles_mileagereading.flag <> judged.new_flag
"""

VEHICLE_BATCH = 5000


def readings_flag(*, dealer_id: int | None = None, vehicle_ids: list[int] | None = None) -> int:
    """Re-evaluate the flags of the readings of the given vehicles (or a dealer's, or all), set-
    based: one UPDATE per batch of vehicles (see _FLAG_SQL). Returns how many flags changed;
    Vehicle.current_mileage_km follows the latest believed reading afterwards."""
    days_prev = _days_between_sql("p2.read_on", "p2.prev_on")
    days_delivery = _days_between_sql("p2.read_on", "p2.delivery_date")
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    sql_template = _FLAG_SQL.replace("MAX(1,", f"{greatest}(1,")
    params: dict[str, Any] = {"max_daily": max_daily_km()}
    where = ["1 = 1"]
    if dealer_id is not None:
        where.append("r.dealer_id = %(dealer_id)s")
        params["dealer_id"] = dealer_id
    batches: list[list[int] | None]
    if vehicle_ids is None:
        batches = [None]
    else:
        ids = sorted(set(vehicle_ids))
        batches = [ids[i : i + VEHICLE_BATCH] for i in range(0, len(ids), VEHICLE_BATCH)]
    changed = 0
    with transaction.atomic():
        for batch in batches:
            batch_where = list(where)
            batch_params = dict(params)
            if batch is not None:
                names = []
                for i, vid in enumerate(batch):
                    batch_params[f"v{i}"] = vid
                    names.append(f"%(v{i})s")
                batch_where.append(f"r.vehicle_id IN ({', '.join(names)})")
            sql = sql_template.format(
                where=" AND ".join(batch_where), days_prev=days_prev, days_delivery=days_delivery
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, batch_params)
                changed += max(cursor.rowcount, 0)
            _current_mileage_sync(dealer_id=dealer_id, vehicle_ids=batch)
    return changed


# --- The forecast ------------------------------------------------------------------------------

# Built-in schedule when neither the model nor the network has a MaintenanceSchedule row.
BUILTIN_SCHEDULE = (5000, 6, 10000, 12)
MIN_POINTS = 2
MIN_SPAN_DAYS = 30
MIN_PEERS = 5
BATCH_SIZE = 20_000

STATE_COLUMNS = (
    "vehicle_id",
    "dealer_id",
    "daily_km",
    "basis",
    "readings_used",
    "readings_flagged",
    "last_reading_km",
    "last_reading_on",
    "last_visit_on",
    "visits",
    "last_maintenance_on",
    "last_maintenance_km",
    "maintenances",
    "next_service_kind",
    "next_service_on",
    "next_service_km",
    "due_reason",
    "due_by_distance_on",
    "due_by_time_on",
    "computed_at",
)


def _own_rate_sql(where: str) -> str:
    """Per vehicle: believed and flagged reading counts, the latest believed reading and its
    own daily distance (NULL with fewer than 2 points or under 30 days). Delivery counts as a
    point at 0 km when it is not after the first believed reading. One formula, in SQL, used
    both for each vehicle and for the model / region averages."""
    days = _days_between_sql("x.last_on", "x.start_on")
    return f"""
    SELECT x.vehicle_id, x.dealer_id, x.n_believed, x.n_flagged, x.last_on, x.last_km,
        CASE WHEN x.points >= {MIN_POINTS} AND {days} >= {MIN_SPAN_DAYS}
            THEN (x.last_km - x.start_km) * 1.0 / {days} END AS own_rate
    FROM (
        SELECT a.vehicle_id, a.dealer_id, a.n_believed, a.n_flagged, a.last_on, a.last_km,
            CASE WHEN v.delivery_date IS NOT NULL
                  AND (a.first_on IS NULL OR v.delivery_date <= a.first_on)
                THEN v.delivery_date ELSE a.first_on END AS start_on,
            CASE WHEN v.delivery_date IS NOT NULL
                  AND (a.first_on IS NULL OR v.delivery_date <= a.first_on)
                THEN 0 ELSE a.first_km END AS start_km,
            a.n_believed + CASE WHEN v.delivery_date IS NOT NULL
                  AND (a.first_on IS NULL OR v.delivery_date <= a.first_on)
                THEN 1 ELSE 0 END AS points
        FROM (
            SELECT r.dealer_id, r.vehicle_id,
                SUM(CASE WHEN r.flag = '' THEN 1 ELSE 0 END) AS n_believed,
                SUM(CASE WHEN r.flag <> '' THEN 1 ELSE 0 END) AS n_flagged,
                MIN(CASE WHEN r.flag = '' THEN r.read_on END) AS first_on,
                MIN(CASE WHEN r.flag = '' THEN r.km END) AS first_km,
                MAX(CASE WHEN r.flag = '' THEN r.read_on END) AS last_on,
                MAX(CASE WHEN r.flag = '' THEN r.km END) AS last_km
            FROM vehicles_mileagereading r
            WHERE {where}
            GROUP BY r.dealer_id, r.vehicle_id
        ) a
        JOIN vehicles_vehicle v ON v.id = a.vehicle_id
    ) x
    """


def _peer_averages(*, recompute: bool) -> tuple[dict, dict]:
    """Average own daily distance per (model, region) and per model, over the whole network,
    from vehicles with their own readings; only groups of at least MIN_PEERS vehicles.

    Recomputed from the readings (one GROUP BY over them all) by the network's full refresh
    and stored in ForecastPeerAverage; other refreshes read the stored figures, so the
    10-minute job does not aggregate every reading of the network."""
    from dealercrm.service.models.forecast import ForecastPeerAverage

    by_region: dict[tuple[int, int], float] = {}
    by_model: dict[int, float] = {}
    if not recompute:
        stored = list(
            ForecastPeerAverage.objects.values_list("car_model_id", "region_id", "daily_km")
        )
        if stored:
            for model_id, region_id, daily in stored:
                if region_id is None:
                    by_model[model_id] = daily
                else:
                    by_region[(model_id, region_id)] = daily
            return by_region, by_model
    sql = f"""
        SELECT v.car_model_id, d.region_id, COUNT(*), SUM(o.own_rate)
        FROM ({_own_rate_sql("1 = 1")}) o
        JOIN vehicles_vehicle v ON v.id = o.vehicle_id
        JOIN core_dealer d ON d.id = v.dealer_id
        WHERE o.own_rate IS NOT NULL AND v.car_model_id IS NOT NULL
        GROUP BY v.car_model_id, d.region_id
    """
    model_sums: dict[int, list[float]] = {}
    rows = []
    with connection.cursor() as cursor:
        cursor.execute(sql)
        for model_id, region_id, count, total in cursor.fetchall():
            if count >= MIN_PEERS:
                by_region[(model_id, region_id)] = float(total) / count
                rows.append((model_id, region_id, count, float(total) / count))
            acc = model_sums.setdefault(model_id, [0, 0.0])
            acc[0] += count
            acc[1] += float(total)
    for model_id, (count, total) in model_sums.items():
        if count >= MIN_PEERS:
            by_model[model_id] = total / count
            rows.append((model_id, None, int(count), total / count))
    with transaction.atomic():
        ForecastPeerAverage.objects.all().delete()
        ForecastPeerAverage.objects.bulk_create(
            ForecastPeerAverage(car_model_id=m, region_id=r, vehicles=n, daily_km=round(k, 2))
            for m, r, n, k in rows
        )
    return by_region, by_model


def _schedules() -> tuple[dict[int, tuple[int, int, int, int]], tuple[int, int, int, int]]:
    from dealercrm.service.models import MaintenanceSchedule

    rows = MaintenanceSchedule.objects.values_list(
        "car_model_id", "first_km", "first_months", "interval_km", "interval_months"
    )
    by_model: dict[int, tuple[int, int, int, int]] = {}
    default = BUILTIN_SCHEDULE
    for model_id, *values in rows:
        if model_id is None:
            default = tuple(values)  # type: ignore[assignment]
        else:
            by_model[model_id] = tuple(values)  # type: ignore[assignment]
    return by_model, default


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 Aug + 6 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value  # type: ignore[return-value]
    return date.fromisoformat(str(value)[:10])


def _local_date(value: object, tz_name: str) -> date | None:
    """The dealer's local date of a timestamp (SQLite returns aggregates as text in UTC)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(tz_name or settings.TIME_ZONE)).date()


def forecast_compute(
    *,
    daily_km: float | None,
    anchor: tuple[date, int] | None,
    delivery_date: date | None,
    last_maintenance_on: date | None,
    last_maintenance_km: int | None,
    schedule: tuple[int, int, int, int],
) -> dict[str, object]:
    """The next service of one vehicle (pure: the refresh calls it per fetched row).

    No maintenance since delivery → the first at min(delivery + first_months, the day the
    forecast reaches first_km); else the next at min(last + interval_months, the day it reaches
    last maintenance km + interval_km). Days to a distance from the latest believed reading (or
    delivery at 0 km) at `daily_km`; a distance already passed gives a date in the past.
    """
    first_km, first_months, interval_km, interval_months = schedule
    if last_maintenance_on is None:
        kind = "first"
        target_km: int | None = first_km
        by_time = add_months(delivery_date, first_months) if delivery_date else None
    else:
        kind = "regular"
        if last_maintenance_km is None and anchor is not None and daily_km is not None:
            # The repair order had no mileage: the forecast's position on that day.
            last_maintenance_km = max(
                0, round(anchor[1] - daily_km * (anchor[0] - last_maintenance_on).days)
            )
        target_km = last_maintenance_km + interval_km if last_maintenance_km is not None else None
        by_time = add_months(last_maintenance_on, interval_months)
    by_distance = None
    if target_km is not None and anchor is not None and daily_km:
        by_distance = anchor[0] + timedelta(days=round((target_km - anchor[1]) / daily_km))
    if by_distance is not None and (by_time is None or by_distance <= by_time):
        next_on, reason = by_distance, "distance"
    elif by_time is not None:
        next_on, reason = by_time, "time"
    else:
        next_on, reason = None, ""
    return {
        "next_service_kind": kind,
        "next_service_on": next_on,
        "next_service_km": target_km,
        "due_reason": reason,
        "due_by_distance_on": by_distance,
        "due_by_time_on": by_time,
    }


def _batch_sql(where_v: str, where_r: str, where_o: str) -> str:
    return f"""
    SELECT v.id, v.dealer_id, v.car_model_id, d.region_id, d.time_zone, v.delivery_date,
        o.n_believed, o.n_flagged, o.last_on, o.last_km, o.own_rate,
        ro.visits, ro.last_visit_at, ro.maintenances, mt.opened_at, mt.mileage_km
    FROM vehicles_vehicle v
    JOIN core_dealer d ON d.id = v.dealer_id
    LEFT JOIN ({_own_rate_sql(where_r)}) o ON o.vehicle_id = v.id
    LEFT JOIN (
        SELECT r.vehicle_id, COUNT(*) AS visits, MAX(r.opened_at) AS last_visit_at,
            SUM(CASE WHEN r.kind = 'maintenance' THEN 1 ELSE 0 END) AS maintenances
        FROM service_repairorder r
        WHERE r.status <> 'cancelled' AND r.vehicle_id IS NOT NULL AND {where_o}
        GROUP BY r.dealer_id, r.vehicle_id
    ) ro ON ro.vehicle_id = v.id
    LEFT JOIN (
        SELECT r.vehicle_id, r.opened_at, r.mileage_km,
            ROW_NUMBER() OVER (
                PARTITION BY r.dealer_id, r.vehicle_id ORDER BY r.opened_at DESC, r.id DESC
            ) AS rn
        FROM service_repairorder r
        WHERE r.status <> 'cancelled' AND r.kind = 'maintenance' AND r.vehicle_id IS NOT NULL
            AND {where_o}
    ) mt ON mt.vehicle_id = v.id AND mt.rn = 1
    WHERE {where_v}
    """


def _upsert_sql() -> str:
    columns = ", ".join(STATE_COLUMNS)
    placeholders = ", ".join(["%s"] * len(STATE_COLUMNS))
    updates = ", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS if c != "vehicle_id")
    return (
        f"INSERT INTO service_vehicleservicestate ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT (vehicle_id) DO UPDATE SET {updates}"
    )


def _batches(keys: list[tuple[int, int]], size: int) -> list[list[tuple[int, int]]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


def _batch_filters(batch: list[tuple[int, int]], dense: bool) -> tuple[str, str, str, list]:
    """WHERE clauses for vehicles, readings and repair orders of a batch of (dealer, vehicle)
    keys. A dense batch (every vehicle of a key range, the full refresh) is a row-value range
    the (dealer, vehicle, …) indexes serve; a sparse one lists its dealers and vehicles."""
    if dense:
        lo, hi = batch[0], batch[-1]
        clause = "(%s.dealer_id, %s.{col}) >= (%%s, %%s) AND (%s.dealer_id, %s.{col}) <= (%%s, %%s)"

        def rng(alias: str, col: str) -> str:
            return (clause % (alias, alias, alias, alias)).format(col=col)

        p = [lo[0], lo[1], hi[0], hi[1]]
        return rng("v", "id"), rng("r", "vehicle_id"), rng("r", "vehicle_id"), p
    dealers = sorted({d for d, _v in batch})
    vehicles = [v for _d, v in batch]
    d_in = ", ".join(["%s"] * len(dealers))
    v_in = ", ".join(["%s"] * len(vehicles))

    def lst(alias: str, col: str) -> str:
        return f"{alias}.dealer_id IN ({d_in}) AND {alias}.{col} IN ({v_in})"

    return lst("v", "id"), lst("r", "vehicle_id"), lst("r", "vehicle_id"), dealers + vehicles


def _refresh_batch(
    batch: list[tuple[int, int]],
    *,
    dense: bool,
    peers: tuple[dict, dict],
    schedules: tuple[dict, tuple[int, int, int, int]],
    now: object,
) -> int:
    # Dates are computed in Python over the fetched columns (one query per batch, one
    # executemany upsert): month arithmetic ("6 months after delivery", clamped to the month's
    # end) and "the day a distance is reached" have no expression both SQLite and PostgreSQL
    # agree on, and a per-row pass over plain tuples costs a few microseconds a vehicle.
    where_v, where_r, where_o, p = _batch_filters(batch, dense)
    sql = _batch_sql(where_v, where_r, where_o)
    # The readings' filter appears once, the repair orders' twice, then the vehicles'.
    params = p + p + p + p
    by_region, by_model = peers
    schedule_by_model, default_schedule = schedules
    fallback = default_daily_km()
    rows_out: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for (
        vehicle_id,
        dealer_id,
        model_id,
        region_id,
        tz_name,
        delivery,
        n_believed,
        n_flagged,
        last_on,
        last_km,
        own_rate,
        visits,
        last_visit_at,
        maintenances,
        maint_at,
        maint_km,
    ) in rows:
        delivery = _as_date(delivery)
        last_on = _as_date(last_on)
        if own_rate is not None:
            daily, basis = float(own_rate), "readings"
        elif (model_id, region_id) in by_region:
            daily, basis = by_region[(model_id, region_id)], "model_region"
        elif model_id in by_model:
            daily, basis = by_model[model_id], "model"
        else:
            daily, basis = fallback, "network"
        if last_on is not None and last_km is not None:
            anchor: tuple[date, int] | None = (last_on, int(last_km))
        elif delivery is not None:
            anchor = (delivery, 0)
        else:
            anchor = None
        maint_on = _local_date(maint_at, tz_name)
        forecast = forecast_compute(
            daily_km=daily,
            anchor=anchor,
            delivery_date=delivery,
            last_maintenance_on=maint_on,
            last_maintenance_km=maint_km,
            schedule=schedule_by_model.get(model_id, default_schedule),
        )
        rows_out.append(
            (
                vehicle_id,
                dealer_id,
                round(daily, 2),
                basis,
                int(n_believed or 0),
                int(n_flagged or 0),
                last_km,
                last_on,
                _local_date(last_visit_at, tz_name),
                int(visits or 0),
                maint_on,
                maint_km,
                int(maintenances or 0),
                forecast["next_service_kind"],
                forecast["next_service_on"],
                forecast["next_service_km"],
                forecast["due_reason"],
                forecast["due_by_distance_on"],
                forecast["due_by_time_on"],
                now,
            )
        )
    if rows_out:
        _upsert(rows_out)
    return len(rows_out)


def _upsert(rows: list[tuple[Any, ...]]) -> None:
    """Write a batch of state rows. PostgreSQL: COPY into a temporary table and one INSERT …
    SELECT … ON CONFLICT (a row-by-row executemany costs a round trip a vehicle there);
    SQLite: executemany of the same upsert, which runs in-process without round trips."""
    columns = ", ".join(STATE_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(_upsert_sql(), rows)
            return
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS forecast_state_rows "
            "(LIKE service_vehicleservicestate INCLUDING DEFAULTS)"
        )
        cursor.execute("TRUNCATE forecast_state_rows")
        with cursor.cursor.copy(f"COPY forecast_state_rows ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS if c != "vehicle_id")
        cursor.execute(
            f"INSERT INTO service_vehicleservicestate ({columns}) "
            f"SELECT {columns} FROM forecast_state_rows "
            f"ON CONFLICT (vehicle_id) DO UPDATE SET {updates}"
        )


def _changed_vehicle_keys(dealer_id: int | None) -> list[tuple[int, int]]:
    """(dealer, vehicle) of vehicles with a reading or repair order after their dealer's
    watermark (a dealer never refreshed: all of its vehicles), or with no state row yet."""
    dealer_filter = "AND v.dealer_id = %s" if dealer_id is not None else ""
    params = [dealer_id] if dealer_id is not None else []
    # The lowest watermark of the dealers in view bounds the readings to read by primary key
    # (0 when one of them was never refreshed), so the 10-minute job reads only new rows.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT MIN(COALESCE(w.last_reading_id, 0)) FROM core_dealer v
            LEFT JOIN service_forecastrefresh w ON w.dealer_id = v.id
            WHERE 1 = 1 {dealer_filter.replace("v.dealer_id", "v.id")}""",
            params,
        )
        lowest = cursor.fetchone()[0] or 0
    sql = f"""
        SELECT r.dealer_id, r.vehicle_id FROM vehicles_mileagereading r
        LEFT JOIN service_forecastrefresh w ON w.dealer_id = r.dealer_id
        JOIN vehicles_vehicle v ON v.id = r.vehicle_id
        WHERE r.id > %s AND r.id > COALESCE(w.last_reading_id, 0) {dealer_filter}
        UNION
        SELECT r.dealer_id, r.vehicle_id FROM service_repairorder r
        LEFT JOIN service_forecastrefresh w ON w.dealer_id = r.dealer_id
        JOIN vehicles_vehicle v ON v.id = r.vehicle_id
        WHERE (r.id > COALESCE(w.last_repair_order_id, 0) OR r.updated_at >= w.refreshed_at)
            {dealer_filter}
        UNION
        SELECT v.dealer_id, v.id FROM vehicles_vehicle v
        LEFT JOIN service_vehicleservicestate s ON s.vehicle_id = v.id
        WHERE s.vehicle_id IS NULL {dealer_filter}
        ORDER BY 1, 2
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [lowest, *params, *params, *params])
        return [(d, v) for d, v in cursor.fetchall()]


def _all_vehicle_keys(
    dealer_id: int | None, vehicle_ids: list[int] | None
) -> list[tuple[int, int]]:
    vehicles = Vehicle.objects.unscoped()
    if dealer_id is not None:
        vehicles = vehicles.filter(dealer_id=dealer_id)
    if vehicle_ids is not None:
        vehicles = vehicles.filter(pk__in=vehicle_ids)
    return list(vehicles.order_by("dealer_id", "id").values_list("dealer_id", "id"))


def forecast_refresh(
    *,
    dealer_id: int | None = None,
    vehicle_ids: list[int] | None = None,
    full: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Recompute VehicleServiceState set-based: for the given vehicles; else (not full) for
    vehicles whose readings or repair orders changed since the dealer's last refresh (the
    ForecastRefresh watermark); else (full) for every vehicle of the dealer, or the network.
    One query per batch of BATCH_SIZE vehicles to fetch, one upsert to write. Returns the
    number of vehicles refreshed; `progress(done, total)` is told after each batch."""
    from dealercrm.core.models import Dealer
    from dealercrm.service.models.forecast import ForecastRefresh
    from dealercrm.service.models.records import RepairOrder

    now = timezone.now()
    # Watermarks first: anything written after this read is caught by the next refresh.
    max_reading = MileageReading.objects.unscoped().order_by("-id").values_list("id", flat=True)
    max_reading_id = max_reading.first() or 0
    max_ro_id = (
        RepairOrder.objects.unscoped().order_by("-id").values_list("id", flat=True).first() or 0
    )
    if vehicle_ids is not None:
        keys = _all_vehicle_keys(dealer_id, vehicle_ids)
        dense = False
    elif full:
        keys = _all_vehicle_keys(dealer_id, None)
        dense = True
    else:
        keys = _changed_vehicle_keys(dealer_id)
        dense = False
    total = len(keys)
    if keys:
        peers = _peer_averages(recompute=full and dealer_id is None and vehicle_ids is None)
        schedules = _schedules()
        size = BATCH_SIZE if dense else 5000
        done = 0
        for batch in _batches(keys, size):
            with transaction.atomic():
                done += _refresh_batch(
                    batch, dense=dense, peers=peers, schedules=schedules, now=now
                )
            if progress is not None:
                progress(done, total)
    elif progress is not None:
        progress(0, 0)
    if vehicle_ids is None:
        dealers = (
            [dealer_id]
            if dealer_id is not None
            else list(Dealer.objects.values_list("id", flat=True))
        )
        ForecastRefresh.objects.unscoped().bulk_create(
            [
                ForecastRefresh(
                    dealer_id=d,
                    last_reading_id=max_reading_id,
                    last_repair_order_id=max_ro_id,
                    refreshed_at=now,
                )
                for d in dealers
            ],
            update_conflicts=True,
            unique_fields=["dealer"],
            update_fields=["last_reading_id", "last_repair_order_id", "refreshed_at"],
        )
    return total


def forecast_refresh_for_model(car_model_id: int | None) -> int:
    """Refresh the vehicles a schedule applies to: one model's, or (None, the network default)
    those whose model has no schedule of its own."""
    from dealercrm.service.models import MaintenanceSchedule

    vehicles = Vehicle.objects.unscoped()
    if car_model_id is not None:
        vehicles = vehicles.filter(car_model_id=car_model_id)
    else:
        own = MaintenanceSchedule.objects.exclude(car_model=None).values("car_model_id")
        vehicles = vehicles.exclude(car_model_id__in=own)
    ids = list(vehicles.values_list("id", flat=True))
    if not ids:
        return 0
    return forecast_refresh(vehicle_ids=ids)
