"""Finding likely duplicate customers, deciding pairs, and the dealer's auto-merge policy.

The scan works in two steps so that it scales to a network of millions of customers:

BLOCKING, set-based in SQL: for each kind of key (phone, ID number hash, VIN, plate, e-mail,
WeChat id) one query groups the living customers by the key with window functions and returns
only the groups of 2–20 customers, with the fields scoring needs. A key shared by more than 20
customers (a fleet's phone, "13800000000") is a shared number, not a person: it is skipped and
counted. Nothing is compared that does not share a key, so the work grows with the pairs, not
with the square of the customers.

SCORING, in Python for the candidate pairs only: the names (Chinese characters and pinyin, so a
typo, a homophone, swapped order or a Latin spelling still match), the address and the birthday,
combined with how strong the shared keys are into a 0–1 confidence. Clearly different names at
one address or with one car are a household: related, not a duplicate.

The pairs are then upserted in bulk; decided pairs keep their decision.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz

from dealercrm.core.audit import audit_record
from dealercrm.core.models import Dealer, User
from dealercrm.core.tenancy import DealerScope, dealer_scope
from dealercrm.customers.models import Customer, CustomerPhone
from dealercrm.search.keys import has_han, is_han, normalise_text
from dealercrm.vehicles.models import Vehicle, VehicleOwnership

from ..models import DedupSettings, DuplicateCandidate, DuplicateStatus

# A key shared by more customers than this is a shared number (a fleet, a placeholder), not a
# person; pairing its customers would flood the queue with n² false pairs.
MAX_BLOCK = 20
# Pairs below this confidence are not worth a reviewer's time (unless they are a household).
MIN_SCORE = 0.35
# Names this far apart are "clearly different" (a spouse, a parent), not a typo.
DIFFERENT_NAMES_BELOW = 0.5
AUTO_MERGE_MIN = 0.5
BATCH = 2000

# How much sharing one key says about being one person (0–1). An ID number is a person; a phone
# or WeChat id almost; a car or plate is shared within families and passed on.
BLOCK_WEIGHTS = {
    "id_number": 1.0,
    "phone": 0.8,
    "wechat": 0.8,
    "email": 0.7,
    "vin": 0.6,
    "plate": 0.5,
}
BLOCK_KINDS = tuple(BLOCK_WEIGHTS)
CAR_BLOCKS = frozenset({"vin", "plate"})


@dataclass
class ScanReport:
    """What one scan found and did."""

    pairs: int = 0  # candidate pairs kept (open, household) in this scan
    created: int = 0
    updated: int = 0  # open pairs whose score was refreshed
    households: int = 0
    kept_decided: int = 0  # pairs found again but already decided: left alone
    removed: int = 0  # open pairs that no longer share a key (or whose customer is gone)
    shared_keys_skipped: int = 0
    auto_merged: int = 0
    auto_merge_failed: int = 0
    blocks: dict[str, int] = field(default_factory=dict)  # pairs per key kind
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Person:
    """The fields scoring needs, read with the blocking query."""

    id: int
    dealer_id: int
    name: str
    latin_name: str
    province: str
    city: str
    district: str
    street: str
    birthday: str  # ISO text, "" when unknown


# --- blocking ----------------------------------------------------------------------------------


def _key_source(kind: str, where_dealer: str) -> str:
    """SQL giving (key, cid, did) of living customers for one kind of key, in the scan's dealers.

    `where_dealer` filters a `did`-like column; it is formatted with the table alias to filter.
    """
    customer = Customer._meta.db_table
    phone = CustomerPhone._meta.db_table
    vehicle = Vehicle._meta.db_table
    ownership = VehicleOwnership._meta.db_table
    if kind == "phone":
        return (
            f"SELECT p.number AS k, p.customer_id AS cid, p.dealer_id AS did FROM {phone} p "
            f"JOIN {customer} c ON c.id = p.customer_id "
            f"WHERE c.is_deleted = %s AND {where_dealer.format('p')}"
        )
    if kind in ("id_number", "email", "wechat"):
        column = {
            "id_number": "c.id_number_hash",
            "email": "LOWER(c.email)",
            "wechat": "c.wechat_id",
        }[kind]
        return (
            f"SELECT {column} AS k, c.id AS cid, c.dealer_id AS did FROM {customer} c "
            f"WHERE c.is_deleted = %s AND {column} <> '' AND {where_dealer.format('c')}"
        )
    # A car: its current owner, and everyone who owned it at this dealer (a spouse, a parent).
    column = "v.vin" if kind == "vin" else "v.plate"
    return (
        f"SELECT {column} AS k, v.owner_id AS cid, v.dealer_id AS did FROM {vehicle} v "
        f"JOIN {customer} c ON c.id = v.owner_id "
        f"WHERE c.is_deleted = %s AND {column} <> '' AND {where_dealer.format('v')} "
        f"UNION "
        f"SELECT {column} AS k, o.customer_id AS cid, o.dealer_id AS did FROM {ownership} o "
        f"JOIN {vehicle} v ON v.id = o.vehicle_id "
        f"JOIN {customer} c ON c.id = o.customer_id "
        f"WHERE c.is_deleted = %s AND {column} <> '' AND {where_dealer.format('o')}"
    )


def _block_groups(
    kind: str, *, dealer_id: int | None, brand_id: int | None
) -> tuple[list[list[_Person]], int]:
    """The groups of 2–MAX_BLOCK customers sharing a key of `kind`, and how many keys were
    skipped as shared numbers. One query: window functions size each group in the database, so
    a fleet's phone with 5,000 customers costs one row, not 5,000.

    Across a brand (brand_id), only groups spanning two or more dealers are returned.
    """
    customer = Customer._meta.db_table
    if dealer_id is not None:
        where_dealer = "{0}.dealer_id = %s"
        dealer_param: int = dealer_id
    else:
        where_dealer = (
            f"{{0}}.dealer_id IN (SELECT id FROM {Dealer._meta.db_table} WHERE brand_id = %s)"
        )
        dealer_param = brand_id  # type: ignore[assignment]
    source = _key_source(kind, where_dealer)
    source_params: list[Any] = [False, dealer_param] * source.count("UNION SELECT") + [
        False,
        dealer_param,
    ]
    cross = dealer_id is None
    spread = (
        ", MIN(s.did) OVER (PARTITION BY s.k) AS dmin, MAX(s.did) OVER (PARTITION BY s.k) AS dmax"
        if cross
        else ""
    )
    spread_filter = " AND g.dmin <> g.dmax" if cross else ""
    sql = (
        f"SELECT g.k, g.n, c.id, c.dealer_id, c.name, c.latin_name, c.province, c.city, "
        f"c.district, c.street, c.birthday FROM ("
        f"  SELECT s.k, s.cid, COUNT(*) OVER (PARTITION BY s.k) AS n, "
        f"  ROW_NUMBER() OVER (PARTITION BY s.k ORDER BY s.cid) AS rn{spread} "
        f"  FROM (SELECT DISTINCT k, cid, did FROM ({source}) u) s"
        f") g JOIN {customer} c ON c.id = g.cid "
        f"WHERE ((g.n BETWEEN 2 AND {MAX_BLOCK}){spread_filter}) OR (g.n > {MAX_BLOCK} AND g.rn = 1) "
        f"ORDER BY g.k, c.id"
    )
    groups: list[list[_Person]] = []
    skipped = 0
    current_key: object = None
    with connection.cursor() as cursor:
        cursor.execute(sql, source_params)
        for key, size, *person in cursor.fetchall():
            if size > MAX_BLOCK:
                skipped += 1
                continue
            if key != current_key:
                groups.append([])
                current_key = key
            pk, dealer, name, latin_name, province, city, district, street, born = person
            groups[-1].append(
                _Person(
                    id=pk,
                    dealer_id=dealer,
                    name=name or "",
                    latin_name=latin_name or "",
                    province=province or "",
                    city=city or "",
                    district=district or "",
                    street=street or "",
                    birthday=str(born) if born else "",
                )
            )
    return groups, skipped


# --- scoring -----------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _han_syllable(ch: str) -> str:
    return normalise_text(lazy_pinyin(ch, style=Style.NORMAL)[0])


@lru_cache(maxsize=262144)
def _syllables(name: str) -> tuple[str, ...]:
    """张三 → ("zhang", "san"); "San Zhang" → ("san", "zhang"). A Chinese name is read character
    by character (cached: a few thousand characters make up nearly every name), which is what a
    name's reading is but for the rare polyphonic surname."""
    if has_han(name):
        return tuple(_han_syllable(ch) for ch in name if is_han(ch))
    return tuple(normalise_text(part) for part in name.replace(",", " ").split() if part.strip())


