"""OEM dispatch: the brand hands a prospect who chose a dealer and a test-drive date to that dealer.

CONTRACT:
- `dispatch_create(*, actor, dealer_id, prospect_name, phone, test_drive_date, car_model_id=None,
   wechat_id="", preferred_time="", pickup_requested=False, pickup_address="", note="",
   campaign="", external_ref="", today=None) -> OemDispatch`
- `dispatch_import(*, actor, rows=None, file=None, filename="", today=None)
   -> DispatchImportResult`  every row ends created, skipped (its OEM reference was imported
  before) or in the errors with row number, field and reason; nothing is dropped silently.
- `dispatch_release(*, dispatch_id, now=None) -> Lead | None`  creates the lead (channel
  oem_dispatch), assigns it, notifies manager + consultant, creates the three tasks.
  Idempotent (a released dispatch is left alone).
- `dispatch_release_due(*, today=None) -> int`  every dealer's dispatches whose release_on has come.

The dispatch is held by the OEM until `release_on` (the dealer's `dispatch_release_days` before
the test drive, never before the day it is created): dealer staff see the lead only from then on.
"""

from __future__ import annotations

import datetime
import logging
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import Dealer, User
from dealercrm.core.permissions import Role
from dealercrm.core.scoping import visible_dealers
from dealercrm.core.spreadsheets import read_cells
from dealercrm.customers.models import CustomerPhone
from dealercrm.customers.validators import normalise_phone
from dealercrm.vehicles.models import CarModel

from ..models import Lead, LeadChannel, OemDispatch, SalesPolicy
from ..selectors.policy import sales_policy_for

logger = logging.getLogger(__name__)

SOURCE_KIND = "sales.dispatch"
# The three tasks of a released dispatch, by the suffix of their source id.
TASK_CONTACT, TASK_REMIND, TASK_DRIVE = "contact", "remind", "drive"
IMPORT_MAX_ROWS = 5000

TEXT_LIMITS = {
    "prospect_name": 100,
    "wechat_id": 64,
    "preferred_time": 40,
    "pickup_address": 200,
    "campaign": 100,
    "external_ref": 64,
}


# --- create -------------------------------------------------------------------------------------


def _local_today(today: datetime.date | None) -> datetime.date:
    return today or timezone.localdate()


def release_day(
    *, test_drive_date: datetime.date, release_days: int, today: datetime.date
) -> datetime.date:
    """The day the lead goes to the dealer: `release_days` before the test drive, not before today."""
    return max(today, test_drive_date - datetime.timedelta(days=release_days))


def _dealer_of_actor(actor: User, dealer_id: Any) -> Dealer:
    """The dealer, if the actor's network reaches it (an OEM's brand; everything for the
    system administrator); otherwise a field error, alike for missing and not theirs."""
    try:
        return visible_dealers(actor).get(pk=int(dealer_id))
    except (Dealer.DoesNotExist, TypeError, ValueError) as exc:
        raise ValidationError({"dealer_id": _("Choose a dealer of your brand's network.")}) from exc


