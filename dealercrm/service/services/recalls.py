"""Recall campaigns (召回): the OEM defines which cars, launches the campaign, the workshops
complete it.

A campaign is the brand's (not a dealer's). Launching it finds the affected cars across EVERY
dealer of the brand, set-based:

1. cars of active dealers: one INSERT … SELECT of RecallVehicle rows (one per VIN: when a car is
   known to several active dealers, the dealer that knew it last takes it);
2. cars known only to closed dealers ("owners with no current dealer relationship"): the
   active dealer nearest the owner's address (same city, else province, else the closed
   dealer's region) takes them; the owner (name, phones) and the car are copied to that dealer
   as a new customer and vehicle, with a note saying why, so it can act without seeing the
   closed dealer's records. Bulk inserts, a few queries per dealer;
3. per responsible dealer, in its own transaction: one message per owner (purpose "recall", a
   service purpose: no marketing consent needed; the dealer's recall template, or a built-in
   text), and a call task per car for the dealer's care specialists in turn; the cars are then
   "notified".

Launching twice (or a job that runs again after a crash) adds nothing twice: a VIN already in
the campaign is skipped, a dealer's cars are notified once (tasks are looked up by their source,
messages by their idempotency key).
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, models, transaction
from django.db.models import Exists, F, OuterRef, Q, Window
from django.db.models.functions import Coalesce, Collate, RowNumber
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealercrm.core.models import Dealer, User
from dealercrm.core.permissions import Perm, Role
from dealercrm.core.spreadsheets import read_cells
from dealercrm.core.tenancy import get_current_scope
from dealercrm.customers.models import (
    Customer,
    CustomerPhone,
    Interaction,
    LifecycleStage,
    SourceChannel,
)
from dealercrm.vehicles.models import CarModel, Vehicle, VehicleOwnership
from dealercrm.vehicles.validators import VIN_LENGTH, normalise_vin, validate_vin

from ..models import (
    RecallCampaign,
    RecallCampaignVin,
    RecallStatus,
    RecallVehicle,
    RepairKind,
    RepairOrder,
    RepairOrderStatus,
)
from ..models.recalls import RecallAssignment, RecallCampaignStatus, RecallLaunchState

logger = logging.getLogger(__name__)

# Tasks of a recalled car: ("service.recall_vehicle", "<RecallVehicle id>").
TASK_SOURCE_KIND = "service.recall_vehicle"
# Campaigns with at most this many affected cars launch while the OEM waits; bigger ones run
# as a job, and the page shows its progress.
INLINE_LAUNCH_LIMIT = 500
CAMPAIGN_FIELDS = (
    "code",
    "title",
    "description",
    "remedy",
    "model_year_from",
    "model_year_to",
    "vin_from",
    "vin_to",
    "starts_on",
)
MAX_VIN_LIST_ROWS = 200_000

# The text sent when the dealer has no recall template of its own. The customer reads Chinese:
# it is rendered in zh-hans, the English msgid is the source like every other string.
DEFAULT_NOTICE = gettext_lazy(
    "{{ salutation }}, your car is affected by the recall “{{ recall_title }}”. "
    "{{ dealer_name }} will repair it free of charge; we will call you to book a time."
)


# --- the campaign ------------------------------------------------------------------------------


def _brand_id_of(actor: User) -> int:
    dealer = actor.dealer
    brand_id = actor.brand_id or (dealer.brand_id if dealer is not None else None)
    if not brand_id:
        raise ValidationError({"brand": _("Your account belongs to no brand.")})
    return brand_id


def _require_manager(actor: User | None) -> None:
    if actor is not None and not actor.has_perm(Perm.MANAGE_RECALLS):
        raise PermissionDenied(_("Only the brand's recall managers may do this."))


def _clean_campaign(
    values: dict[str, Any], *, brand_id: int, exclude_id: int | None = None
) -> dict[str, Any]:
    unknown = set(values) - set(CAMPAIGN_FIELDS) - {"car_models"}
    if unknown:
        raise TypeError(f"unknown recall campaign fields: {sorted(unknown)}")
    errors: dict[str, list[str]] = {}
    cleaned = dict(values)
    for name in ("code", "title", "description", "remedy", "vin_from", "vin_to"):
        if name in cleaned:
            cleaned[name] = str(cleaned[name] or "").strip()
    if "code" in cleaned:
        if not cleaned["code"]:
            errors.setdefault("code", []).append(_("Give the recall its code."))
        elif (
            RecallCampaign.objects.filter(brand_id=brand_id, code=cleaned["code"])
            .exclude(pk=exclude_id or 0)
            .exists()
        ):
            errors.setdefault("code", []).append(
                _("The brand already has a recall with the code %(code)s.")
                % {"code": cleaned["code"]}
            )
    if "title" in cleaned and not cleaned["title"]:
        errors.setdefault("title", []).append(_("Say what the recall is about."))
    year_from, year_to = cleaned.get("model_year_from"), cleaned.get("model_year_to")
    for name, year in (("model_year_from", year_from), ("model_year_to", year_to)):
        if year is not None and not 1980 <= int(year) <= 2100:
            errors.setdefault(name, []).append(_("Give a model year between 1980 and 2100."))
    if year_from and year_to and int(year_from) > int(year_to):
        errors.setdefault("model_year_to", []).append(
            _("The last model year comes before the first.")
        )
    vin_from = normalise_vin(cleaned.get("vin_from", ""))
    vin_to = normalise_vin(cleaned.get("vin_to", ""))
    if "vin_from" in cleaned or "vin_to" in cleaned:
        cleaned["vin_from"], cleaned["vin_to"] = vin_from, vin_to
        if bool(vin_from) != bool(vin_to):
            key = "vin_to" if vin_from else "vin_from"
            errors.setdefault(key, []).append(
                _("A VIN range needs both its first and its last VIN.")
            )
        for name, vin in (("vin_from", vin_from), ("vin_to", vin_to)):
            if vin and len(vin) != VIN_LENGTH:
                errors.setdefault(name, []).append(
                    _("A VIN has 17 characters; this one has %(count)d.") % {"count": len(vin)}
                )
        if vin_from and vin_to and len(vin_from) == len(vin_to) == VIN_LENGTH and vin_from > vin_to:
            errors.setdefault("vin_to", []).append(
                _("The last VIN of the range comes before the first.")
            )
    models_given = cleaned.get("car_models")
    if models_given is not None:
        ids = sorted({m.pk if isinstance(m, CarModel) else int(m) for m in models_given})
        found = set(
            CarModel.objects.filter(pk__in=ids, brand_id=brand_id).values_list("pk", flat=True)
        )
        if set(ids) - found:
            errors.setdefault("car_models", []).append(_("Choose models of the brand."))
        cleaned["car_models"] = ids
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def recall_campaign_create(*, actor: User, **fields: Any) -> RecallCampaign:
    """A draft campaign of the actor's brand. Raises ValidationError naming each bad field."""
    _require_manager(actor)
    brand_id = _brand_id_of(actor)
    fields.setdefault("code", "")
    fields.setdefault("title", "")
    cleaned = _clean_campaign(fields, brand_id=brand_id)
    car_models = cleaned.pop("car_models", None) or []
    campaign = RecallCampaign.objects.create(brand_id=brand_id, created_by=actor, **cleaned)
    if car_models:
        campaign.car_models.set(car_models)
    return campaign