def _spellings(person: _Person) -> list[str]:
    return [n for n in (person.name, person.latin_name) if n and n.strip()]


def name_similarity(a: str, b: str) -> float:
    """0–1: the best of the characters as written, in any order, and the pinyin syllables (so
    王小明 and 王晓明, 张三 and 三张, 张三 and "San Zhang" all come out high). Syllables are
    compared whole: letters shared by different syllables (wei / mei) say nothing."""
    na, nb = normalise_text(a), normalise_text(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 1.0
    best = fuzz.ratio(na, nb)
    # Swapped order (张三 / 三张): the same characters, in another order; a little below exact.
    best = max(best, 0.95 * fuzz.ratio(sorted(na), sorted(nb)))
    sa, sb = _syllables(a), _syllables(b)
    if sa and sb:
        # The same sound: a homophone typo (王小明 / 王晓明), or a Latin spelling of the name.
        best = max(best, 0.97 * fuzz.ratio(sa, sb), 0.95 * fuzz.ratio(sorted(sa), sorted(sb)))
    return round(best / 100, 3)


def _best_name(a: _Person, b: _Person) -> float:
    return max(
        (name_similarity(x, y) for x in _spellings(a) for y in _spellings(b)),
        default=0.0,
    )


def address_similarity(a: _Person, b: _Person) -> float | None:
    """0–1 at the finest level both addresses have, or None when they share no level below the
    city (a city alone says little). Another province or city is 0."""
    if a.province and b.province and a.province != b.province:
        return 0.0
    if a.city and b.city and a.city != b.city:
        return 0.0
    both_district = bool(a.district and b.district)
    if both_district and a.district != b.district:
        return 0.2
    if a.street and b.street:
        street = fuzz.ratio(normalise_text(a.street), normalise_text(b.street)) / 100
        return round(0.4 + 0.6 * street, 3)
    if both_district:
        return 0.6  # the same district, no street to compare
    return None


def score_pair(a: _Person, b: _Person, blocks: Iterable[str]) -> tuple[float, dict[str, Any]]:
    """The confidence that `a` and `b` are one person, and the reasons shown to the reviewer."""
    kinds = sorted(set(blocks), key=BLOCK_KINDS.index)
    strength = 1.0
    for kind in kinds:
        strength *= 1 - BLOCK_WEIGHTS[kind]
    strength = 1 - strength  # two independent keys say more than either
    name = _best_name(a, b)
    address = address_similarity(a, b)
    birthday: bool | None = None
    if a.birthday and b.birthday:
        birthday = a.birthday == b.birthday
    score = (
        0.35 * strength
        + 0.45 * name
        + 0.1 * (0.5 if address is None else address)
        + 0.1 * (0.5 if birthday is None else float(birthday))
    )
    if birthday is False:
        score *= 0.7  # two known, different birthdays: most likely two people
    different_names = name < DIFFERENT_NAMES_BELOW
    household = different_names and (
        (address is not None and address >= 0.8)
        or (bool(CAR_BLOCKS & set(kinds)) and (address is None or address >= 0.5))
    )
    reasons = {
        "blocks": kinds,
        "name": name,
        "address": address,
        "birthday": birthday,
        "household": household,
        # Only a car in common and clearly different names: a car sold on, not a person.
        "noise": different_names and not household and set(kinds) <= CAR_BLOCKS,
    }
    return round(min(max(score, 0.0), 1.0), 3), reasons


# --- the scan ----------------------------------------------------------------------------------


def _brand_dealer_ids(brand_id: int) -> list[int]:
    return list(Dealer.objects.filter(brand_id=brand_id).values_list("id", flat=True))


def duplicates_scan(
    *,
    dealer_id: int | None = None,
    brand_id: int | None = None,
    customer_ids: Iterable[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ScanReport:
    """Find likely duplicates within one dealer (dealer_id), or, for the OEM, across the dealers
    of a brand (brand_id: only pairs whose customers belong to different dealers).

    With `customer_ids` (after an import) only pairs touching those customers are written, and
    no open pair is removed. Then, within a dealer whose policy sets a threshold, open pairs
    above it are merged automatically.
    """
    if (dealer_id is None) == (brand_id is None):
        raise ValueError("duplicates_scan needs exactly one of dealer_id or brand_id.")
    started = time.perf_counter()
    report = ScanReport()
    only = set(customer_ids) if customer_ids is not None else None
    total = len(BLOCK_KINDS) + 2
    step = 0

    def advance() -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(step, total)

    if dealer_id is not None:
        scope = DealerScope.for_dealers([dealer_id])
    else:
        with dealer_scope(None):
            scope = DealerScope.for_dealers(_brand_dealer_ids(brand_id), is_network=True)  # type: ignore[arg-type]
    with dealer_scope(scope):
        # Blocking: which pairs share which keys.
        pair_blocks: dict[tuple[int, int], set[str]] = defaultdict(set)
        people: dict[int, _Person] = {}
        for kind in BLOCK_KINDS:
            groups, skipped = _block_groups(kind, dealer_id=dealer_id, brand_id=brand_id)
            report.shared_keys_skipped += skipped
            found = 0
            for group in groups:
                if only is not None and not any(p.id in only for p in group):
                    continue
                for i, a in enumerate(group):
                    people[a.id] = a
                    for b in group[i + 1 :]:
                        if a.id == b.id or (brand_id is not None and a.dealer_id == b.dealer_id):
                            continue
                        if only is not None and a.id not in only and b.id not in only:
                            continue
                        pair_blocks[(a.id, b.id) if a.id < b.id else (b.id, a.id)].add(kind)
                        found += 1
            report.blocks[kind] = found
            advance()

        # Scoring, for the candidate pairs only.
        scored: dict[tuple[int, int], tuple[float, dict[str, Any]]] = {}
        for pair, blocks in pair_blocks.items():
            score, reasons = score_pair(people[pair[0]], people[pair[1]], blocks)
            if reasons.pop("noise"):
                continue
            if score >= MIN_SCORE or reasons["household"]:
                scored[pair] = (score, reasons)
        advance()

        _write_pairs(scored, people, report, dealer_id=dealer_id, prune=only is None)
        advance()

    if dealer_id is not None:
        _auto_merge(dealer_id, report, customer_ids=only)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _existing_pairs(*, dealer_id: int | None) -> dict[tuple[int, int], tuple[int, str]]:
    """{(a, b): (candidate id, status)} of the scan's kind: one dealer's own pairs, or the
    brand's cross-dealer pairs (the scope holds the brand's dealers)."""
    qs = DuplicateCandidate.objects.all()
    qs = (
        qs.filter(dealer_id=dealer_id, cross_dealer=False)
        if dealer_id
        else qs.filter(cross_dealer=True)
    )
    return {
        (a, b): (pk, status)
        for pk, a, b, status in qs.values_list("id", "customer_a_id", "customer_b_id", "status")
    }


def _write_pairs(
    scored: dict[tuple[int, int], tuple[float, dict[str, Any]]],
    people: dict[int, _Person],
    report: ScanReport,
    *,
    dealer_id: int | None,
    prune: bool,
) -> None:
    """Upsert the scored pairs: new ones created (household or open), open ones re-scored,
    decided ones left alone; on a full scan, open pairs no longer found are removed."""
    now = timezone.now()
    existing = _existing_pairs(dealer_id=dealer_id)
    rows: list[DuplicateCandidate] = []
    for (a, b), (score, reasons) in scored.items():
        before = existing.get((a, b))
        if before is not None and before[1] != DuplicateStatus.OPEN:
            report.kept_decided += 1
            continue
        household = reasons["household"]
        if before is None:
            report.created += 1
        else:
            report.updated += 1
        if household:
            report.households += 1
        report.pairs += 1
        rows.append(
            DuplicateCandidate(
                dealer_id=people[a].dealer_id,
                customer_a_id=a,
                customer_b_id=b,
                other_dealer_id=people[b].dealer_id,
                cross_dealer=people[a].dealer_id != people[b].dealer_id,
                score=score,
                reasons=reasons,
                status=DuplicateStatus.HOUSEHOLD if household else DuplicateStatus.OPEN,
                found_at=now,
            )
        )
    with transaction.atomic():
        for start in range(0, len(rows), BATCH):
            # The status is not among the fields updated: a pair decided meanwhile stays decided.
            DuplicateCandidate.objects.bulk_create(
                rows[start : start + BATCH],
                update_conflicts=True,
                unique_fields=["dealer", "customer_a", "customer_b"],
                update_fields=["score", "reasons", "found_at"],
            )
        if prune:
            stale = [
                pk
                for pair, (pk, status) in existing.items()
                if status == DuplicateStatus.OPEN and pair not in scored
            ]
            for start in range(0, len(stale), BATCH):
                report.removed += DuplicateCandidate.objects.filter(
                    pk__in=stale[start : start + BATCH], status=DuplicateStatus.OPEN
                ).delete()[0]


def _auto_merge(dealer_id: int, report: ScanReport, *, customer_ids: set[int] | None) -> None:
    """Merge the dealer's open pairs above its threshold, the most confident first; the older
    record (lower id: more history) survives."""
    with dealer_scope(dealer_id):
        threshold = (
            DedupSettings.objects.filter(dealer_id=dealer_id)
            .values_list("auto_merge_above", flat=True)
            .first()
        )
        if threshold is None:
            return
        try:
            from .merges import customer_merge
        except ImportError:  # the merge service is not installed: leave the pairs to review
            return
        candidates = DuplicateCandidate.objects.filter(
            dealer_id=dealer_id,
            cross_dealer=False,
            status=DuplicateStatus.OPEN,
            score__gt=threshold,
        ).order_by("-score", "id")
        if customer_ids is not None:
            # after an import: only pairs touching the imported customers
            from django.db.models import Q

            ids = list(customer_ids)
            candidates = candidates.filter(Q(customer_a_id__in=ids) | Q(customer_b_id__in=ids))
        gone: set[int] = set()
        for candidate in candidates.iterator():
            if candidate.customer_a_id in gone or candidate.customer_b_id in gone:
                continue  # one side was merged away by an earlier pair of this run
            customers = Customer.objects.in_bulk([candidate.customer_a_id, candidate.customer_b_id])
            survivor = customers.get(candidate.customer_a_id)
            merged = customers.get(candidate.customer_b_id)
            if survivor is None or merged is None or survivor.is_deleted or merged.is_deleted:
                continue
            try:
                customer_merge(
                    actor=None,
                    survivor=survivor,
                    merged=merged,
                    automatic=True,
                    candidate=candidate,
                    score=candidate.score,
                )
            except (ValidationError, NotImplementedError):
                report.auto_merge_failed += 1
                continue
            gone.add(merged.pk)
            report.auto_merged += 1


# --- decisions and the policy ------------------------------------------------------------------

DECISIONS = (
    DuplicateStatus.OPEN,
    DuplicateStatus.NOT_DUPLICATE,
    DuplicateStatus.HOUSEHOLD,
    DuplicateStatus.LINKED,
)


def duplicate_decide(
    *, actor: User, candidate: DuplicateCandidate, status: str
) -> DuplicateCandidate:
    """Record the reviewer's decision on a pair (or reopen it with OPEN).

    Within a dealer: not the same customer, or a household (merging is customer_merge's job).
    Across dealers: only the OEM's roles decide, and "linked" (the same person at two dealers)
    is their answer; two dealers' customers are never merged.
    """
    if status not in DECISIONS:
        raise ValidationError({"status": _("Choose one of the offered decisions.")})
    if candidate.status == DuplicateStatus.MERGED:
        raise ValidationError(
            {"status": _("These customers were merged; undo the merge to decide again.")}
        )
    if candidate.cross_dealer:
        if not actor.is_network_user:
            raise PermissionDenied(_("Only the brand's staff decide on pairs across dealers."))
    elif status == DuplicateStatus.LINKED:
        raise ValidationError(
            {"status": _("Linking is for the same person at two dealers; merge these instead.")}
        )
    with transaction.atomic():
        before = candidate.status
        candidate.status = status
        if status == DuplicateStatus.OPEN:
            candidate.decided_at = None
            candidate.decided_by = None
        else:
            candidate.decided_at = timezone.now()
            candidate.decided_by = actor
        candidate.save(update_fields=["status", "decided_at", "decided_by"])
        audit_record(
            actor=actor,
            action="duplicate_decide",
            target=candidate,
            target_repr=f"#{candidate.customer_a_id} / #{candidate.customer_b_id}",
            changes={"status": [before, status]},
        )
    return candidate


def dedup_settings_save(
    *, actor: User | None, dealer_id: int, auto_merge_above: float | None
) -> DedupSettings:
    """Set the dealer's auto-merge threshold (0.5–1.0), or None to never merge automatically."""
    if auto_merge_above is not None and not AUTO_MERGE_MIN <= auto_merge_above <= 1.0:
        raise ValidationError(
            {
                "auto_merge_above": _(
                    "Merge automatically only above a confidence between 0.5 and 1.0, or leave it "
                    "empty to review every pair."
                )
            }
        )
    with transaction.atomic():
        settings, _created = DedupSettings.objects.select_for_update().get_or_create(
            dealer_id=dealer_id
        )
        before = settings.auto_merge_above
        settings.auto_merge_above = auto_merge_above
        settings.updated_at = timezone.now()
        settings.updated_by = actor if actor is not None and actor.is_authenticated else None
        settings.save(update_fields=["auto_merge_above", "updated_at", "updated_by"])
        audit_record(
            actor=actor,
            action="dedup_settings",
            target=settings,
            target_repr=_("Duplicate settings"),
            changes={"auto_merge_above": [before, auto_merge_above]},
        )
    return settings


def dealer_threshold(dealer_id: int) -> float | None:
    return (
        DedupSettings.objects.filter(dealer_id=dealer_id)
        .values_list("auto_merge_above", flat=True)
        .first()
    )