@dataclass
class _Cleaned:
    values: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def _clean(
    *,
    dealer: Dealer | None,
    prospect_name: str,
    phone: str,
    test_drive_date: Any,
    car_model_id: Any,
    wechat_id: str,
    preferred_time: str,
    pickup_requested: bool,
    pickup_address: str,
    note: str,
    campaign: str,
    external_ref: str,
    today: datetime.date,
) -> _Cleaned:
    """The dispatch's values checked and normalised, with every problem keyed by its field."""
    texts = {
        "prospect_name": (prospect_name or "").strip(),
        "wechat_id": (wechat_id or "").strip(),
        "preferred_time": (preferred_time or "").strip(),
        "pickup_address": (pickup_address or "").strip(),
        "campaign": (campaign or "").strip(),
        "external_ref": (external_ref or "").strip(),
    }
    cleaned = _Cleaned(values={**texts, "note": (note or "").strip()})
    for name, limit in TEXT_LIMITS.items():
        if len(texts[name]) > limit:
            cleaned.add(name, _("At most %(limit)d characters, please.") % {"limit": limit})
    if not texts["prospect_name"]:
        cleaned.add("prospect_name", _("Enter the prospect's name."))
    try:
        cleaned.values["phone"] = normalise_phone(phone or "")
    except ValidationError as exc:
        cleaned.errors.setdefault("phone", []).extend(exc.messages)
    else:
        if not cleaned.values["phone"].startswith("+861"):
            cleaned.add("phone", _("Enter the prospect's mobile number, not a landline."))
    day = test_drive_date
    if isinstance(day, str):
        try:
            day = datetime.date.fromisoformat(day.strip())
        except ValueError:
            day = None
            cleaned.add("test_drive_date", _("Enter the test-drive date as YYYY-MM-DD."))
    elif isinstance(day, datetime.datetime):
        day = day.date()
    if day is None:
        if "test_drive_date" not in cleaned.errors:
            cleaned.add("test_drive_date", _("Enter the test-drive date the prospect chose."))
    elif day < today:
        cleaned.add(
            "test_drive_date",
            _("The test-drive date %(date)s has passed; choose today or a later day.")
            % {"date": day.isoformat()},
        )
    cleaned.values["test_drive_date"] = day
    pickup = bool(pickup_requested)
    cleaned.values["pickup_requested"] = pickup
    if pickup and not texts["pickup_address"]:
        cleaned.add("pickup_address", _("Enter where to pick the prospect up."))
    model_id = None
    if car_model_id not in (None, ""):
        try:
            model = CarModel.objects.only("id", "brand_id").get(pk=int(car_model_id))
        except (CarModel.DoesNotExist, TypeError, ValueError):
            cleaned.add("car_model_id", _("There is no such model in the catalogue."))
        else:
            if dealer is not None and model.brand_id not in (None, dealer.brand_id):
                cleaned.add("car_model_id", _("Choose a model of the dealer's brand."))
            model_id = model.pk
    cleaned.values["car_model_id"] = model_id
    return cleaned


def _ref_taken(dealer_id: int, external_ref: str) -> bool:
    return bool(external_ref) and (
        OemDispatch.objects.filter(dealer_id=dealer_id, external_ref=external_ref).exists()
    )


@transaction.atomic
def dispatch_create(
    *,
    actor: User,
    dealer_id: int,
    prospect_name: str,
    phone: str,
    test_drive_date: datetime.date | str,
    car_model_id: int | None = None,
    wechat_id: str = "",
    preferred_time: str = "",
    pickup_requested: bool = False,
    pickup_address: str = "",
    note: str = "",
    campaign: str = "",
    external_ref: str = "",
    today: datetime.date | None = None,
) -> OemDispatch:
    """Record a prospect the OEM dispatches to `dealer_id` for a test drive on the chosen date.

    Refuses a dealer outside the actor's network, a past date, a phone that is not a mobile,
    a pick-up without an address and an OEM reference already used at that dealer. When the
    release day is today (the test drive is within the dealer's release days) the lead is
    released at once.
    """
    today = _local_today(today)
    dealer: Dealer | None = None
    errors: dict[str, list[str]] = {}
    try:
        dealer = _dealer_of_actor(actor, dealer_id)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    cleaned = _clean(
        dealer=dealer,
        prospect_name=prospect_name,
        phone=phone,
        test_drive_date=test_drive_date,
        car_model_id=car_model_id,
        wechat_id=wechat_id,
        preferred_time=preferred_time,
        pickup_requested=pickup_requested,
        pickup_address=pickup_address,
        note=note,
        campaign=campaign,
        external_ref=external_ref,
        today=today,
    )
    errors.update(cleaned.errors)
    values = cleaned.values
    if dealer is not None and _ref_taken(dealer.pk, values["external_ref"]):
        errors.setdefault("external_ref", []).append(
            _("OEM reference %(ref)s was already dispatched to this dealer.")
            % {"ref": values["external_ref"]}
        )
    if errors:
        raise ValidationError(errors)
    assert dealer is not None
    policy = sales_policy_for(dealer.pk)
    dispatch = _insert(actor=actor, dealer=dealer, policy=policy, values=values, today=today)
    if dispatch.release_on <= today:
        _release_now(dispatch.pk)
    return dispatch


