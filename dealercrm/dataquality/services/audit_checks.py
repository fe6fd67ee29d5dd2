"""The audit's checks: each a named rule with one SQL predicate, so the same definition counts
(one GROUP BY dealer_id pass per table, with conditional sums) and lists the failing records
(the drill-down page filters the model's queryset by the predicate).

A check is over one table ("customer", "phone", "vehicle", "order"): `applies` says which records
it looks at (empty: every record of the period), `fails` which of those fail. Predicates name
the table being checked as `{t}` (formatted with the quoted table name), so they fit both the
aggregate query and Django's own query of the model. Rows are limited to the period: customers
and vehicles that existed at its end (the state of their fields is the current one; there is no
history of fields), orders delivered within it, readings and ownerships begun before its end.

A check whose answer depends on more than the record's own date (a mileage reading lower than an
earlier one: only once both readings are before the period's end) gives `since`: a subquery with,
per record, the first day from which it is checked and the first from which it fails. Its
`applies` and `fails` are derived from that, and several months are counted in one pass
(services.audit.count_checks) by placing each record and each such day in a month.

SQL is portable between SQLite and PostgreSQL except pattern matching (GLOB / POSIX regular
expressions), string search (instr / strpos) and date arithmetic, which `Dialect` gives per engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from dealercrm.customers.models import Customer, CustomerPhone
from dealercrm.sales.models import Order
from dealercrm.vehicles.models import MileageReading, Vehicle, VehicleOwnership
from dealercrm.vehicles.validators import PROVINCES, SPECIAL_SUFFIXES, VIN_TRANSLITERATION

from ..models import DuplicateCandidate
from ..models.audit import DEFAULT_WEIGHTS

DIMENSIONS: tuple[str, ...] = tuple(DEFAULT_WEIGHTS)
DIMENSION_LABELS: dict[str, Promise] = {
    "completeness": _("Completeness"),
    "validity": _("Validity"),
    "uniqueness": _("Uniqueness"),
    "timeliness": _("Timeliness"),
    "consistency": _("Consistency"),
}

TABLE_MODELS = {
    "customer": Customer,
    "phone": CustomerPhone,
    "vehicle": Vehicle,
    "order": Order,
}


def _table(model) -> str:  # noqa: ANN001
    return connection.ops.quote_name(model._meta.db_table)


def _dealers_sql() -> str:
    """The dealers audited: the brand's active ones, or one of them (%(dealer)s, 0 for all)."""
    from dealercrm.core.models import Dealer

    return (
        f"SELECT dd.id FROM {_table(Dealer)} dd WHERE dd.brand_id = %(brand)s"
        " AND dd.is_active = %(true)s AND (%(dealer)s = 0 OR dd.id = %(dealer)s)"
    )


def _sql(text: str, table: str) -> str:
    return text.format(t=_table(TABLE_MODELS[table]), dealers=_dealers_sql())


@dataclass(frozen=True)
class Dialect:
    """The few SQL pieces that differ between SQLite and PostgreSQL."""

    vendor: str

    @classmethod
    def current(cls) -> Dialect:
        return cls(connection.vendor)

    @property
    def is_postgres(self) -> bool:
        return self.vendor == "postgresql"

    def matches(self, column: str, classes: list[str]) -> str:
        """The column is exactly these character classes, one character each ("[0-9]")."""
        if self.is_postgres:
            return f"{column} ~ '^{''.join(classes)}$'"
        return f"{column} GLOB '{''.join(classes)}'"

    def position(self, haystack: str, needle: str) -> str:
        """1-based position of `needle` in the literal `haystack`, 0 when absent."""
        function = "strpos" if self.is_postgres else "instr"
        return f"{function}('{haystack}', {needle})"

    def on_or_after_days(self, timestamp: str, day: str, days: int) -> str:
        """The timestamp falls on or after the day `days` days after `day`."""
        if self.is_postgres:
            return f"{timestamp} >= ({day} + {int(days)})"
        # Django stores datetimes as "YYYY-MM-DD HH:MM:SS" text on SQLite (UTC): compared as text.
        return f"{timestamp} >= date({day}, '+{int(days)} days')"