@transaction.atomic
def recall_campaign_update(
    *, actor: User, campaign: RecallCampaign, **fields: Any
) -> RecallCampaign:
    """Change a campaign's criteria and texts; only while it is a draft."""
    _require_manager(actor)
    campaign = RecallCampaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != RecallCampaignStatus.DRAFT:
        raise ValidationError(
            {"status": _("The recall has been launched: its criteria can no longer change.")}
        )
    cleaned = _clean_campaign(fields, brand_id=campaign.brand_id, exclude_id=campaign.pk)
    car_models = cleaned.pop("car_models", None)
    for name, value in cleaned.items():
        setattr(campaign, name, value)
    if cleaned:
        campaign.save(update_fields=list(cleaned))
    if car_models is not None:
        campaign.car_models.set(car_models)
    return campaign


# --- the uploaded VIN list ---------------------------------------------------------------------


@dataclass(frozen=True)
class VinRowProblem:
    row: int
    value: str
    reason: str


@dataclass
class VinListReport:
    """Every row of the file is in exactly one of these."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # (row, VIN)
    rejected: list[VinRowProblem] = field(default_factory=list)
    blank: int = 0

    @property
    def rows(self) -> int:
        return len(self.accepted) + len(self.duplicates) + len(self.rejected) + self.blank


HEADER_WORDS = frozenset({"VIN", "车架号", "车辆识别代号", "VINCODE", "VIN码"})


def _vin_cells(file: IO[bytes], filename: str) -> list[str]:
    """The first cell of every row: XLSX (first sheet, python-calamine), CSV or plain text."""
    rows = read_cells(
        file, filename, undecodable=_("Save the file as UTF-8, please."), lines_unless_csv=True
    )
    return [str(row[0]).strip() if row and row[0] is not None else "" for row in rows]


@transaction.atomic
def recall_vins_upload(
    *, actor: User, campaign: RecallCampaign, file: IO[bytes], filename: str
) -> VinListReport:
    """Add an uploaded VIN list (one VIN per row) to a draft campaign.

    Every row ends up accepted, a duplicate (of an earlier row or of the list already held) or
    rejected with its row number and the reason (length, letters, check digit); a first row
    that is a header ("VIN", "车架号") and empty rows are not VINs and are counted as blank.
    """
    _require_manager(actor)
    if campaign.status != RecallCampaignStatus.DRAFT:
        raise ValidationError(
            {"file": _("The recall has been launched: its VIN list can no longer change.")}
        )
    cells = _vin_cells(file, filename)
    if len(cells) > MAX_VIN_LIST_ROWS:
        raise ValidationError(
            {"file": _("Upload at most %(count)d rows at a time.") % {"count": MAX_VIN_LIST_ROWS}}
        )
    report = VinListReport()
    held = set(RecallCampaignVin.objects.filter(campaign=campaign).values_list("vin", flat=True))
    seen: set[str] = set()
    for number, cell in enumerate(cells, start=1):
        if not cell:
            report.blank += 1
            continue
        if number == 1 and normalise_vin(cell) in HEADER_WORDS:
            report.blank += 1
            continue
        try:
            vin = validate_vin(cell)
        except ValidationError as exc:
            report.rejected.append(VinRowProblem(number, cell, " ".join(exc.messages)))
            continue
        if vin in seen or vin in held:
            report.duplicates.append((number, vin))
            continue
        seen.add(vin)
        report.accepted.append(vin)
    RecallCampaignVin.objects.bulk_create(
        [RecallCampaignVin(campaign=campaign, vin=vin) for vin in report.accepted],
        batch_size=5000,
        ignore_conflicts=True,
    )
    return report


# --- which cars ---------------------------------------------------------------------------------


def _vin(expression: str = "vin") -> Any:
    """VINs compare byte by byte (a range is a range of strings), whatever the database's
    collation: "C" on PostgreSQL; SQLite's default is already binary."""
    if connection.vendor == "postgresql":
        return Collate(F(expression), "C")
    return F(expression)


