"""The writer of customers (with their cars) and of vehicles.

How a customers row finds its customer (first that applies):
1. the ID number's keyed hash equals a living customer's;
2. the phone belongs to a customer of the same name (normalised: spaces and full-width ignored)
   whose ID number is empty or the same — families share phones, so the phone alone is not enough;
3. the VIN belongs to a car whose owner has the same name.
Otherwise a new customer is created. A VIN owned by another customer is an ERROR row (the
vehicle's page changes owners); the row's customer is then not written either.

How a matched record is updated ("fill empty fields, newer values"):
- Filled only when empty, never overwritten: gender, birthday, the ID number, the Latin name;
  vehicle model, purchase, delivery and warranty dates, colour.
- Taken from the file when it differs (the file is the newer source): e-mail, WeChat ID,
  province, city, district, street; the plate; insurance expiry when later.
- Mileage only when higher (and kept as a MileageReading from the import); a lower reading is
  not believed and not written.
- A phone the customer does not have yet is added (never removed); a car the customer does not
  have yet is added with its ownership.
- Marketing consent (one column per channel, optional): a channel the customer has no answer
  for yet is added; a different answer replaces the customer's, with the file's consent date
  (or the import's time) and the file as its source, since the file is the newer source. One
  exception keeps a withdrawal safe: a grant dated before the customer's recorded withdrawal
  does not undo it (a note on the row says so).
A row that changes nothing is UNCHANGED; a row that matched and changed something is UPDATED.

A car model the catalogue does not know (or that names several of its models) leaves the car
without a model and puts a note on the row, so the run's report lists what was not taken.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.bulk import to_db
from dealercrm.customers.contact_masking import mask_id_number
from dealercrm.customers.id_numbers import encrypt_id_number, hash_id_number
from dealercrm.customers.models import (
    Consent,
    Customer,
    CustomerPhone,
    Gender,
    LifecycleStage,
    SourceChannel,
)
from dealercrm.customers.validators import id_number_birth_date, id_number_gender
from dealercrm.dataquality.models import ImportOutcome
from dealercrm.search.keys import name_keys, normalise_text, phone_keys, vehicle_keys
from dealercrm.search.models import KeyKind, SearchKey
from dealercrm.search.services import search_keys_refresh
from dealercrm.vehicles.models import CarModel, MileageReading, Vehicle, VehicleOwnership

from .import_fields import CONSENT_CHANNELS
from .import_writer_base import BatchContext, CleanRow, RowOutcome

# Customer columns an import may fill or change (see the module docstring for which way).
FILL_ONLY = ("gender", "birthday", "latin_name")
TAKE_NEWER = ("email", "wechat_id", "province", "city", "district", "street")
CUSTOMER_FIELDS = (*FILL_ONLY, *TAKE_NEWER)
ID_COLUMNS = ("id_number_encrypted", "id_number_hash", "id_number_masked")
VEHICLE_FILL_ONLY = ("car_model_id", "purchase_date", "delivery_date", "warranty_end", "colour")
VEHICLE_COLUMNS = (*VEHICLE_FILL_ONLY, "plate", "insurance_expiry", "current_mileage_km")

_VIN_CACHE: dict[str, tuple[str, int | None]] = {}
CONSENT_SOURCE_LENGTH = Consent._meta.get_field("source").max_length

# A catalogue spelling that two different models share: matching it would be a guess.
_AMBIGUOUS = 0  # no model has id 0
# A model year in a model's text, as DMS exports write it ("2024款", "24款", a trailing "2024"
# or "2024年"), or a stray trailing 款: the forgiving second try of the catalogue match drops it.
_MODEL_YEAR = re.compile(r"((?:19|20)?\d{2})款|((?:19|20)\d{2})(?:年款|年)?$|款$")


def _values(values: Iterable[Any], sql_type: str) -> RawSQL:
    """A batch's keys as one bound parameter (`x IN (…)` with thousands of placeholders costs
    Django more than the query costs the database): an array on PostgreSQL, JSON on SQLite."""
    if connection.vendor == "postgresql":
        return RawSQL(f"SELECT unnest(%s::{sql_type}[])", [list(values)])  # noqa: S611
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(list(values))])  # noqa: S611


def _decoded_vin(vin: str) -> tuple[str, int | None]:
    """(manufacturer, model year) of a valid VIN; cached by the characters that decide them."""
    from dealercrm.vehicles.validators import decode_vin

    key = vin[:3] + vin[6] + vin[9]
    found = _VIN_CACHE.get(key)
    if found is None:
        info = decode_vin(vin)
        found = _VIN_CACHE[key] = (info.manufacturer, info.model_year)
    return found


# Key kinds as plain ints: an IntEnum member costs a class call each when the batch is
# unpickled in the writing process.
_PHONE, _PHONE_TAIL, _ID_HASH = int(KeyKind.PHONE), int(KeyKind.PHONE_TAIL), int(KeyKind.ID_HASH)
_NAME_KEYS: dict[str, tuple[tuple[int, str], ...]] = {}


def _name_keys(name: str) -> tuple[tuple[int, str], ...]:
    """search.keys.name_keys of a name, cached: names repeat, and pinyin is the costly part."""
    found = _NAME_KEYS.get(name)
    if found is None:
        if len(_NAME_KEYS) > 200_000:
            _NAME_KEYS.clear()
        found = _NAME_KEYS[name] = tuple((int(kind), term) for kind, term in name_keys(name))
    return found


def _phone_keys(e164: str) -> list[tuple[int, str]]:
    """search.keys.phone_keys, without its general normalisation for the common +86 form."""
    if e164.startswith("+86") and e164.isascii() and e164[1:].isdigit():
        digits = e164[3:]
        return [(_PHONE, digits), (_PHONE_TAIL, digits[::-1])]
    return [(int(kind), term) for kind, term in phone_keys(e164)]


def _phones_of(clean: dict[str, Any]) -> list[str]:
    """The row's phone numbers, the main one first, without repeats."""
    phone, other = clean.get("phone") or "", clean.get("other_phone") or ""
    return [n for n in (phone, other if other != phone else "") if n]