@dataclass(frozen=True)
class Check:
    """One rule of the audit."""

    code: str
    dimension: str
    table: str
    label: Promise
    fails: str
    applies: str = ""
    # SELECT … AS record_id, … AS applies_on, … AS fails_on (dates; see the module's docstring).
    since: str = ""

    @classmethod
    def from_since(cls, *, code: str, dimension: str, table: str, label: Promise, since: str):  # noqa: ANN206
        """A check that holds from a day on: checked once `applies_on`, failing once `fails_on`
        is before the period's end."""
        first = f"{{t}}.id IN (SELECT s.record_id FROM ({since}) s WHERE s.{{column}} < %(end)s)"
        return cls(
            code=code,
            dimension=dimension,
            table=table,
            label=label,
            applies=first.replace("{column}", "applies_on"),
            fails=first.replace("{column}", "fails_on"),
            since=since,
        )

    def model(self):  # noqa: ANN201
        return TABLE_MODELS[self.table]

    def applies_sql(self) -> str:
        return _sql(self.applies, self.table) if self.applies else "1 = 1"

    def fails_sql(self) -> str:
        return _sql(self.fails, self.table)

    def failing_sql(self) -> str:
        """A 0/1 expression: the record is checked and fails."""
        return f"CASE WHEN ({self.applies_sql()}) AND ({self.fails_sql()}) THEN 1 ELSE 0 END"

    def since_sql(self) -> str:
        return _sql(self.since, self.table)


# --- completeness: the fields the brand requires ------------------------------------------------

# Field: (label, "present" predicate, applies). Gender, birthday and ID number are a person's.
_PERSON = "{t}.kind = 'person'"
_PHONES = _table(CustomerPhone)


def _text(column: str) -> str:
    return f"TRIM({{t}}.{column}) <> ''"


REQUIRED_FIELD_CHOICES: dict[str, tuple[Promise, str, str]] = {
    "name": (_("Name"), _text("name"), ""),
    "phone": (
        _("Phone"),
        f"{{t}}.id IN (SELECT p.customer_id FROM {_PHONES} p WHERE p.dealer_id IN ({{dealers}}))",
        "",
    ),
    "gender": (_("Gender"), "{t}.gender IN ('male', 'female')", _PERSON),
    "birthday": (_("Birthday"), "{t}.birthday IS NOT NULL", _PERSON),
    "id_number": (_("ID number"), _text("id_number_masked"), _PERSON),
    "email": (_("E-mail"), _text("email"), ""),
    "wechat_id": (_("WeChat ID"), _text("wechat_id"), ""),
    "province": (_("Province"), _text("province"), ""),
    "city": (_("City"), _text("city"), ""),
    "district": (_("District"), _text("district"), ""),
    "street": (_("Street address"), _text("street"), ""),
    "occupation": (_("Occupation"), _text("occupation"), ""),
    "source_channel": (_("Source channel"), _text("source_channel"), ""),
}


def completeness_checks(required_fields: list[str]) -> list[Check]:
    checks = []
    for field in required_fields:
        if field not in REQUIRED_FIELD_CHOICES:
            continue
        label, present, applies = REQUIRED_FIELD_CHOICES[field]
        checks.append(
            Check(
                code=f"missing_{field}",
                dimension="completeness",
                table="customer",
                label=label,
                fails=f"NOT ({present})",
                applies=applies,
            )
        )
    return checks


# --- validity -----------------------------------------------------------------------------------

_DIGIT = "[0-9]"
_VIN_CHAR = "[0-9A-HJ-NPR-Z]"
_PLATE_PROVINCE = f"[{PROVINCES}]"
_PLATE_CITY = "[A-HJ-NP-Z]"
_PLATE_SERIAL = "[A-HJ-NP-Z0-9]"
# The VIN alphabet and, at the same positions, each character's transliterated value.
_VIN_ALPHABET = "".join(sorted(VIN_TRANSLITERATION))
_VIN_VALUES = "".join(str(VIN_TRANSLITERATION[ch]) for ch in _VIN_ALPHABET)
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def _vin_check_digit_sql(d: Dialect) -> str:
    """The ISO 3779 check digit of {t}.vin computed in SQL ('0'–'9' or 'X')."""
    terms = []
    for index, weight in enumerate(_VIN_WEIGHTS, start=1):
        if not weight:
            continue
        char = f"substr({{t}}.vin, {index}, 1)"
        # '0' || … so a character outside the alphabet (position 0: empty) counts 0, not an error.
        value = (
            f"CAST('0' || substr('{_VIN_VALUES}', {d.position(_VIN_ALPHABET, char)}, 1) AS INTEGER)"
        )
        terms.append(f"{weight} * {value}")
    return f"substr('0123456789X', (({' + '.join(terms)}) %% 11) + 1, 1)"


