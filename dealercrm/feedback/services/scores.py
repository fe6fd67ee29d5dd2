"""The satisfaction scores' rollup (SurveyScoreRollup): updated when a response is recorded,
rebuildable set-based from the answers.

What a rollup row holds, per dealer, month (the dealer's time zone), survey kind and slice:

- scored answers (`question_kind` rating5 / rating10 / nps, with the question's dimension and
  aspect): their count, the sum and sum of squares of their 0–100 points (ratings: 1–5 →
  (v−1)/4·100, 1–10 → (v−1)/9·100; NPS answers v·10), and for NPS the promoters (9–10) and
  detractors (0–6);
- `question_kind = "responded"`: responses (by the month they were answered) in `answers`;
- `question_kind = "invited"`: invitations sent (status sent / answered / expired, by the month
  they were sent) in `answers`, the response rate's denominator.

Grains. A row's slice is (consultant_id, advisor_id, car_model_id), 0 for "none". Each fact is
kept at five grains, so a dashboard query reads the coarsest rows that answer it instead of
every combination of person and model: the full slice, one slice with the other two summed
(ANY = −1 in their place: consultant only, advisor only, model only) and the dealer's total
(−1, −1, −1). The unique key makes every grain an upsert target on both engines.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from dealercrm.core.models import Dealer
from dealercrm.core.tenancy import DealerScope, dealer_scope

from ..models import (
    InvitationStatus,
    QuestionKind,
    SurveyAnswer,
    SurveyInvitation,
    SurveyKind,
    SurveyResponse,
    SurveyScoreRollup,
)

ANY = -1  # "every value" in a slice column of a coarser grain
RESPONDED = "responded"
INVITED = "invited"
SCORED_KINDS = (QuestionKind.RATING_5.value, QuestionKind.RATING_10.value, QuestionKind.NPS.value)
COUNTED_INVITATIONS = (
    InvitationStatus.SENT.value,
    InvitationStatus.ANSWERED.value,
    InvitationStatus.EXPIRED.value,
)
# (consultant, advisor, car model): True keeps the slice, False puts ANY in its place.
GRAINS: tuple[tuple[bool, bool, bool], ...] = (
    (True, True, True),
    (True, False, False),
    (False, True, False),
    (False, False, True),
    (False, False, False),
)
KEY_COLUMNS = (
    "dealer_id",
    "month",
    "kind",
    "question_kind",
    "dimension",
    "aspect",
    "consultant_id",
    "advisor_id",
    "car_model_id",
)
SUM_COLUMNS = ("answers", "points", "points_sq", "promoters", "detractors")


def answer_points(kind: str, value: int) -> float:
    """An answer on 0–100 (the same arithmetic as the rebuild's SQL, so both agree)."""
    if kind == QuestionKind.RATING_5:
        return (value - 1) * 25.0
    if kind == QuestionKind.RATING_10:
        return (value - 1) * 100.0 / 9
    return value * 10.0


def local_month(at: datetime.datetime, zone: str) -> datetime.date:
    return timezone.localtime(at, ZoneInfo(zone)).date().replace(day=1)


def _table() -> str:
    return connection.ops.quote_name(SurveyScoreRollup._meta.db_table)


def _upsert_sql() -> str:
    table = _table()
    columns = (*KEY_COLUMNS, *SUM_COLUMNS)
    sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in SUM_COLUMNS)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(KEY_COLUMNS)}) DO UPDATE SET {sets}"
    )


def _expand(
    facts: dict[tuple, list[float]],
) -> list[tuple]:
    """Full-slice facts → rows at every grain (summed where two facts meet in a coarser one)."""
    rows: dict[tuple, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0, 0])
    for key, sums in facts.items():
        head, (consultant, advisor, car_model) = key[:6], key[6:]
        for keep_c, keep_a, keep_m in GRAINS:
            grain_key = (
                *head,
                consultant if keep_c else ANY,
                advisor if keep_a else ANY,
                car_model if keep_m else ANY,
            )
            target = rows[grain_key]
            for i, value in enumerate(sums):
                target[i] += value
    return [(*key, *sums) for key, sums in rows.items()]