def has_criteria(campaign: RecallCampaign) -> bool:
    return bool(
        campaign.vin_from
        or campaign.model_year_from
        or campaign.model_year_to
        or campaign.car_models.exists()
        or RecallCampaignVin.objects.filter(campaign=campaign).exists()
    )


def matching_vehicles(campaign: RecallCampaign):  # noqa: ANN201
    """Every vehicle record of the brand's dealers the campaign's criteria select (a car known
    to two dealers appears twice). Reads across dealers: call in a network scope."""
    model_ids = list(campaign.car_models.values_list("pk", flat=True))
    criteria = Q()
    given = False
    qs = Vehicle.objects.unscoped().filter(dealer__brand_id=campaign.brand_id)
    if model_ids:
        criteria &= Q(car_model_id__in=model_ids)
        given = True
    if campaign.model_year_from or campaign.model_year_to:
        qs = qs.annotate(recall_year=Coalesce("car_model__model_year", "vin_model_year"))
        if campaign.model_year_from:
            criteria &= Q(recall_year__gte=campaign.model_year_from)
        if campaign.model_year_to:
            criteria &= Q(recall_year__lte=campaign.model_year_to)
        given = True
    if campaign.vin_from and campaign.vin_to:
        qs = qs.annotate(recall_vin=_vin())
        criteria &= Q(recall_vin__gte=campaign.vin_from, recall_vin__lte=campaign.vin_to)
        given = True
    listed = Q(
        Exists(RecallCampaignVin.objects.filter(campaign_id=campaign.pk, vin=OuterRef("vin")))
    )
    if given:
        return qs.filter(criteria | listed)
    return qs.filter(listed)