def _plate_valid_sql(d: Dialect) -> str:
    """The plate's shape as validators.parse_plate accepts it (GA 36)."""
    ordinary = [_PLATE_PROVINCE, _PLATE_CITY] + [_PLATE_SERIAL] * 4
    ordinary.append(f"[A-HJ-NP-Z0-9{SPECIAL_SUFFIXES}]")
    small_nev = [_PLATE_PROVINCE, _PLATE_CITY, "[DABCEFGHJK]", _PLATE_SERIAL] + [_DIGIT] * 4
    large_nev = [_PLATE_PROVINCE, _PLATE_CITY] + [_DIGIT] * 5 + ["[DF]"]
    shapes = [d.matches("{t}.plate", shape) for shape in (ordinary, small_nev, large_nev)]
    return "(" + " OR ".join(shapes) + ")"


def validity_checks(d: Dialect) -> list[Check]:
    mobile = d.matches("{t}.number", ["[+]", "8", "6", "1", "[3-9]"] + [_DIGIT] * 9)
    if d.is_postgres:
        e164 = "{t}.number ~ '^[+][1-9][0-9]{{6,14}}$'"
    else:
        e164 = (
            "({t}.number GLOB '+[1-9]*' AND {t}.number NOT GLOB '+*[^0-9]*'"
            " AND length({t}.number) BETWEEN 8 AND 16)"
        )
    vin_shape = d.matches("{t}.vin", [_VIN_CHAR] * 17)
    return [
        Check(
            code="invalid_phone",
            dimension="validity",
            table="phone",
            label=_("Phone not in international format (or not a mobile number)"),
            # A mobile must have a Chinese mobile's shape; other labels any E.164 number.
            fails=f"NOT (CASE WHEN {{t}}.label = 'mobile' AND {{t}}.number LIKE '+86%%'"
            f" THEN {mobile} ELSE {e164} END)",
        ),
        Check(
            code="id_number_unverifiable",
            dimension="validity",
            table="customer",
            label=_("ID number shown but not stored for checking (no hash)"),
            applies="{t}.id_number_masked <> ''",
            fails="{t}.id_number_hash = ''",
        ),
        Check(
            code="invalid_vin",
            dimension="validity",
            table="vehicle",
            label=_("VIN malformed or its check digit wrong"),
            fails=f"NOT ({vin_shape}) OR substr({{t}}.vin, 9, 1) <> {_vin_check_digit_sql(d)}",
        ),
        Check(
            code="invalid_plate",
            dimension="validity",
            table="vehicle",
            label=_("Licence plate malformed"),
            applies="{t}.plate <> ''",
            fails=f"NOT {_plate_valid_sql(d)}",
        ),
    ]


# --- uniqueness ---------------------------------------------------------------------------------

_DUPES = _table(DuplicateCandidate)
_CUSTOMERS = _table(Customer)


def uniqueness_checks() -> list[Check]:
    # Uncorrelated IN (subquery) rather than EXISTS per row: both engines evaluate the subquery
    # once and probe a hash (PostgreSQL) or an ephemeral index (SQLite) for each record.
    open_pairs = (
        f"FROM {_DUPES} d WHERE d.dealer_id IN ({{dealers}}) AND d.status = 'open'"
        " AND d.other_dealer_id = d.dealer_id"
    )
    open_pair = (
        f"{{t}}.id IN (SELECT d.customer_a_id {open_pairs}"
        f" UNION ALL SELECT d.customer_b_id {open_pairs})"
    )
    # Numbers that two living customers of a dealer share, then those customers.
    shared_numbers = (
        f"SELECT p.dealer_id, p.number FROM {_PHONES} p JOIN {_CUSTOMERS} c2"
        " ON c2.id = p.customer_id AND c2.is_deleted = %(false)s"
        " WHERE p.dealer_id IN ({dealers})"
        " GROUP BY p.dealer_id, p.number HAVING COUNT(DISTINCT p.customer_id) > 1"
    )
    shared_phone = (
        f"{{t}}.id IN (SELECT p1.customer_id FROM {_PHONES} p1 JOIN ({shared_numbers}) s"
        " ON s.dealer_id = p1.dealer_id AND s.number = p1.number)"
    )
    return [
        Check(
            code="open_duplicate",
            dimension="uniqueness",
            table="customer",
            label=_("In a possible-duplicate pair not yet reviewed"),
            fails=open_pair,
        ),
        Check(
            code="shared_phone",
            dimension="uniqueness",
            table="customer",
            label=_("Shares a phone number with another customer"),
            fails=shared_phone,
        ),
    ]


# --- timeliness and consistency -----------------------------------------------------------------

_READINGS = _table(MileageReading)
_OWNERSHIPS = _table(VehicleOwnership)