def on_response_recorded(response_id: int, dealer_id: int) -> None:
    """survey_events listener: add the response's answers to the rollup (a few upserts,
    whatever the dashboard's size)."""
    with dealer_scope(dealer_id), transaction.atomic():
        # Claim the response first: a second call (a retried job, a listener run twice) adds
        # nothing, and the claim is undone with the upserts if they fail.
        claimed = SurveyResponse.objects.filter(
            pk=response_id, dealer_id=dealer_id, scored_at__isnull=True
        ).update(scored_at=timezone.now())
        if not claimed:
            return
        response = (
            SurveyResponse.objects.filter(pk=response_id, dealer_id=dealer_id)
            .values("kind", "answered_at", "consultant_id", "advisor_id", "car_model_id")
            .first()
        )
        if response is None:
            return
        zone = Dealer.objects.filter(pk=dealer_id).values_list("time_zone", flat=True).first()
        zone = zone or timezone.get_default_timezone_name()
        month = local_month(response["answered_at"], zone)
        slice_ = (
            response["consultant_id"] or 0,
            response["advisor_id"] or 0,
            response["car_model_id"] or 0,
        )
        facts: dict[tuple, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0, 0])
        facts[(dealer_id, month, response["kind"], RESPONDED, "", "", *slice_)][0] += 1
        answers = SurveyAnswer.objects.filter(
            dealer_id=dealer_id,
            response_id=response_id,
            kind__in=SCORED_KINDS,
            value__isnull=False,
        ).values_list("kind", "dimension", "aspect", "value")
        for kind, dimension, aspect, value in answers:
            points = answer_points(kind, value)
            sums = facts[(dealer_id, month, response["kind"], kind, dimension, aspect, *slice_)]
            sums[0] += 1
            sums[1] += points
            sums[2] += points * points
            if kind == QuestionKind.NPS:
                sums[3] += value >= 9
                sums[4] += value <= 6
        # Invitations are counted where they change: after sending (invitations.py) and by the
        # periodic recount (score_jobs.py), not on every answer.
        with connection.cursor() as cursor:
            cursor.executemany(_upsert_sql(), _expand(facts))


# --- the set-based rebuild ---------------------------------------------------------------------


def _fixed_offset_minutes(zone: str) -> int | None:
    """The zone's UTC offset in minutes when it has had one offset since 2000 (Asia/Shanghai
    and most of Asia), else None (daylight saving time)."""
    tz = ZoneInfo(zone)
    offsets = {
        datetime.datetime(year, month, 1, tzinfo=tz).utcoffset()
        for year in range(2000, 2041, 4)
        for month in (1, 7)
    }
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return int(offset.total_seconds() // 60) if offset is not None else None


def _month_sql(column: str, zone: str) -> tuple[str, list]:
    """The first day of `column`'s month in the time zone, as SQL and its parameters."""
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('month', {column} AT TIME ZONE %s) AS date)", [zone]
    # SQLite keeps datetimes as UTC text. A fixed offset is SQLite's own date arithmetic;
    # otherwise Django's SQLite function (what TruncMonth(tzinfo=…) runs), many times slower.
    offset = _fixed_offset_minutes(zone)
    if offset is not None:
        return f"date({column}, %s, 'start of month')", [f"{offset:+d} minutes"]
    return f"date(django_datetime_trunc('month', {column}, %s, 'UTC'))", [zone]


def _slice_sql(alias: str, keep: tuple[bool, bool, bool]) -> str:
    names = ("consultant_id", "advisor_id", "car_model_id")
    return ", ".join(
        f"COALESCE({alias}.{name}, 0)" if kept else str(ANY)
        for name, kept in zip(names, keep, strict=True)
    )


def _in(ids: list[int]) -> tuple[str, list[int]]:
    return ", ".join(["%s"] * len(ids)), list(ids)