def _not_yet_in(campaign: RecallCampaign):  # noqa: ANN202
    return ~Exists(
        RecallVehicle.objects.unscoped().filter(campaign_id=campaign.pk, vin=OuterRef("vin"))
    )


@dataclass(frozen=True)
class PreviewRow:
    dealer_id: int
    dealer_code: str
    dealer_name: str
    region: str
    is_active: bool
    cars: int


def check_launchable(campaign: RecallCampaign) -> None:
    """Refuse a closed campaign, or one that does not say which cars (or says it wrongly)."""
    if campaign.status == RecallCampaignStatus.CLOSED:
        raise ValidationError({"status": _("The recall is closed.")})
    if not has_criteria(campaign):
        raise ValidationError(
            {
                "car_models": _(
                    "Say which cars are affected: models, model years, a VIN range or a VIN list."
                )
            }
        )
    if (campaign.vin_from or campaign.vin_to) and not (
        len(campaign.vin_from) == len(campaign.vin_to) == VIN_LENGTH
    ):
        raise ValidationError({"vin_from": _("A VIN range needs two VINs of 17 characters.")})


def recall_preview(campaign: RecallCampaign) -> list[PreviewRow]:
    """How many cars the campaign matches, per dealer that knows them (one grouped query).
    A closed dealer's cars will go to the active dealer nearest their owners."""
    rows = (
        matching_vehicles(campaign)
        .filter(_not_yet_in(campaign))
        .order_by()
        .values(
            "dealer_id", "dealer__code", "dealer__name", "dealer__region__name", "dealer__is_active"
        )
        .annotate(cars=models.Count("vin", distinct=True))
        .order_by("dealer__code")
    )
    return [
        PreviewRow(
            r["dealer_id"],
            r["dealer__code"],
            r["dealer__name"],
            r["dealer__region__name"],
            r["dealer__is_active"],
            r["cars"],
        )
        for r in rows
    ]


# --- launching ----------------------------------------------------------------------------------


@dataclass
class LaunchReport:
    own_dealer: int = 0  # cars at the dealer that knows them
    nearest_dealer: int = 0  # cars of closed dealers, given to the nearest active dealer
    copied_customers: int = 0
    copied_vehicles: int = 0
    no_dealer: int = 0  # cars of closed dealers with no active dealer near their owner
    messages: int = 0  # owners a message was queued for
    tasks: int = 0
    notified: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _require_network_scope() -> None:
    scope = get_current_scope()
    if scope is None or not scope.is_network:
        raise PermissionDenied(
            _("Launching a recall reads every dealer: a network role is needed.")
        )


def _insert_own_dealer_cars(campaign: RecallCampaign, now: datetime.datetime) -> int:
    """One INSERT … SELECT: a RecallVehicle for each matching car of an active dealer (one per
    VIN, at the dealer whose record is newest), not yet in the campaign."""
    ranked = (
        matching_vehicles(campaign)
        .filter(dealer__is_active=True)
        .filter(_not_yet_in(campaign))
        .annotate(
            vin_rank=Window(
                RowNumber(),
                partition_by=[F("vin")],
                order_by=[F("created_at").desc(), F("id").desc()],
            )
        )
        .filter(vin_rank=1)
        .values("dealer_id", "id", "owner_id", "vin")
    )
    select_sql, params = ranked.query.sql_with_params()
    table = RecallVehicle._meta.db_table
    qn = connection.ops.quote_name
    columns = ", ".join(
        qn(c)
        for c in (
            "dealer_id",
            "campaign_id",
            "vehicle_id",
            "customer_id",
            "vin",
            "assigned_how",
            "status",
            "created_at",
        )
    )
    # The select's columns come in the order of values(); their names differ by engine, so a
    # CTE names them. ON CONFLICT: a launch running twice at once inserts each car once.
    sql = (
        f"WITH m (d, v, o, n) AS ({select_sql}) "
        f"INSERT INTO {qn(table)} ({columns}) "
        f"SELECT m.d, %s, m.v, m.o, m.n, %s, %s, %s FROM m WHERE 1 = 1 "
        f"ON CONFLICT DO NOTHING"
    )
    stamp = connection.ops.adapt_datetimefield_value(now)  # as the ORM stores it, per engine
    args = [*params, campaign.pk, RecallAssignment.OWN_DEALER, RecallStatus.OPEN, stamp]
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
    # The driver's rowcount is unreliable for INSERT … SELECT under a CTE: count what this
    # launch wrote (its rows carry its timestamp).
    return (
        RecallVehicle.objects.unscoped()
        .filter(campaign_id=campaign.pk, created_at=now, assigned_how=RecallAssignment.OWN_DEALER)
        .count()
    )