def _insert(
    *,
    actor: User | None,
    dealer: Dealer,
    policy: SalesPolicy,
    values: Mapping[str, Any],
    today: datetime.date,
) -> OemDispatch:
    dispatch = OemDispatch(
        dealer=dealer,
        release_on=release_day(
            test_drive_date=values["test_drive_date"],
            release_days=policy.dispatch_release_days,
            today=today,
        ),
        created_by=actor,
        **values,
    )
    try:
        with transaction.atomic():
            dispatch.save()
    except IntegrityError as exc:  # the same reference saved meanwhile by another request
        raise ValidationError(
            {
                "external_ref": _("OEM reference %(ref)s was already dispatched to this dealer.")
                % {"ref": values["external_ref"]}
            }
        ) from exc
    return dispatch


def _release_now(dispatch_id: int) -> None:
    """Release in the creating transaction, in a savepoint: should the lead be refused (a
    problem of the dealer's, not of the dispatch), the dispatch stays and the hourly job tries
    again."""
    try:
        with transaction.atomic():
            dispatch_release(dispatch_id=dispatch_id)
    except ValidationError:
        logger.warning("dispatch %s: release refused, left for the hourly job", dispatch_id)


# --- import -------------------------------------------------------------------------------------

# Column headers, Chinese or English, to the service's field names.
HEADERS: dict[str, str] = {
    "姓名": "prospect_name",
    "客户姓名": "prospect_name",
    "name": "prospect_name",
    "prospect": "prospect_name",
    "prospect name": "prospect_name",
    "手机": "phone",
    "手机号": "phone",
    "手机号码": "phone",
    "电话": "phone",
    "mobile": "phone",
    "phone": "phone",
    "微信": "wechat_id",
    "微信号": "wechat_id",
    "wechat": "wechat_id",
    "wechat id": "wechat_id",
    "经销商代码": "dealer_code",
    "经销商": "dealer_code",
    "网点代码": "dealer_code",
    "dealer code": "dealer_code",
    "dealer": "dealer_code",
    "试驾日期": "test_drive_date",
    "test-drive date": "test_drive_date",
    "test drive date": "test_drive_date",
    "date": "test_drive_date",
    "试驾时间": "preferred_time",
    "时间": "preferred_time",
    "preferred time": "preferred_time",
    "time": "preferred_time",
    "车型": "model",
    "意向车型": "model",
    "model": "model",
    "上门接送": "pickup_requested",
    "接送": "pickup_requested",
    "pick-up": "pickup_requested",
    "pickup": "pickup_requested",
    "接送地址": "pickup_address",
    "pick-up address": "pickup_address",
    "pickup address": "pickup_address",
    "备注": "note",
    "note": "note",
    "活动": "campaign",
    "campaign": "campaign",
    "厂家编号": "external_ref",
    "编号": "external_ref",
    "oem reference": "external_ref",
    "reference": "external_ref",
    "ref": "external_ref",
}
REQUIRED_COLUMNS = ("prospect_name", "phone", "dealer_code", "test_drive_date")
TRUE_WORDS = frozenset({"1", "y", "yes", "true", "是", "需要", "要", "√", "x"})


@dataclass(frozen=True)
class ImportProblem:
    """A row that was not created: its number in the file (the header is row 1), the field and why."""

    row: int
    field: str
    message: str


@dataclass(frozen=True)
class ImportSkip:
    row: int
    external_ref: str