def timeliness_checks(d: Dialect, days: int) -> list[Check]:
    return [
        Check(
            code="late_sale",
            dimension="timeliness",
            table="order",
            label=_("Sale entered more than the allowed days after delivery"),
            fails=d.on_or_after_days("{t}.created_at", "{t}.delivered_on", days + 1),
        )
    ]


def consistency_checks() -> list[Check]:
    # Window functions over each table once (per vehicle in date order), not a self-join per
    # vehicle: a reading lower than the highest of the readings of EARLIER days (GROUPS frame:
    # same-day readings are not before one another); an ownership starting before an earlier
    # one (by start) ended. Ownerships are [started_on, ended_on): a handover day is not two.
    # Each frame looks back only, so a row's verdict is the same whatever comes after it: a
    # vehicle fails in every period ending after its first failing row (the `since` days).
    readings = (
        "SELECT m.vehicle_id AS record_id, MIN(m.read_on) AS applies_on,"
        " MIN(CASE WHEN m.km < m.earlier_max THEN m.read_on END) AS fails_on"
        " FROM (SELECT r.vehicle_id, r.read_on, r.km, MAX(r.km) OVER ("
        "PARTITION BY r.vehicle_id ORDER BY r.read_on"
        " GROUPS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_max"
        f" FROM {_READINGS} r WHERE r.dealer_id IN ({{dealers}})) m GROUP BY m.vehicle_id"
    )
    ownerships = (
        "SELECT w.vehicle_id AS record_id, MIN(w.started_on) AS applies_on,"
        " MIN(CASE WHEN w.earlier_end > w.started_on THEN w.started_on END) AS fails_on"
        " FROM (SELECT o.vehicle_id, o.started_on,"
        " MAX(COALESCE(o.ended_on, %(forever)s)) OVER (PARTITION BY o.vehicle_id"
        " ORDER BY o.started_on, o.id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
        f" AS earlier_end FROM {_OWNERSHIPS} o WHERE o.dealer_id IN ({{dealers}})) w"
        " GROUP BY w.vehicle_id"
    )
    return [
        Check.from_since(
            code="mileage_decreasing",
            dimension="consistency",
            table="vehicle",
            label=_("Mileage reading lower than an earlier one"),
            since=readings,
        ),
        Check.from_since(
            code="overlapping_owners",
            dimension="consistency",
            table="vehicle",
            label=_("Two owners at the same time"),
            since=ownerships,
        ),
        Check(
            code="delivery_before_order",
            dimension="consistency",
            table="order",
            label=_("Delivered before it was ordered"),
            fails="{t}.delivered_on < {t}.ordered_on",
        ),
    ]


def all_checks(*, required_fields: list[str], timeliness_days: int) -> list[Check]:
    """Every check of a policy, in the order the pages show them."""
    d = Dialect.current()
    return [
        *completeness_checks(required_fields),
        *validity_checks(d),
        *uniqueness_checks(),
        *timeliness_checks(d, timeliness_days),
        *consistency_checks(),
    ]


# --- the records a check looks at in a period ---------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """How a table's records fall into periods.

    date: the column that places a record ({t}'s, or `c.` for its customer's); a timestamp when
    `cumulative` (the record counts in every period ending after it: it exists from then on),
    else a date (the record counts in the month it falls in only). where: the records counted
    at all. by_customer: the date is the customer's (a phone exists as long as its customer).
    """

    date: str
    cumulative: bool
    where: str = ""
    by_customer: bool = False

    def period_filter(self) -> str:
        """The records of one period (%(start)s, %(end)s, %(end_at)s)."""
        if self.cumulative:
            in_period = f"{self.date} < %(end_at)s"
        else:
            in_period = f"{self.date} >= %(start)s AND {self.date} < %(end)s"
        if self.by_customer:
            in_period = (
                f"EXISTS (SELECT 1 FROM {_CUSTOMERS} c WHERE c.id = {{t}}.customer_id"
                f" AND c.is_deleted = %(false)s AND {in_period})"
            )
        return f"{self.where} AND {in_period}" if self.where else in_period


PLACEMENTS = {
    "customer": Placement("{t}.created_at", cumulative=True, where="{t}.is_deleted = %(false)s"),
    "phone": Placement("c.created_at", cumulative=True, by_customer=True),
    "vehicle": Placement("{t}.created_at", cumulative=True),
    "order": Placement("{t}.delivered_on", cumulative=False, where="{t}.stage <> 'cancelled'"),
}


def period_filter_sql(table: str) -> str:
    return _sql(PLACEMENTS[table].period_filter(), table)