@dataclass
class _Orphan:
    vehicle_id: int
    vin: str
    owner_id: int | None
    old_dealer_id: int
    city: str
    province: str
    region_id: int


def _nearest_dealer(
    orphan: _Orphan,
    by_city: dict[str, int],
    by_province: dict[str, int],
    by_region: dict[int, int],
) -> int | None:
    return (
        by_city.get(orphan.city)
        or by_province.get(orphan.province)
        or by_region.get(orphan.region_id)
    )


def _assign_orphans(campaign: RecallCampaign, report: LaunchReport, now: datetime.datetime) -> None:
    """Cars known only to closed dealers go to the active dealer nearest their owner, as copies."""
    active_vin = Vehicle.objects.unscoped().filter(
        dealer__brand_id=campaign.brand_id, dealer__is_active=True, vin=OuterRef("vin")
    )
    rows = (
        matching_vehicles(campaign)
        .filter(dealer__is_active=False)
        .filter(_not_yet_in(campaign))
        .filter(~Exists(active_vin))
        .order_by("vin", "-created_at", "-id")
        .values_list(
            "id",
            "vin",
            "owner_id",
            "dealer_id",
            "owner__city",
            "owner__province",
            "dealer__city",
            "dealer__province",
            "dealer__region_id",
        )
    )
    orphans: list[_Orphan] = []
    seen: set[str] = set()
    for vid, vin, owner_id, dealer_id, o_city, o_prov, d_city, d_prov, region_id in rows:
        if vin in seen:
            continue  # known to two closed dealers: the newest record
        seen.add(vin)
        # The owner's address; without one, where the closed dealer was.
        city = o_city or ("" if o_prov else d_city)
        orphans.append(_Orphan(vid, vin, owner_id, dealer_id, city, o_prov or d_prov, region_id))
    if not orphans:
        return
    by_city: dict[str, int] = {}
    by_province: dict[str, int] = {}
    by_region: dict[int, int] = {}
    for dealer_id, city, province, region_id in (
        Dealer.objects.filter(brand_id=campaign.brand_id, is_active=True)
        .order_by("id")
        .values_list("id", "city", "province", "region_id")
    ):
        by_city.setdefault(city, dealer_id)
        by_province.setdefault(province, dealer_id)
        by_region.setdefault(region_id, dealer_id)
    by_target: dict[int, list[_Orphan]] = defaultdict(list)
    for orphan in orphans:
        target = _nearest_dealer(orphan, by_city, by_province, by_region)
        if target is None:
            report.no_dealer += 1
        else:
            by_target[target].append(orphan)
    for target, group in by_target.items():
        _copy_to_dealer(campaign, target, group, report, now)