def _local_start_utc(month: datetime.date, zone: str) -> datetime.datetime | str:
    """The instant the month begins in the zone, as a parameter of raw SQL (SQLite compares
    its UTC text)."""
    start = datetime.datetime.combine(month, datetime.time.min, tzinfo=ZoneInfo(zone))
    start = start.astimezone(datetime.UTC)
    if connection.vendor == "sqlite":
        return start.replace(tzinfo=None).isoformat(sep=" ")
    return start


def _rebuild_dealers(
    zones: dict[str, list[int]],
    *,
    since: datetime.date | None = None,
    invitations_only: bool = False,
) -> None:
    """Delete and re-insert the rows of these dealers (from `since`, only the invitation rows
    when `invitations_only`): the full slice from the source tables, then the coarser grains
    from those rows. A few statements per time zone, whatever the number of answers."""
    table = _table()
    answer_t = connection.ops.quote_name(SurveyAnswer._meta.db_table)
    response_t = connection.ops.quote_name(SurveyResponse._meta.db_table)
    invitation_t = connection.ops.quote_name(SurveyInvitation._meta.db_table)
    columns = ", ".join((*KEY_COLUMNS, *SUM_COLUMNS))
    full = (True, True, True)
    nps = QuestionKind.NPS.value
    points = (
        # Double precision, as Python computes it (PostgreSQL would otherwise sum numerics).
        "CASE a.kind WHEN 'rating5' THEN (CAST(a.value AS DOUBLE PRECISION) - 1) * 25 "
        "WHEN 'rating10' THEN (CAST(a.value AS DOUBLE PRECISION) - 1) * 100 / 9 "
        "ELSE CAST(a.value AS DOUBLE PRECISION) * 10 END"
    )
    with connection.cursor() as cursor:
        for zone, dealer_ids in zones.items():
            marks, ids = _in(dealer_ids)
            delete = f"DELETE FROM {table} WHERE dealer_id IN ({marks})"
            params: list = [*ids]
            if since is not None:
                delete += " AND month >= %s"
                params.append(since)
            if invitations_only:
                delete += " AND question_kind = %s"
                params.append(INVITED)
            cursor.execute(delete, params)
            start = _local_start_utc(since, zone) if since else None
            if not invitations_only:
                answered = " AND r.answered_at >= %s" if start else ""
                month_sql, month_params = _month_sql("r.answered_at", zone)
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) "
                    f"SELECT a.dealer_id, {month_sql}, r.kind, a.kind, "
                    f"a.dimension, a.aspect, {_slice_sql('r', full)}, COUNT(*), "
                    f"SUM({points}), SUM(({points}) * ({points})), "
                    f"SUM(CASE WHEN a.kind = %s AND a.value >= 9 THEN 1 ELSE 0 END), "
                    f"SUM(CASE WHEN a.kind = %s AND a.value <= 6 THEN 1 ELSE 0 END) "
                    f"FROM {answer_t} a JOIN {response_t} r "
                    f"ON r.id = a.response_id AND r.dealer_id = a.dealer_id "
                    f"WHERE a.dealer_id IN ({marks}) AND a.value IS NOT NULL "
                    f"AND a.kind IN (%s, %s, %s){answered} "
                    f"GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
                    [*month_params, nps, nps, *ids, *SCORED_KINDS, *([start] if start else [])],
                )
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) "
                    f"SELECT r.dealer_id, {month_sql}, r.kind, %s, '', '', "
                    f"{_slice_sql('r', full)}, COUNT(*), 0, 0, 0, 0 "
                    f"FROM {response_t} r WHERE r.dealer_id IN ({marks}){answered} "
                    f"GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
                    [*month_params, RESPONDED, *ids, *([start] if start else [])],
                )
            sent = "COALESCE(i.sent_at, i.created_at)"
            # The index (dealer, kind, created_at) finds the recent ones: an invitation is sent
            # within days of its creation, so a month's margin loses none.
            kind_marks = ", ".join(["%s"] * len(SurveyKind.values))
            created_from = (
                _local_start_utc(since - datetime.timedelta(days=31), zone) if since else None
            )
            sent_month, sent_params = _month_sql(sent, zone)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"SELECT i.dealer_id, {sent_month}, i.kind, %s, '', '', "
                f"{_slice_sql('i', full)}, COUNT(*), 0, 0, 0, 0 "
                f"FROM {invitation_t} i WHERE i.dealer_id IN ({marks}) "
                f"AND i.status IN (%s, %s, %s)"
                + (f" AND {sent} >= %s AND i.kind IN ({kind_marks}) AND i.created_at >= %s"
                   if start else "")
                + " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
                [*sent_params, INVITED, *ids, *COUNTED_INVITATIONS,
                 *([start, *SurveyKind.values, created_from] if start else [])],
            )  # fmt: skip
            # The coarser grains, summed from the full-slice rows just written.
            base = (
                f"FROM {table} WHERE dealer_id IN ({marks}) AND consultant_id <> {ANY} "
                f"AND advisor_id <> {ANY} AND car_model_id <> {ANY}"
            )
            base_params: list = [*ids]
            if since is not None:
                base += " AND month >= %s"
                base_params.append(since)
            if invitations_only:
                base += " AND question_kind = %s"
                base_params.append(INVITED)
            for keep in GRAINS[1:]:
                slice_sql = ", ".join(
                    name if kept else str(ANY)
                    for name, kept in zip(
                        ("consultant_id", "advisor_id", "car_model_id"), keep, strict=True
                    )
                )
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) "
                    f"SELECT dealer_id, month, kind, question_kind, dimension, aspect, "
                    f"{slice_sql}, SUM(answers), SUM(points), SUM(points_sq), "
                    f"SUM(promoters), SUM(detractors) {base} "
                    f"GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9",
                    base_params,
                )