@dataclass
class DispatchImportResult:
    """What became of every row of an import: the three counts add up to `rows`."""

    rows: int = 0
    created: list[OemDispatch] = field(default_factory=list)
    skipped: list[ImportSkip] = field(default_factory=list)
    errors: list[ImportProblem] = field(default_factory=list)

    @property
    def created_count(self) -> int:
        return len(self.created)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    @property
    def error_rows(self) -> int:
        return len({e.row for e in self.errors})


def _header_key(text: Any) -> str:
    key = re.sub(r"\s+", " ", str(text or "")).strip().lower().rstrip("*").strip()
    return HEADERS.get(key, "")


def read_table(file: IO[bytes], filename: str) -> list[list[Any]]:
    """The cells of a CSV (UTF-8, with or without BOM, or GBK as Excel saves it in China) or an
    XLSX file (its first sheet), row by row."""
    return read_cells(file, filename, undecodable=_("Save the CSV file as UTF-8, please."))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number Excel kept as a number
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M")
    return str(value).strip()


def _parse_day(value: Any) -> datetime.date | str:
    """A date cell: a real date, 2026-11-25, 2026/11/25, 2026.11.25 or 2026年11月25日."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = _cell_text(value)
    match = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", text)
    if match:
        try:
            return datetime.date(*(int(g) for g in match.groups()))
        except ValueError:
            return text
    return text


def _rows_as_dicts(
    table: Sequence[Sequence[Any]],
) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """(row number, {field: cell}) of the non-empty data rows, and the required columns missing."""
    header_index = next((i for i, row in enumerate(table) if any(_cell_text(c) for c in row)), None)
    if header_index is None:
        return [], list(REQUIRED_COLUMNS)
    columns = [_header_key(c) for c in table[header_index]]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    rows = []
    for offset, row in enumerate(table[header_index + 1 :], start=header_index + 2):
        if not any(_cell_text(c) for c in row):
            continue
        values: dict[str, Any] = {}
        for column, cell in zip(columns, row, strict=False):
            if column and column not in values:
                values[column] = cell
        rows.append((offset, values))
    return rows, missing


def _model_lookup(brand_ids: Iterable[int]) -> dict[str, int]:
    """Catalogue names a row may give (name, series, series + name, make + series + name) → id,
    the newest model year winning."""
    found: dict[str, int] = {}
    for m in (
        CarModel.objects.filter(brand_id__in=list(brand_ids))
        .order_by("model_year", "id")
        .values("id", "make", "series", "name", "model_year")
    ):
        for key in (
            m["name"],
            m["series"],
            f"{m['series']} {m['name']}",
            f"{m['series']}{m['name']}",
            f"{m['make']} {m['series']} {m['name']}",
            f"{m['model_year']} {m['series']} {m['name']}",
        ):
            found[key.strip().lower()] = m["id"]
    return found


@transaction.atomic
def dispatch_import(
    *,
    actor: User,
    rows: Sequence[Mapping[str, Any]] | None = None,
    file: IO[bytes] | None = None,
    filename: str = "",
    today: datetime.date | None = None,
) -> DispatchImportResult:
    """Import a list of dispatches: `rows` of {field: value} (the API), or a CSV/XLSX `file`
    with Chinese or English headers (姓名/手机/经销商代码/试驾日期/车型 …).

    Each row is created, skipped (its OEM reference is already at that dealer, or earlier in
    the same file) or reported with its row number, field and reason. Set-based: the dealers,
    the catalogue and the references already used are read once; the new rows are one insert.
    Rows whose release day is today are released at once.
    """
    today = _local_today(today)
    result = DispatchImportResult()
    if file is not None:
        table = read_table(file, filename)
        numbered, missing = _rows_as_dicts(table)
        if missing:
            raise ValidationError(
                {
                    "file": _("The file has no column for: %(columns)s.")
                    % {"columns": ", ".join(missing)}
                }
            )
    elif rows is not None:
        numbered = [(i, dict(r)) for i, r in enumerate(rows, start=1)]
    else:
        raise ValidationError({"file": _("Choose a CSV or XLSX file to import.")})
    if not numbered:
        raise ValidationError({"file": _("The file has no rows to import.")})
    if len(numbered) > IMPORT_MAX_ROWS:
        raise ValidationError(
            {"file": _("At most %(max)d rows at a time, please.") % {"max": IMPORT_MAX_ROWS}}
        )
    result.rows = len(numbered)

    dealers = {d.code.lower(): d for d in visible_dealers(actor)}
    models_by_name = _model_lookup({d.brand_id for d in dealers.values()})
    policies = {
        p.dealer_id: p
        for p in SalesPolicy.objects.filter(dealer_id__in=[d.pk for d in dealers.values()])
    }
    refs_in_file = sorted({_cell_text(r.get("external_ref")) for _n, r in numbered} - {""})
    used_refs = set(
        OemDispatch.objects.filter(
            dealer_id__in=[d.pk for d in dealers.values()], external_ref__in=refs_in_file
        ).values_list("dealer_id", "external_ref")
    )
    new: list[OemDispatch] = []
    for number, raw in numbered:
        problems: list[ImportProblem] = []
        code = _cell_text(raw.get("dealer_code")).lower()
        dealer = dealers.get(code)
        if dealer is None:
            problems.append(
                ImportProblem(
                    number,
                    "dealer_code",
                    _("Dealer code “%(code)s” is not a dealer of your network.")
                    % {"code": _cell_text(raw.get("dealer_code"))},
                )
                if code
                else ImportProblem(number, "dealer_code", _("Enter the dealer code."))
            )
        model_id = raw.get("car_model_id")
        model_text = _cell_text(raw.get("model"))
        if model_id in (None, "") and model_text:
            model_id = models_by_name.get(model_text.lower())
            if model_id is None:
                problems.append(
                    ImportProblem(
                        number,
                        "model",
                        _("Model “%(model)s” is not in the catalogue.") % {"model": model_text},
                    )
                )
        pickup_raw = raw.get("pickup_requested")
        pickup = (
            pickup_raw
            if isinstance(pickup_raw, bool)
            else _cell_text(pickup_raw).lower() in TRUE_WORDS
        )
        cleaned = _clean(
            dealer=dealer,
            prospect_name=_cell_text(raw.get("prospect_name")),
            phone=_cell_text(raw.get("phone")),
            test_drive_date=_parse_day(raw.get("test_drive_date")),
            car_model_id=model_id,
            wechat_id=_cell_text(raw.get("wechat_id")),
            preferred_time=_cell_text(raw.get("preferred_time")),
            pickup_requested=pickup,
            pickup_address=_cell_text(raw.get("pickup_address")),
            note=_cell_text(raw.get("note")),
            campaign=_cell_text(raw.get("campaign")),
            external_ref=_cell_text(raw.get("external_ref")),
            today=today,
        )
        for name, messages in cleaned.errors.items():
            problems.extend(ImportProblem(number, name, m) for m in messages)
        if problems:
            result.errors.extend(problems)
            continue
        assert dealer is not None
        ref = cleaned.values["external_ref"]
        if ref and (dealer.pk, ref) in used_refs:
            result.skipped.append(ImportSkip(number, ref))
            continue
        if ref:
            used_refs.add((dealer.pk, ref))
        policy = policies.get(dealer.pk)
        if policy is None:
            policy = policies[dealer.pk] = sales_policy_for(dealer.pk)
        new.append(
            OemDispatch(
                dealer=dealer,
                release_on=release_day(
                    test_drive_date=cleaned.values["test_drive_date"],
                    release_days=policy.dispatch_release_days,
                    today=today,
                ),
                created_by=actor,
                **cleaned.values,
            )
        )
    if new:
        # One insert; both engines return the new ids (SQLite ≥ 3.35, PostgreSQL).
        result.created = OemDispatch.objects.bulk_create(new)
        for dispatch in result.created:
            if dispatch.release_on <= today:
                _release_now(dispatch.pk)
    return result


# --- release ------------------------------------------------------------------------------------


def _dealer_zone(dealer: Dealer) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(dealer.time_zone or "Asia/Shanghai")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Asia/Shanghai")


def _at(day: datetime.date, time: datetime.time, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    return datetime.datetime.combine(day, time, tzinfo=zone)


_TIME = re.compile(r"(\d{1,2})\s*[:：点]\s*(\d{1,2})?")


def preferred_clock(text: str) -> datetime.time | None:
    """The hour the prospect asked for: "10:30", "14点", "下午3点"; None when there is none."""
    match = _TIME.search(text or "")
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if ("下午" in text or "pm" in text.lower()) and hour < 12:
        hour += 12
    if hour > 23 or minute > 59:
        return None
    return datetime.time(hour, minute)


def _lead_link(lead: Lead) -> str:
    try:
        return reverse("sales:lead", kwargs={"lead_id": lead.pk})
    except NoReverseMatch:
        return ""


def _existing_customer_id(dealer_id: int, phone: str) -> int | None:
    """A customer of the dealer with this phone: the lead is attached to them, not duplicated."""
    return (
        CustomerPhone.objects.filter(dealer_id=dealer_id, number=phone, customer__is_deleted=False)
        .order_by("-is_primary", "customer_id")
        .values_list("customer_id", flat=True)
        .first()
    )


def _create_lead(dispatch: OemDispatch, now: datetime.datetime) -> Lead:
    from dealercrm.customers.models import Customer

    from .leads import lead_create

    notes = dispatch.note
    customer_id = _existing_customer_id(dispatch.dealer_id, dispatch.phone)
    customer = Customer.objects.get(pk=customer_id) if customer_id else None
    return lead_create(
        actor=dispatch.created_by,
        dealer_id=dispatch.dealer_id,
        channel=LeadChannel.OEM_DISPATCH,
        customer=customer,
        name=dispatch.prospect_name,
        phone=dispatch.phone,
        wechat_id=dispatch.wechat_id,
        assign=True,
        campaign=dispatch.campaign,
        # A release that ran halfway before (a crash) finds its lead instead of making another.
        idempotency_key=f"dispatch:{dispatch.pk}",
        created_at=now,
        car_model_id=dispatch.car_model_id,
        notes=notes,
    )


def _task_texts(
    dispatch: OemDispatch, lead: Lead, policy: SalesPolicy, now: datetime.datetime
) -> list[tuple[str, str, str, str, datetime.datetime]]:
    """(suffix, kind, title, body, due) of the three tasks."""
    zone = _dealer_zone(dispatch.dealer)
    day = dispatch.test_drive_date
    name = dispatch.prospect_name
    opening = policy.opens_at
    when = day.isoformat()
    model = str(dispatch.car_model) if dispatch.car_model_id else ""
    preferred = dispatch.preferred_time or _("no time given")
    details = _("Test drive on %(date)s, preferred time: %(time)s.") % {
        "date": when,
        "time": preferred,
    }
    if model:
        details += " " + _("Model: %(model)s.") % {"model": model}
    if dispatch.pickup_requested:
        pickup = _("Pick-up wanted, at: %(address)s.") % {"address": dispatch.pickup_address}
    else:
        pickup = _("No pick-up wanted: the prospect comes to the showroom.")
    remind_due = max(now, _at(day - datetime.timedelta(days=1), opening, zone))
    clock = preferred_clock(dispatch.preferred_time) or opening
    drive_due = max(now, _at(day, clock, zone))
    note = f"\n{dispatch.note}" if dispatch.note else ""
    return [
        (
            TASK_CONTACT,
            "call",
            _("Call %(name)s to fix the test-drive time (OEM dispatch)") % {"name": name},
            f"{details} {pickup}{note}",
            now,
        ),
        (
            TASK_REMIND,
            "call",
            _("Remind %(name)s of tomorrow's test drive") % {"name": name},
            f"{details} {pickup}",
            remind_due,
        ),
        (
            "drive",
            "test_drive",
            _("Test drive with %(name)s") % {"name": name},
            f"{details} {pickup}",
            drive_due,
        ),
    ]


@transaction.atomic
def dispatch_release(*, dispatch_id: int, now: datetime.datetime | None = None) -> Lead | None:
    """Hand the dispatch to its dealer: the lead (channel OEM dispatch, attached to the dealer's
    customer with that phone if there is one, assigned by the dealer's rule), a notice to the
    managers and the consultant, and the three tasks for the consultant.

    Locks the row, so two runs at once release it once; a released dispatch is left alone (its
    lead is returned). None when there is no such dispatch.
    """
    from dealercrm.worklist.models import Task
    from dealercrm.worklist.services import notice_create, task_create

    now = now or timezone.now()
    dispatch = (
        OemDispatch.objects.select_for_update(of=("self",))
        .select_related("dealer", "car_model")
        .filter(pk=dispatch_id)
        .first()
    )
    if dispatch is None:
        return None
    if dispatch.released_at is not None:
        return dispatch.lead
    lead = _create_lead(dispatch, now)
    dispatch.lead = lead
    dispatch.released_at = now
    dispatch.save(update_fields=["lead", "released_at"])
    policy = sales_policy_for(dispatch.dealer_id)

    source_ids = {
        suffix: f"{dispatch.pk}:{suffix}" for suffix in (TASK_CONTACT, TASK_REMIND, TASK_DRIVE)
    }
    existing = set(
        Task.objects.filter(
            dealer_id=dispatch.dealer_id,
            source_kind=SOURCE_KIND,
            source_id__in=list(source_ids.values()),
        ).values_list("source_id", flat=True)
    )
    for suffix, kind, title, body, due in _task_texts(dispatch, lead, policy, now):
        if source_ids[suffix] in existing:
            continue
        task_create(
            dealer_id=dispatch.dealer_id,
            customer_id=lead.customer_id,
            kind=kind,
            title=title,
            body=body,
            assignee_id=lead.consultant_id,
            due_at=due,
            source_kind=SOURCE_KIND,
            source_id=source_ids[suffix],
        )
    managers = list(
        User.objects.filter(
            dealer_id=dispatch.dealer_id, role=Role.DEALER_MANAGER, is_active=True
        ).values_list("pk", flat=True)
    )
    notice_create(
        dealer_id=dispatch.dealer_id,
        recipient_ids=[*managers, lead.consultant_id or 0],
        title=_("OEM lead: %(name)s, test drive on %(date)s")
        % {"name": dispatch.prospect_name, "date": dispatch.test_drive_date.isoformat()},
        body=_("The brand dispatched this prospect to us; call them at once to fix the time."),
        link=_lead_link(lead),
        source_kind=SOURCE_KIND,
        source_id=str(dispatch.pk),
        reason="released",
    )
    return lead


def dispatch_release_due(*, today: datetime.date | None = None) -> int:
    """Release every dispatch whose release day has come (all dealers of the active scope).

    Each in its own transaction: one refused release (reported in the log) does not hold back
    the others, and the next run tries it again. Returns how many were released.
    """
    today = _local_today(today)
    due = list(
        OemDispatch.objects.filter(released_at__isnull=True, release_on__lte=today)
        .order_by("release_on", "id")
        .values_list("pk", flat=True)
    )
    released = 0
    for dispatch_id in due:
        try:
            if dispatch_release(dispatch_id=dispatch_id) is not None:
                released += 1
        except ValidationError as exc:
            logger.warning("dispatch %s not released: %s", dispatch_id, exc.messages)
    return released