def _copy_to_dealer(
    campaign: RecallCampaign,
    dealer_id: int,
    orphans: Sequence[_Orphan],
    report: LaunchReport,
    now: datetime.datetime,
) -> None:
    """Copy the owners (name, phones) and cars to the responsible dealer, set-based, and add the
    RecallVehicle rows there."""
    from dealercrm.search.services import search_keys_refresh

    owner_ids = sorted({o.owner_id for o in orphans if o.owner_id})
    owners = {
        c.pk: c for c in Customer.objects.unscoped().filter(pk__in=owner_ids, is_deleted=False)
    }
    phones: dict[int, list[tuple[str, str, bool]]] = defaultdict(list)
    for customer_id, number, label, primary in (
        CustomerPhone.objects.unscoped()
        .filter(customer_id__in=list(owners), wrong_number_reported_at__isnull=True)
        .order_by("customer_id", "-is_primary", "id")
        .values_list("customer_id", "number", "label", "is_primary")
    ):
        phones[customer_id].append((number, label, primary))
    vehicles = {
        v.pk: v for v in Vehicle.objects.unscoped().filter(pk__in=[o.vehicle_id for o in orphans])
    }
    with translation.override("zh-hans"):
        note = _(
            "Copied for the recall %(code)s %(title)s: the dealer this owner bought from or "
            "serviced with has closed, and this dealer is the nearest to their address."
        ) % {"code": campaign.code, "title": campaign.title}
    new_customers = [
        Customer(
            dealer_id=dealer_id,
            kind=c.kind,
            name=c.name,
            latin_name=c.latin_name,
            contact_person=c.contact_person,
            gender=c.gender,
            province=c.province,
            city=c.city,
            district=c.district,
            street=c.street,
            source_channel=SourceChannel.OTHER,
            lifecycle_stage=LifecycleStage.OWNER,
            created_at=now,
            updated_at=now,
        )
        for c in owners.values()
    ]
    Customer.objects.bulk_create(new_customers)
    copy_of = {old_id: new.pk for old_id, new in zip(owners, new_customers, strict=True)}
    CustomerPhone.objects.bulk_create(
        [
            CustomerPhone(
                dealer_id=dealer_id,
                customer_id=copy_of[old_id],
                number=number,
                label=label,
                is_primary=primary,
            )
            for old_id, numbers in phones.items()
            for number, label, primary in numbers
        ],
        ignore_conflicts=True,
    )
    Interaction.objects.bulk_create(
        [
            Interaction(
                dealer_id=dealer_id,
                customer_id=new_id,
                kind=Interaction.Kind.NOTE,
                occurred_at=now,
                subject=_("Recall"),
                body=note,
            )
            for new_id in copy_of.values()
        ]
    )
    new_vehicles = []
    for orphan in orphans:
        old = vehicles[orphan.vehicle_id]
        new_vehicles.append(
            Vehicle(
                dealer_id=dealer_id,
                vin=old.vin,
                car_model_id=old.car_model_id,
                manufacturer=old.manufacturer,
                vin_model_year=old.vin_model_year,
                plate=old.plate,
                colour=old.colour,
                purchase_date=old.purchase_date,
                delivery_date=old.delivery_date,
                warranty_end=old.warranty_end,
                insurance_expiry=old.insurance_expiry,
                current_mileage_km=old.current_mileage_km,
                owner_id=copy_of.get(orphan.owner_id) if orphan.owner_id else None,
                created_at=now,
            )
        )
    Vehicle.objects.bulk_create(new_vehicles)
    today = timezone.localdate(now)
    VehicleOwnership.objects.bulk_create(
        [
            VehicleOwnership(
                dealer_id=dealer_id, vehicle_id=v.pk, customer_id=v.owner_id, started_on=today
            )
            for v in new_vehicles
            if v.owner_id
        ]
    )
    RecallVehicle.objects.bulk_create(
        [
            RecallVehicle(
                dealer_id=dealer_id,
                campaign_id=campaign.pk,
                vehicle_id=v.pk,
                customer_id=v.owner_id,
                vin=v.vin,
                assigned_how=RecallAssignment.NEAREST_DEALER,
                status=RecallStatus.OPEN,
                created_at=now,
            )
            for v in new_vehicles
        ]
    )
    search_keys_refresh(dealer_id=dealer_id, customer_ids=list(copy_of.values()))
    report.nearest_dealer += len(new_vehicles)
    report.copied_vehicles += len(new_vehicles)
    report.copied_customers += len(new_customers)


def _recall_template(dealer_id: int):  # noqa: ANN202
    """The dealer's own active recall template (SMS, Chinese first), or None."""
    from dealercrm.messaging.models import Channel, Language, MessageTemplate, Purpose

    templates = list(
        MessageTemplate.objects.filter(
            dealer_id=dealer_id, purpose=Purpose.RECALL, channel=Channel.SMS, is_active=True
        ).order_by("id")
    )
    for template in templates:
        if template.language == Language.ZH_HANS:
            return template
    return templates[0] if templates else None


def _built_in_template(dealer_id: int):  # noqa: ANN202
    """The built-in notice as an unsaved template, so the messages are queued set-based like a
    template's (messages_queue_bulk), without writing a template into the dealer's list."""
    from dealercrm.messaging.models import Channel, Language, MessageTemplate, Purpose

    with translation.override("zh-hans"):
        body = str(DEFAULT_NOTICE)
    return MessageTemplate(
        dealer_id=dealer_id,
        name="recall",
        purpose=Purpose.RECALL,
        channel=Channel.SMS,
        language=Language.ZH_HANS,
        body=body,
        is_active=True,
    )