def _zones(dealer_ids: Iterable[int] | None) -> dict[str, list[int]]:
    dealers = Dealer.objects.all()
    if dealer_ids is not None:
        dealers = dealers.filter(pk__in=list(dealer_ids))
    zones: dict[str, list[int]] = defaultdict(list)
    for pk, zone in dealers.order_by("pk").values_list("pk", "time_zone"):
        zones[zone or timezone.get_default_timezone_name()].append(pk)
    return zones


def rollup_rebuild(*, dealer_ids: Iterable[int] | None = None) -> int:
    """Delete the dealers' rollup rows (default: every dealer's) and re-insert them set-based
    from the answers, responses and invitations, in one transaction. Returns the rows written.
    Demo data and imports call this after their bulk inserts."""
    with dealer_scope(DealerScope.everything()), transaction.atomic():
        zones = _zones(dealer_ids)
        # Every response counted here is marked, so its listener (if it runs later) adds nothing.
        responses = SurveyResponse.objects.unscoped().filter(scored_at__isnull=True)
        if dealer_ids is not None:
            responses = responses.filter(dealer_id__in=[pk for ids in zones.values() for pk in ids])
        responses.update(scored_at=timezone.now())
        for zone, ids in zones.items():
            # Bounded IN lists (SQLite's variable limit, PostgreSQL's plans).
            for i in range(0, len(ids), 500):
                _rebuild_dealers({zone: ids[i : i + 500]})
        rows = SurveyScoreRollup.objects.unscoped()
        if dealer_ids is not None:
            rows = rows.filter(dealer_id__in=[pk for ids in zones.values() for pk in ids])
        return rows.count()


def rollup_refresh_invitations(*, dealer_ids: Iterable[int] | None = None, months: int = 2) -> None:
    """Recount the invitations of the last `months` months (this one included): a response
    recounts its dealer's current month, this catches the months without responses and the
    invitations sent since (a periodic job, see score_jobs.py)."""
    with dealer_scope(DealerScope.everything()), transaction.atomic():
        for zone, ids in _zones(dealer_ids).items():
            since = local_month(timezone.now(), zone)
            for _step in range(months - 1):
                since = (since - datetime.timedelta(days=1)).replace(day=1)
            for i in range(0, len(ids), 500):
                _rebuild_dealers({zone: ids[i : i + 500]}, since=since, invitations_only=True)