def _empty(value: Any) -> bool:
    return value in (None, "", Gender.UNKNOWN)


@dataclass
class _Customer:
    id: int  # negative: new in this batch, replaced by a real id before writing
    new: bool
    values: dict[str, Any]  # name + CUSTOMER_FIELDS + ID_COLUMNS + lifecycle_stage
    phones: set[str]
    norm_name: str
    keys: list[tuple[int, str]] = field(default_factory=list)  # for new customers
    changed: bool = False
    new_phones: list[str] = field(default_factory=list)
    refresh_keys: bool = False
    consents: dict[str, _Consent] = field(default_factory=dict)  # {channel: consent}


@dataclass(slots=True)
class _Consent:
    granted: bool
    changed_at: dt.datetime
    source: str
    stored: bool  # in the database already: an UPDATE when dirty, else an INSERT
    dirty: bool = False


@dataclass
class _Vehicle:
    id: int
    new: bool
    owner_id: int | None
    values: dict[str, Any]  # vin + VEHICLE_COLUMNS (+ manufacturer, vin_model_year when new)
    keys: list[tuple[int, str]] = field(default_factory=list)
    changed: bool = False
    started_on: dt.date | None = None
    mileage_reading: int | None = None


class CustomerVehicleWriter:
    """Customers with an optional car per row (kind "customers"), or a car per row (kind
    "vehicles": the owner is found by phone or ID number, and created only when the row names
    them; a row without a name whose owner is not found is an ERROR)."""

    def __init__(self, kind: str, *, creates_customers: bool) -> None:
        self.kind = kind
        self.creates_customers = creates_customers

    # -- in the worker process ----------------------------------------------------------------

    def prepare(self, clean: dict[str, Any]) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        id_number = clean.get("id_number") or ""
        id_hash = ""
        if id_number:
            # clean_row validated and normalised it (fast_id_number): no second check here.
            id_hash = hash_id_number(id_number)
            extra["id"] = (encrypt_id_number(id_number), id_hash, mask_id_number(id_number))
            extra["id_birthday"] = id_number_birth_date(id_number)
            extra["id_gender"] = id_number_gender(id_number)
        name = clean.get("name") or ""
        if name:
            extra["norm_name"] = normalise_text(name)
            keys = list(_name_keys(name))
            for phone in _phones_of(clean):
                keys.extend(_phone_keys(phone))
            if id_hash:
                keys.append((_ID_HASH, id_hash))
            extra["keys"] = keys
        vin = clean.get("vin") or ""
        if vin:
            extra["vin_decoded"] = _decoded_vin(vin)
            plate = clean.get("plate") or ""
            extra["vehicle_keys"] = [(int(k), t) for k, t in vehicle_keys(vin, plate)]
        return extra

    # -- in the batch's transaction -----------------------------------------------------------

    def write_batch(self, ctx: BatchContext, rows: list[CleanRow]) -> list[RowOutcome]:
        found = self._look_up(ctx, rows)
        customers: dict[int, _Customer] = found["customers"]
        vehicles: dict[str, _Vehicle] = found["vehicles"]
        # Same-batch matching: every key points at the record of this batch's registry.
        by_hash: dict[str, int] = found["by_hash"]
        by_phone: dict[str, list[int]] = found["by_phone"]
        # Decided once per batch, so a file without consent columns costs nothing per row.
        mapping = ctx.run.mapping or {}
        consent_fields = [(name, ch) for name, ch in CONSENT_CHANNELS.items() if mapping.get(name)]
        consent_source = f"import {ctx.run.filename}"[:CONSENT_SOURCE_LENGTH]
        consent_times: dict[dt.date, dt.datetime] = {}
        if consent_fields:
            self._look_up_consents(ctx, customers)
        temp_id = 0
        outcomes: list[RowOutcome] = []
        for row in rows:
            clean, extra = row.clean, row.extra
            id_hash = extra["id"][1] if "id" in extra else ""
            phone = clean.get("phone") or ""
            vin = clean.get("vin") or ""
            norm_name = extra.get("norm_name", "")
            customer = self._match(
                customers, vehicles, by_hash, by_phone, id_hash, phone, vin, norm_name
            )
            creates = self.creates_customers or bool(norm_name)
            vehicle = vehicles.get(vin) if vin else None
            if vehicle is not None and vehicle.owner_id is not None:
                if customer is None and not creates:
                    customer = customers.get(vehicle.owner_id)
                if customer is None or vehicle.owner_id != customer.id:
                    outcomes.append(
                        RowOutcome(
                            row.row_number,
                            ImportOutcome.ERROR,
                            field="vin",
                            reason=_(
                                "This VIN belongs to a car of another customer; change the "
                                "car's owner on its page."
                            ),
                        )
                    )
                    continue
            if customer is None and not creates:
                outcomes.append(
                    RowOutcome(
                        row.row_number,
                        ImportOutcome.ERROR,
                        field="phone" if phone else "id_number",
                        reason=_(
                            "No customer has this phone or ID number: add the owner's name to "
                            "the row, or import the customers first."
                        ),
                    )
                )
                continue
            created = customer is None
            row_changed = False
            notes: list[tuple[str, str]] = []
            if customer is None:
                temp_id -= 1
                customer = self._new_customer(temp_id, clean, extra, ctx)
                customers[customer.id] = customer
                if id_hash:
                    by_hash[id_hash] = customer.id
                for number in customer.new_phones:
                    by_phone.setdefault(number, []).append(customer.id)
                if consent_fields:
                    self._merge_consents(
                        customer, clean, consent_fields, consent_source, consent_times, ctx, notes
                    )
            else:
                before = customer.changed
                customer.changed = False
                self._merge_customer(customer, clean, extra)
                for number in _phones_of(clean):
                    if number not in customer.phones:
                        customer.phones.add(number)
                        customer.new_phones.append(number)
                        by_phone.setdefault(number, []).append(customer.id)
                        customer.changed = True
                        # (a new customer's too: its prepared keys lack this phone)
                        customer.refresh_keys = True
                if id_hash:
                    by_hash.setdefault(id_hash, customer.id)
                # A changed consent is a change of the customer (its version goes up, as when
                # the consent is recorded on the customer's page); its search keys stay.
                if consent_fields and self._merge_consents(
                    customer, clean, consent_fields, consent_source, consent_times, ctx, notes
                ):
                    customer.changed = True
                row_changed = customer.changed
                customer.changed = before or row_changed
            vehicle_changed = False
            if vin:
                if vehicle is None or vehicle.owner_id is None:
                    temp_id -= 1
                    vehicle = self._new_vehicle(temp_id, customer.id, clean, extra, ctx, vehicle)
                    vehicles[vin] = vehicle
                    vehicle_changed = True
                    if customer.values.get("lifecycle_stage") == LifecycleStage.PROSPECT:
                        customer.values["lifecycle_stage"] = LifecycleStage.OWNER
                        customer.changed = True
                elif self._merge_vehicle(vehicle, clean, ctx):
                    vehicle_changed = True
                if vehicle_changed and (not customer.new or not vehicle.new):
                    customer.refresh_keys = True
                model_text = clean.get("car_model")
                if model_text and vehicle.values.get("car_model_id") is None:
                    notes.append(("car_model", self._car_model_problem(ctx, model_text)))
            if created:
                outcome = ImportOutcome.CREATED
            elif row_changed or vehicle_changed:
                outcome = ImportOutcome.UPDATED
            else:
                outcome = ImportOutcome.UNCHANGED
            outcomes.append(
                RowOutcome(
                    row.row_number,
                    outcome,
                    customer_id=customer.id,
                    vehicle_id=vehicle.id if vin and vehicle is not None else None,
                    notes=notes,
                )
            )
        real = self._write(ctx, customers, vehicles, consents=bool(consent_fields))
        for outcome in outcomes:
            if outcome.customer_id is not None and outcome.customer_id < 0:
                outcome.customer_id = real[outcome.customer_id]
            if outcome.vehicle_id is not None and outcome.vehicle_id < 0:
                outcome.vehicle_id = real[outcome.vehicle_id]
        return outcomes

    # -- matching -----------------------------------------------------------------------------

    @staticmethod
    def _match(
        customers: dict[int, _Customer],
        vehicles: dict[str, _Vehicle],
        by_hash: dict[str, int],
        by_phone: dict[str, list[int]],
        id_hash: str,
        phone: str,
        vin: str,
        norm_name: str,
    ) -> _Customer | None:
        if id_hash and id_hash in by_hash:
            return customers[by_hash[id_hash]]
        if phone:
            for customer_id in by_phone.get(phone, ()):
                candidate = customers[customer_id]
                own_hash = candidate.values.get("id_number_hash") or ""
                # No name in the row (a vehicles file): the phone's first customer.
                same_name = not norm_name or candidate.norm_name == norm_name
                if same_name and (not id_hash or own_hash in ("", id_hash)):
                    return candidate
        if vin and vin in vehicles:
            owner = customers.get(vehicles[vin].owner_id or 0)
            own_hash = owner.values.get("id_number_hash") or "" if owner else ""
            if (
                owner is not None
                and owner.norm_name == norm_name
                and (not id_hash or own_hash in ("", id_hash))
            ):
                return owner
        return None

    def _look_up(self, ctx: BatchContext, rows: list[CleanRow]) -> dict[str, Any]:
        """The batch's existing customers and cars: one query per key kind, one for the
        customers found, one for their phones among the batch's."""
        dealer_id = ctx.dealer_id
        hashes = {r.extra["id"][1] for r in rows if "id" in r.extra}
        phones = {number for r in rows for number in _phones_of(r.clean)}
        vins = {r.clean["vin"] for r in rows if r.clean.get("vin")}
        by_hash: dict[str, int] = {}
        if hashes:
            by_hash = dict(
                Customer.objects.filter(
                    dealer_id=dealer_id,
                    id_number_hash__in=_values(hashes, "text"),
                    is_deleted=False,
                ).values_list("id_number_hash", "id")
            )
        phone_pairs: list[tuple[str, int]] = []
        if phones:
            phone_pairs = list(
                CustomerPhone.objects.filter(
                    dealer_id=dealer_id,
                    number__in=_values(phones, "text"),
                    customer__is_deleted=False,
                ).values_list("number", "customer_id")
            )
        vehicles: dict[str, _Vehicle] = {}
        if vins:
            for values in Vehicle.objects.filter(
                dealer_id=dealer_id, vin__in=_values(vins, "text")
            ).values("id", "owner_id", "vin", *VEHICLE_COLUMNS):
                vehicles[values["vin"]] = _Vehicle(
                    id=values.pop("id"), new=False, owner_id=values.pop("owner_id"), values=values
                )
        ids = set(by_hash.values()) | {cid for _n, cid in phone_pairs}
        ids |= {v.owner_id for v in vehicles.values() if v.owner_id is not None}
        customers: dict[int, _Customer] = {}
        if ids:
            for values in Customer.objects.filter(
                dealer_id=dealer_id, id__in=_values(ids, "bigint"), is_deleted=False
            ).values("id", "name", "lifecycle_stage", *CUSTOMER_FIELDS, *ID_COLUMNS):
                customer_id = values.pop("id")
                customers[customer_id] = _Customer(
                    id=customer_id,
                    new=False,
                    values=values,
                    phones=set(),
                    norm_name=normalise_text(values["name"]),
                )
        by_phone: dict[str, list[int]] = defaultdict(list)
        for number, customer_id in sorted(phone_pairs, key=lambda p: p[1]):
            if customer_id in customers:
                customers[customer_id].phones.add(number)
                by_phone[number].append(customer_id)
        for vehicle in vehicles.values():
            if vehicle.owner_id is not None and vehicle.owner_id not in customers:
                vehicle.owner_id = None  # its owner was deleted: the car is free
        by_hash = {h: cid for h, cid in by_hash.items() if cid in customers}
        return {
            "customers": customers,
            "vehicles": vehicles,
            "by_hash": by_hash,
            "by_phone": by_phone,
        }

    @staticmethod
    def _look_up_consents(ctx: BatchContext, customers: dict[int, _Customer]) -> None:
        """The matched customers' consents, in one query."""
        if not customers:
            return
        for customer_id, channel, granted, changed_at, source in Consent.objects.filter(
            dealer_id=ctx.dealer_id, customer_id__in=_values(customers, "bigint")
        ).values_list("customer_id", "channel", "granted", "changed_at", "source"):
            customers[customer_id].consents[channel] = _Consent(
                granted, changed_at, source, stored=True
            )

    # -- records ------------------------------------------------------------------------------

    def _new_customer(
        self, temp_id: int, clean: dict[str, Any], extra: dict[str, Any], ctx: BatchContext
    ) -> _Customer:
        values = {name: clean.get(name) for name in CUSTOMER_FIELDS}
        for name in CUSTOMER_FIELDS:
            if values[name] is None and name != "birthday":
                values[name] = ""
        if _empty(values["gender"]):
            values["gender"] = extra.get("id_gender") or Gender.UNKNOWN
        if values["birthday"] is None:
            values["birthday"] = extra.get("id_birthday")
        encrypted, id_hash, masked = extra.get("id", ("", "", ""))
        values.update(
            name=clean["name"],
            id_number_encrypted=encrypted,
            id_number_hash=id_hash,
            id_number_masked=masked,
            lifecycle_stage=LifecycleStage.PROSPECT,
        )
        phones = _phones_of(clean)
        return _Customer(
            id=temp_id,
            new=True,
            values=values,
            phones=set(phones),
            norm_name=extra.get("norm_name", ""),
            keys=extra.get("keys", []),
            new_phones=phones,
        )

    @staticmethod
    def _merge_customer(customer: _Customer, clean: dict[str, Any], extra: dict[str, Any]) -> None:
        values = customer.values
        for name in FILL_ONLY:
            incoming = clean.get(name)
            if name == "gender" and _empty(incoming):
                incoming = extra.get("id_gender")
            if name == "birthday" and incoming is None:
                incoming = extra.get("id_birthday")
            if not _empty(incoming) and _empty(values.get(name)):
                values[name] = incoming
                customer.changed = True
        for name in TAKE_NEWER:
            incoming = clean.get(name)
            if incoming not in (None, "") and incoming != values.get(name):
                values[name] = incoming
                customer.changed = True
        if "id" in extra and not values.get("id_number_hash"):
            values.update(zip(ID_COLUMNS, extra["id"], strict=True))
            customer.changed = True
            customer.refresh_keys = True

    @staticmethod
    def _merge_consents(
        customer: _Customer,
        clean: dict[str, Any],
        consent_fields: list[tuple[str, str]],
        source: str,
        times: dict[dt.date, dt.datetime],
        ctx: BatchContext,
        notes: list[tuple[str, str]],
    ) -> bool:
        """The row's consent answers into the customer's; whether one changed."""
        given_on = clean.get("consent_date")
        changed_at = ctx.now
        if given_on is not None:
            changed_at = times.get(given_on) or times.setdefault(
                given_on, timezone.make_aware(dt.datetime.combine(given_on, dt.time.min))
            )
        consents = customer.consents
        changed = False
        for name, channel in consent_fields:
            granted = clean.get(name)
            if granted is None:
                continue  # blank: the file says nothing about this channel
            current = consents.get(channel)
            if current is None:
                consents[channel] = _Consent(granted, changed_at, source, stored=False, dirty=True)
                changed = True
                continue
            if current.granted == granted:
                continue
            if granted and given_on is not None and changed_at < current.changed_at:
                notes.append(
                    (
                        name,
                        _(
                            "The consent given on %(given)s is older than the withdrawal "
                            "recorded on %(withdrawn)s: the withdrawal was kept."
                        )
                        % {
                            "given": given_on.isoformat(),
                            "withdrawn": timezone.localdate(current.changed_at).isoformat(),
                        },
                    )
                )
                continue
            current.granted, current.changed_at, current.source = granted, changed_at, source
            current.dirty = True
            changed = True
        return changed

    def _car_model_match(self, ctx: BatchContext, text: str) -> tuple[int | None, bool]:
        """(the catalogue's model named by the text, or None; whether the text names several
        models). Exact first ("汉 EV", "比亚迪 汉 EV 2024"); then without a model year written
        as DMS exports do ("汉 EV 2024款", "2024款 汉EV": that year's model, or with no year, the
        latest). A text that two different models answer to matches neither: no guessing."""
        catalogue = ctx.cache.get("car_models")
        if catalogue is None:
            catalogue = ctx.cache["car_models"] = self._catalogue()
            ctx.cache["car_model_texts"] = {}
        texts = ctx.cache["car_model_texts"]
        found = texts.get(text)
        if found is None:
            key = normalise_text(text)
            if key not in catalogue and (year := _MODEL_YEAR.search(key)) is not None:
                digits = year.group(1) or year.group(2) or ""
                key = key[: year.start()] + key[year.end() :]
                if digits:
                    key += digits if len(digits) == 4 else f"20{digits}"
            pk = catalogue.get(key)
            found = texts[text] = (pk or None, pk == _AMBIGUOUS)
        return found

    @staticmethod
    def _catalogue() -> dict[str, int]:
        """{normalised spelling: model id, or _AMBIGUOUS when two models share it}."""
        catalogue: dict[str, int] = {}
        owners: dict[str, tuple[str, str, str]] = {}
        # Oldest first, so the latest model year of a model wins its spellings without a year.
        for pk, make, series, name, year in CarModel.objects.order_by(
            "model_year", "id"
        ).values_list("id", "make", "series", "name", "model_year"):
            model = (make, series, name)
            for spelled in (
                name,
                f"{series}{name}",
                f"{make}{series}{name}",
                f"{name}{year}",
                f"{series}{name}{year}",
                f"{make}{series}{name}{year}",
            ):
                key = normalise_text(spelled)
                if owners.setdefault(key, model) != model:
                    catalogue[key] = _AMBIGUOUS
                elif catalogue.get(key) != _AMBIGUOUS:
                    catalogue[key] = pk
        return catalogue

    def _car_model_id(self, ctx: BatchContext, text: str) -> int | None:
        """The catalogue's model named by the text, else None (see _car_model_match)."""
        if not text:
            return None
        return self._car_model_match(ctx, text)[0]

    def _car_model_problem(self, ctx: BatchContext, text: str) -> str:
        """Why the text gave the car no model: the row's note."""
        if self._car_model_match(ctx, text)[1]:
            return _(
                "“%(model)s” could be several models of the catalogue: the car was imported "
                "without a model; choose it on the car's page."
            ) % {"model": text}
        return _(
            "“%(model)s” is not in the model catalogue: the car was imported without a model."
        ) % {"model": text}

    def _new_vehicle(
        self,
        temp_id: int,
        owner_id: int,
        clean: dict[str, Any],
        extra: dict[str, Any],
        ctx: BatchContext,
        ownerless: _Vehicle | None,
    ) -> _Vehicle:
        """A new car of the owner, or (`ownerless`) an existing car without an owner that the
        row's customer now owns."""
        mileage = clean.get("mileage")
        values = {
            "vin": clean["vin"],
            "car_model_id": self._car_model_id(ctx, clean.get("car_model") or ""),
            "purchase_date": clean.get("purchase_date"),
            "delivery_date": clean.get("delivery_date"),
            "warranty_end": clean.get("warranty_end"),
            "colour": clean.get("colour") or "",
            "plate": clean.get("plate") or "",
            "insurance_expiry": clean.get("insurance_expiry"),
            "current_mileage_km": mileage,
        }
        started_on = values["purchase_date"] or values["delivery_date"] or ctx.today
        if ownerless is not None:
            ownerless.owner_id = owner_id
            ownerless.started_on = started_on
            ownerless.changed = True
            for name, value in values.items():
                if _empty(ownerless.values.get(name)) and not _empty(value):
                    ownerless.values[name] = value
            return ownerless
        manufacturer, model_year = extra.get("vin_decoded", ("", None))
        values.update(manufacturer=manufacturer, vin_model_year=model_year)
        return _Vehicle(
            id=temp_id,
            new=True,
            owner_id=owner_id,
            values=values,
            keys=extra.get("vehicle_keys", []),
            started_on=started_on,
            mileage_reading=mileage,
        )

    def _merge_vehicle(self, vehicle: _Vehicle, clean: dict[str, Any], ctx: BatchContext) -> bool:
        values = vehicle.values
        changed = False
        incoming = {
            "car_model_id": self._car_model_id(ctx, clean.get("car_model") or ""),
            "purchase_date": clean.get("purchase_date"),
            "delivery_date": clean.get("delivery_date"),
            "warranty_end": clean.get("warranty_end"),
            "colour": clean.get("colour") or "",
        }
        for name, value in incoming.items():
            if not _empty(value) and _empty(values.get(name)):
                values[name] = value
                changed = True
        plate = clean.get("plate") or ""
        if plate and plate != values.get("plate"):
            values["plate"] = plate
            changed = True
        expiry = clean.get("insurance_expiry")
        if expiry is not None and (
            values["insurance_expiry"] is None or expiry > values["insurance_expiry"]
        ):
            values["insurance_expiry"] = expiry
            changed = True
        mileage = clean.get("mileage")
        if mileage is not None and (
            values["current_mileage_km"] is None or mileage > values["current_mileage_km"]
        ):
            values["current_mileage_km"] = mileage
            vehicle.mileage_reading = mileage
            changed = True
        vehicle.changed = vehicle.changed or changed
        return changed

    # -- writing ------------------------------------------------------------------------------

    def _write(
        self,
        ctx: BatchContext,
        customers: dict[int, _Customer],
        vehicles: dict[str, _Vehicle],
        *,
        consents: bool = False,
    ) -> dict[int, int]:
        """Insert the new, update the changed; returns {temporary id: real id}. `consents`: the
        file has consent columns (without, the customers' consents are not looked at)."""
        new_customers = [c for c in customers.values() if c.new]
        new_vehicles = [v for v in vehicles.values() if v.new]
        real: dict[int, int] = dict(
            zip(
                [c.id for c in new_customers],
                ctx.ids.take(Customer, len(new_customers)),
                strict=True,
            )
        )
        real.update(
            zip(
                [v.id for v in new_vehicles],
                ctx.ids.take(Vehicle, len(new_vehicles)),
                strict=True,
            )
        )
        dealer_id, bulk = ctx.dealer_id, ctx.bulk
        for customer in new_customers:
            customer.id = real[customer.id]
        for vehicle in vehicles.values():
            if vehicle.new:
                vehicle.id = real[vehicle.id]
            if vehicle.owner_id is not None and vehicle.owner_id < 0:
                vehicle.owner_id = real[vehicle.owner_id]

        self._insert_customers(ctx, new_customers)
        phone_rows = []
        for customer in customers.values():
            for position, number in enumerate(customer.new_phones):
                primary = customer.new and position == 0
                label = "mobile" if number.startswith("+861") else "home"
                phone_rows.append((dealer_id, customer.id, number, label, primary))
        bulk.write(
            CustomerPhone, ("dealer_id", "customer_id", "number", "label", "is_primary"), phone_rows
        )
        self._insert_vehicles(ctx, new_vehicles)
        self._update_customers(ctx, [c for c in customers.values() if not c.new and c.changed])
        self._update_vehicles(ctx, [v for v in vehicles.values() if not v.new and v.changed])
        if consents:
            self._write_consents(ctx, customers.values())

        # A car without an owner (its owner was deleted) that a row's customer now owns: its
        # last ownership ends today, so the new one is the only current one.
        taken = [v.id for v in vehicles.values() if not v.new and v.started_on is not None]
        if taken:
            VehicleOwnership.objects.filter(
                dealer_id=dealer_id, vehicle_id__in=taken, ended_on__isnull=True
            ).update(ended_on=ctx.today)
        ownerships = [
            (dealer_id, v.id, v.owner_id, to_db(v.started_on))
            for v in vehicles.values()
            if v.started_on is not None and v.owner_id is not None
        ]
        bulk.write(
            VehicleOwnership, ("dealer_id", "vehicle_id", "customer_id", "started_on"), ownerships
        )
        today = to_db(ctx.today)
        readings = [
            (dealer_id, v.id, v.mileage_reading, today, MileageReading.Source.IMPORT)
            for v in vehicles.values()
            if v.mileage_reading is not None
        ]
        bulk.write(MileageReading, ("dealer_id", "vehicle_id", "km", "read_on", "source"), readings)

        # Search keys: a new customer's from its prepared terms; a changed one's rebuilt.
        key_rows = []
        refresh = [c.id for c in customers.values() if c.refresh_keys]
        for customer in new_customers:
            if customer.refresh_keys:
                continue  # a later row of the batch changed it: rebuilt below
            cid = customer.id
            key_rows.extend((dealer_id, cid, None, kind, term) for kind, term in customer.keys)
        by_id = {c.id: c for c in customers.values()}
        for vehicle in new_vehicles:
            owner = vehicle.owner_id
            if owner is not None and by_id[owner].new and not by_id[owner].refresh_keys:
                vid = vehicle.id
                key_rows.extend((dealer_id, owner, vid, kind, term) for kind, term in vehicle.keys)
        bulk.write(SearchKey, ("dealer_id", "customer_id", "vehicle_id", "kind", "term"), key_rows)
        if refresh:
            search_keys_refresh(dealer_id=dealer_id, customer_ids=refresh)
        return real

    def _insert_customers(self, ctx: BatchContext, new: Sequence[_Customer]) -> None:
        fields = (
            "id",
            "dealer_id",
            "name",
            *CUSTOMER_FIELDS,
            *ID_COLUMNS,
            "lifecycle_stage",
            "source_channel",
            "created_by_id",
            "created_at",
            "updated_at",
        )
        now = to_db(ctx.now)
        rows = []
        for customer in new:
            values = customer.values
            rows.append(
                (
                    customer.id,
                    ctx.dealer_id,
                    values["name"],
                    *[to_db(values[name]) for name in CUSTOMER_FIELDS],
                    *[values[name] for name in ID_COLUMNS],
                    values["lifecycle_stage"],
                    SourceChannel.IMPORT,
                    ctx.actor_id,
                    now,
                    now,
                )
            )
        ctx.bulk.write(Customer, fields, rows)

    def _insert_vehicles(self, ctx: BatchContext, new: Sequence[_Vehicle]) -> None:
        fields = (
            "id",
            "dealer_id",
            "owner_id",
            "vin",
            "manufacturer",
            "vin_model_year",
            *VEHICLE_COLUMNS,
        )
        rows = []
        for vehicle in new:
            values = vehicle.values
            rows.append(
                (
                    vehicle.id,
                    ctx.dealer_id,
                    vehicle.owner_id,
                    values["vin"],
                    values["manufacturer"],
                    values["vin_model_year"],
                    *[to_db(values[name]) for name in VEHICLE_COLUMNS],
                )
            )
        ctx.bulk.write(Vehicle, fields, rows)

    @staticmethod
    def _update_customers(ctx: BatchContext, changed: Sequence[_Customer]) -> None:
        if not changed:
            return
        columns = (*CUSTOMER_FIELDS, *ID_COLUMNS, "lifecycle_stage")
        assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
        table = connection.ops.quote_name(Customer._meta.db_table)
        sql = (
            f"UPDATE {table} SET {assignments}, version = version + 1, updated_at = %s "
            "WHERE id = %s AND dealer_id = %s"
        )
        now = ctx.now
        params = [
            (*[c.values[name] for name in columns], now, c.id, ctx.dealer_id) for c in changed
        ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)

    @staticmethod
    def _write_consents(ctx: BatchContext, customers: Iterable[_Customer]) -> None:
        """New channels inserted in bulk, changed ones updated in one executemany."""
        dealer_id = ctx.dealer_id
        inserts, updates = [], []
        for customer in customers:
            for channel, consent in customer.consents.items():
                if not consent.dirty:
                    continue
                changed_at = to_db(consent.changed_at)
                if consent.stored:
                    updates.append(
                        (
                            consent.granted,
                            changed_at,
                            consent.source,
                            dealer_id,
                            customer.id,
                            channel,
                        )
                    )
                else:
                    inserts.append(
                        (
                            dealer_id,
                            customer.id,
                            channel,
                            consent.granted,
                            changed_at,
                            consent.source,
                        )
                    )
        ctx.bulk.write(
            Consent,
            ("dealer_id", "customer_id", "channel", "granted", "changed_at", "source"),
            inserts,
        )
        if not updates:
            return
        table = connection.ops.quote_name(Consent._meta.db_table)
        sql = (
            f"UPDATE {table} SET granted = %s, changed_at = %s, source = %s "
            "WHERE dealer_id = %s AND customer_id = %s AND channel = %s"
        )
        with connection.cursor() as cursor:
            cursor.executemany(sql, updates)

    @staticmethod
    def _update_vehicles(ctx: BatchContext, changed: Sequence[_Vehicle]) -> None:
        if not changed:
            return
        columns = ("owner_id", *VEHICLE_COLUMNS)
        assignments = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
        table = connection.ops.quote_name(Vehicle._meta.db_table)
        sql = (
            f"UPDATE {table} SET {assignments}, version = version + 1 "
            "WHERE id = %s AND dealer_id = %s"
        )
        params = [
            (v.owner_id, *[v.values[name] for name in VEHICLE_COLUMNS], v.id, ctx.dealer_id)
            for v in changed
        ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)