def _care_specialists(dealer_id: int) -> list[int]:
    return list(
        User.objects.filter(dealer_id=dealer_id, role=Role.CARE_SPECIALIST, is_active=True)
        .order_by("id")
        .values_list("id", flat=True)
    )


def _notify_dealer(
    campaign: RecallCampaign, dealer_id: int, report: LaunchReport, now: datetime.datetime
) -> None:
    """Message each owner once and give each car a call task; the cars become "notified"."""
    from dealercrm.messaging.models import Message
    from dealercrm.messaging.services import messages_queue_bulk
    from dealercrm.worklist.models import Task, TaskKind

    rows = list(
        RecallVehicle.objects.unscoped()
        .filter(dealer_id=dealer_id, campaign_id=campaign.pk, status=RecallStatus.OPEN)
        .filter(customer__isnull=False, customer__is_deleted=False)
        .order_by("id")
        .values_list("id", "customer_id", "vin", "vehicle__plate")
    )
    if not rows:
        return
    has_task = set(
        Task.objects.unscoped()
        .filter(
            dealer_id=dealer_id,
            source_kind=TASK_SOURCE_KIND,
            source_id__in=[str(r[0]) for r in rows],
        )
        .values_list("source_id", flat=True)
    )
    specialists = _care_specialists(dealer_id)
    with translation.override("zh-hans"):
        script = _(
            "Tell the owner about the recall: %(title)s. What the workshop does: %(remedy)s "
            "It is free of charge. Book a time for the repair."
        ) % {"title": campaign.title, "remedy": campaign.remedy or "—"}
        tasks = []
        for n, (rv_id, customer_id, vin, plate) in enumerate(
            r for r in rows if str(r[0]) not in has_task
        ):
            tasks.append(
                Task(
                    dealer_id=dealer_id,
                    customer_id=customer_id,
                    assignee_id=specialists[n % len(specialists)] if specialists else None,
                    kind=TaskKind.CALL,
                    title=_("Recall %(code)s: book the repair of %(car)s")
                    % {"code": campaign.code, "car": plate or vin},
                    body=script,
                    due_at=now,
                    source_kind=TASK_SOURCE_KIND,
                    source_id=str(rv_id),
                    created_at=now,
                )
            )
    Task.objects.bulk_create(tasks, batch_size=2000)
    report.tasks += len(tasks)

    customer_ids = list(dict.fromkeys(r[1] for r in rows))
    template = _recall_template(dealer_id) or _built_in_template(dealer_id)
    queue = messages_queue_bulk(
        dealer_id=dealer_id,
        customer_ids=customer_ids,
        template=template,
        source_kind=Message.SourceKind.SERVICE,
        source_id=f"recall:{campaign.pk}",
        extra_by_customer={cid: {"recall_title": campaign.title} for cid in customer_ids},
        now=now,
    )
    not_reached = set(queue.no_address) | set(queue.not_found)
    not_reached |= {m.customer_id for m in queue.missing_variable}
    if queue.undeliverable:
        not_reached |= set(
            Message.objects.unscoped()
            .filter(dealer_id=dealer_id, pk__in=queue.undeliverable)
            .values_list("customer_id", flat=True)
        )
    report.messages += len(queue.queued)
    notified = [r[0] for r in rows if r[1] not in not_reached]
    if notified:
        report.notified += (
            RecallVehicle.objects.unscoped()
            .filter(pk__in=notified)
            .update(status=RecallStatus.NOTIFIED, notified_at=now)
        )


def _set_progress(campaign: RecallCampaign, **values: Any) -> None:
    RecallCampaign.objects.filter(pk=campaign.pk).update(**values)
    for name, value in values.items():
        setattr(campaign, name, value)


def recall_launch(
    *,
    actor: User | None,
    campaign: RecallCampaign,
    progress: Callable[[int, int], None] | None = None,
) -> LaunchReport:
    """Find the affected cars across the brand's dealers, assign, copy, notify (see the module).

    Run in a network scope (an OEM user's request, or the job's). Safe to run again: nothing
    is added or sent twice. The campaign becomes active; `launch_*` record the progress.
    """
    _require_manager(actor)
    _require_network_scope()
    with transaction.atomic():
        campaign = RecallCampaign.objects.select_for_update().get(pk=campaign.pk)
        check_launchable(campaign)
        now = timezone.now()
        report = LaunchReport()
        report.own_dealer = _insert_own_dealer_cars(campaign, now)
        _assign_orphans(campaign, report, now)
        campaign.status = RecallCampaignStatus.ACTIVE
        campaign.launched_at = campaign.launched_at or now
        campaign.save(update_fields=["status", "launched_at"])
    dealer_ids = list(
        RecallVehicle.objects.unscoped()
        .filter(campaign_id=campaign.pk, status=RecallStatus.OPEN)
        .order_by("dealer_id")
        .values_list("dealer_id", flat=True)
        .distinct()
    )
    _set_progress(
        campaign,
        launch_state=RecallLaunchState.RUNNING,
        launch_done=0,
        launch_total=len(dealer_ids),
    )
    try:
        for done, dealer_id in enumerate(dealer_ids, start=1):
            # One transaction per dealer: the progress shows, and a crash resumes here.
            with transaction.atomic():
                _notify_dealer(campaign, dealer_id, report, now)
            _set_progress(campaign, launch_done=done)
            if progress is not None:
                progress(done, len(dealer_ids))
    except Exception:
        _set_progress(campaign, launch_state=RecallLaunchState.FAILED)
        raise
    _set_progress(campaign, launch_state=RecallLaunchState.DONE, launch_report=report.as_dict())
    return report


def recall_launch_start(*, actor: User, campaign: RecallCampaign) -> LaunchReport | None:
    """Launch now when the campaign is small (the report), else queue the job (None)."""
    _require_manager(actor)
    _require_network_scope()
    if campaign.launch_state in (RecallLaunchState.QUEUED, RecallLaunchState.RUNNING):
        raise ValidationError({"status": _("The recall is being launched already.")})
    check_launchable(campaign)
    cars = sum(row.cars for row in recall_preview(campaign))
    if cars <= INLINE_LAUNCH_LIMIT:
        return recall_launch(actor=actor, campaign=campaign)
    from ..recall_jobs import recall_launch_job

    _set_progress(campaign, launch_state=RecallLaunchState.QUEUED, launch_done=0, launch_total=0)
    transaction.on_commit(lambda: recall_launch_job(campaign.pk, actor.pk))
    return None


@transaction.atomic
def recall_campaign_close(*, actor: User, campaign: RecallCampaign) -> RecallCampaign:
    _require_manager(actor)
    if campaign.status != RecallCampaignStatus.ACTIVE:
        raise ValidationError({"status": _("Only a launched recall can be closed.")})
    campaign.status = RecallCampaignStatus.CLOSED
    campaign.save(update_fields=["status"])
    return campaign


# --- completion -----------------------------------------------------------------------------------


def recall_complete_from_repair_order(*, repair_order_id: int, dealer_id: int) -> int:
    """A closed recall repair order completes the car's recall: the campaign it names, else the
    oldest open recall of that car at the dealer. Returns the number of cars marked (0 or 1)."""
    order = (
        RepairOrder.objects.filter(
            dealer_id=dealer_id,
            pk=repair_order_id,
            status=RepairOrderStatus.CLOSED,
            kind=RepairKind.RECALL,
        )
        .only("pk", "vehicle_id", "recall_campaign_id", "closed_at")
        .first()
    )
    if order is None:
        return 0
    candidates = RecallVehicle.objects.filter(
        dealer_id=dealer_id, vehicle_id=order.vehicle_id
    ).exclude(status=RecallStatus.COMPLETED)
    if order.recall_campaign_id:
        candidates = candidates.filter(campaign_id=order.recall_campaign_id)
    target = candidates.order_by("created_at", "id").first()
    if target is None:
        return 0
    return (
        RecallVehicle.objects.filter(pk=target.pk, dealer_id=dealer_id)
        .exclude(status=RecallStatus.COMPLETED)
        .update(
            status=RecallStatus.COMPLETED,
            completed_at=order.closed_at or timezone.now(),
            repair_order_id=order.pk,
        )
    )


def recall_vehicle_mark_booked(*, recall_vehicle_ids: Iterable[int]) -> int:
    """An appointment was booked for these cars (their call task's outcome)."""
    return (
        RecallVehicle.objects.filter(pk__in=list(recall_vehicle_ids))
        .filter(status__in=[RecallStatus.OPEN, RecallStatus.NOTIFIED])
        .update(status=RecallStatus.BOOKED)
    )
