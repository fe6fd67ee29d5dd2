"""Writes of the vehicles app: vehicles, owners over time, mileage readings, the model catalogue.

Every write is one transaction, audit-logged, and keeps the search keys of the owners in step
when the VIN, plate or owner changes. Bad input raises a ValidationError keyed by field name,
before anything is written.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.audit import audit_record, field_changes
from dealercrm.core.models import AuditEvent, Brand, User
from dealercrm.core.permissions import Perm
from dealercrm.customers.models import Customer
from dealercrm.search.services import search_keys_refresh

from .models import BodyType, CarModel, MileageReading, Powertrain, Vehicle, VehicleOwnership
from .validators import (
    decode_vin,
    normalise_plate,
    normalise_vin,
    validate_plate,
    validate_vin,
)


class VehicleEditConflict(ValidationError):
    """Someone else saved the vehicle after the caller read it; nothing was written."""


# Fields vehicle_update may change (the owner changes only through vehicle_transfer).
VEHICLE_FIELDS = (
    "car_model",
    "vin",
    "plate",
    "colour",
    "purchase_date",
    "delivery_date",
    "warranty_end",
    "insurance_expiry",
)


def _today() -> date:
    return timezone.localdate()


def _check_vehicle_fields(
    *,
    dealer_id: int,
    values: dict[str, Any],
    exclude_vehicle_id: int | None = None,
) -> dict[str, Any]:
    """Normalise and check vehicle fields; raise one ValidationError with every field's error."""
    errors: dict[str, list[str]] = {}
    cleaned = dict(values)
    if "vin" in values:
        try:
            cleaned["vin"] = validate_vin(values["vin"] or "")
        except ValidationError as exc:
            errors["vin"] = exc.messages
        else:
            clash = Vehicle.objects.filter(dealer_id=dealer_id, vin=cleaned["vin"])
            if exclude_vehicle_id:
                clash = clash.exclude(pk=exclude_vehicle_id)
            if clash.exists():
                errors["vin"] = [_("This dealer already has a vehicle with this VIN.")]
    if "plate" in values:
        if values["plate"]:
            try:
                cleaned["plate"] = validate_plate(values["plate"])
            except ValidationError as exc:
                errors["plate"] = exc.messages
            else:
                clash = Vehicle.objects.filter(dealer_id=dealer_id, plate=cleaned["plate"])
                if exclude_vehicle_id:
                    clash = clash.exclude(pk=exclude_vehicle_id)
                if clash.exists():
                    errors["plate"] = [
                        _("Another vehicle of this dealer already has the plate %(plate)s.")
                        % {"plate": cleaned["plate"]}
                    ]
        else:
            cleaned["plate"] = ""
    if "colour" in values:
        cleaned["colour"] = (values["colour"] or "").strip()
    purchase = cleaned.get("purchase_date")
    delivery = cleaned.get("delivery_date")
    if purchase and purchase > _today():
        errors["purchase_date"] = [_("The purchase date cannot be in the future.")]
    if purchase and delivery and delivery < purchase:
        errors["delivery_date"] = [_("The delivery date cannot be before the purchase date.")]
    warranty = cleaned.get("warranty_end")
    start = purchase or delivery
    if warranty and start and warranty < start:
        errors["warranty_end"] = [_("The warranty cannot end before the car was bought.")]
    car_model = cleaned.get("car_model")
    if car_model is not None and not isinstance(car_model, CarModel):
        errors["car_model"] = [_("Choose a model from the catalogue.")]
    if errors:
        raise ValidationError(errors)
    return cleaned


def _refresh_search(dealer_id: int, *customer_ids: int | None) -> None:
    ids = [cid for cid in customer_ids if cid]
    if ids:
        search_keys_refresh(dealer_id=dealer_id, customer_ids=ids)


@transaction.atomic
def vehicle_create(
    *,
    actor: User | None,
    owner: Customer,
    vin: str,
    car_model: CarModel | None = None,
    plate: str = "",
    colour: str = "",
    purchase_date: date | None = None,
    delivery_date: date | None = None,
    warranty_end: date | None = None,
    insurance_expiry: date | None = None,
    mileage_km: int | None = None,
    request: HttpRequest | None = None,
) -> Vehicle:
    """A vehicle of the owner's dealer, with its first ownership (from the purchase or delivery
    date, else today) and, when given, a first mileage reading. The VIN is decoded."""
    if owner.is_deleted:
        raise ValidationError({"owner": [_("This customer has been deleted.")]})
    dealer_id = owner.dealer_id
    cleaned = _check_vehicle_fields(
        dealer_id=dealer_id,
        values={
            "vin": vin,
            "plate": plate,
            "colour": colour,
            "car_model": car_model,
            "purchase_date": purchase_date,
            "delivery_date": delivery_date,
            "warranty_end": warranty_end,
            "insurance_expiry": insurance_expiry,
        },
    )
    if mileage_km is not None and mileage_km < 0:
        raise ValidationError({"mileage_km": [_("Mileage cannot be negative.")]})
    decoded = decode_vin(cleaned["vin"])
    vehicle = Vehicle(
        dealer_id=dealer_id,
        owner=owner,
        manufacturer=decoded.manufacturer,
        vin_model_year=decoded.model_year,
        **cleaned,
    )
    try:
        with transaction.atomic():
            vehicle.save()
    except IntegrityError as exc:
        # Another request created the same VIN between our check and the insert.
        raise ValidationError(
            {"vin": [_("This dealer already has a vehicle with this VIN.")]}
        ) from exc
    VehicleOwnership.objects.create(
        dealer_id=dealer_id,
        vehicle=vehicle,
        customer=owner,
        started_on=purchase_date or delivery_date or _today(),
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=vehicle,
        changes={
            "vin": vehicle.vin,
            "plate": vehicle.plate,
            "owner": owner.pk,
            "car_model": str(car_model) if car_model else None,
        },
        request=request,
    )
    if mileage_km is not None:
        mileage_reading_add(
            actor=actor,
            vehicle=vehicle,
            km=mileage_km,
            read_on=min(delivery_date or _today(), _today()),
            source=MileageReading.Source.DELIVERY
            if delivery_date
            else MileageReading.Source.CUSTOMER,
            request=request,
        )
    _refresh_search(dealer_id, owner.pk)
    return vehicle


def _conflict(vehicle_id: int) -> VehicleEditConflict:
    last = (
        AuditEvent.objects.filter(target_type=Vehicle._meta.label_lower, target_id=str(vehicle_id))
        .select_related("actor")
        .order_by("-at", "-id")
        .first()
    )
    if last is not None and last.actor is not None:
        message = _(
            "%(who)s saved this vehicle at %(when)s, after you opened it. Nothing was saved: "
            "reload the page to see their changes, then make yours again."
        ) % {"who": last.actor, "when": timezone.localtime(last.at).strftime("%Y-%m-%d %H:%M")}
    else:
        message = _(
            "Someone else saved this vehicle after you opened it. Nothing was saved: reload the "
            "page to see their changes, then make yours again."
        )
    return VehicleEditConflict(message, code="conflict")


@transaction.atomic
def vehicle_update(
    *,
    actor: User | None,
    vehicle: Vehicle,
    version: int,
    request: HttpRequest | None = None,
    **fields: Any,
) -> Vehicle:
    """Change some of VEHICLE_FIELDS. `version` is the one the caller read: when someone saved
    in between, VehicleEditConflict is raised and nothing is written."""
    unknown = set(fields) - set(VEHICLE_FIELDS)
    if unknown:
        raise TypeError(f"vehicle_update() cannot change {', '.join(sorted(unknown))}")
    current = Vehicle.objects.get(pk=vehicle.pk)
    if current.version != version:
        raise _conflict(vehicle.pk)
    before = {name: getattr(current, name) for name in VEHICLE_FIELDS}
    merged = before | fields
    # A VIN or plate kept as it was is not checked again (rows imported before the rules).
    if normalise_vin(merged["vin"] or "") == current.vin:
        del merged["vin"]
    if normalise_plate(merged["plate"] or "") == current.plate:
        del merged["plate"]
    cleaned = _check_vehicle_fields(
        dealer_id=current.dealer_id, values=merged, exclude_vehicle_id=current.pk
    )
    changed = {name: value for name, value in cleaned.items() if before[name] != value}
    if not changed:
        return current
    if "vin" in changed:
        decoded = decode_vin(changed["vin"])
        changed["manufacturer"] = decoded.manufacturer
        changed["vin_model_year"] = decoded.model_year
    # One UPDATE … WHERE version = n: of two concurrent saves exactly one wins.
    updated = Vehicle.objects.filter(pk=current.pk, version=version).update(
        **changed, version=F("version") + 1
    )
    if not updated:
        raise _conflict(vehicle.pk)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=current,
        changes=field_changes(
            {k: str(v) if isinstance(v, CarModel) else v for k, v in before.items()},
            {k: str(v) if isinstance(v, CarModel) else v for k, v in changed.items()},
        ),
        request=request,
    )
    if {"vin", "plate"} & changed.keys():
        _refresh_search(current.dealer_id, current.owner_id)
    current.refresh_from_db()
    return current


@transaction.atomic
def vehicle_transfer(
    *,
    actor: User | None,
    vehicle: Vehicle,
    new_owner: Customer,
    on: date | None = None,
    version: int | None = None,
    request: HttpRequest | None = None,
) -> Vehicle:
    """The vehicle changes hands on `on` (default today): the current ownership ends, a new one
    starts, Vehicle.owner follows. Both owners' search keys are rebuilt."""
    on = on or _today()
    current = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    if version is not None and current.version != version:
        raise _conflict(vehicle.pk)
    errors: dict[str, list[str]] = {}
    if new_owner.dealer_id != current.dealer_id or new_owner.is_deleted:
        errors["new_owner"] = [_("Choose a customer of this dealer.")]
    elif new_owner.pk == current.owner_id:
        errors["new_owner"] = [_("This customer already owns the vehicle.")]
    if on > _today():
        errors["on"] = [_("The date of the change cannot be in the future.")]
    open_ownership = VehicleOwnership.objects.filter(
        dealer_id=current.dealer_id, vehicle_id=current.pk, ended_on__isnull=True
    ).first()
    if open_ownership is not None and on < open_ownership.started_on:
        errors.setdefault("on", []).append(
            _("The current owner has had the vehicle only since %(date)s.")
            % {"date": open_ownership.started_on.isoformat()}
        )
    if errors:
        raise ValidationError(errors)
    old_owner_id = current.owner_id
    if open_ownership is not None:
        open_ownership.ended_on = on
        open_ownership.save(update_fields=["ended_on"])
    VehicleOwnership.objects.create(
        dealer_id=current.dealer_id, vehicle=current, customer=new_owner, started_on=on
    )
    Vehicle.objects.filter(pk=current.pk).update(owner=new_owner, version=F("version") + 1)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=current,
        changes={"owner": [old_owner_id, new_owner.pk], "transferred_on": on.isoformat()},
        request=request,
    )
    _refresh_search(current.dealer_id, old_owner_id, new_owner.pk)
    current.refresh_from_db()
    return current


@transaction.atomic
def mileage_reading_add(
    *,
    actor: User | None,
    vehicle: Vehicle,
    km: int,
    read_on: date,
    source: str = MileageReading.Source.CUSTOMER,
    request: HttpRequest | None = None,
) -> MileageReading:
    """Record an odometer reading. Refused when it contradicts the readings around it (an
    odometer only goes up); Vehicle.current_mileage_km follows the latest reading."""
    # Lock the vehicle so two readings added at once are checked against each other.
    current = Vehicle.objects.select_for_update().get(pk=vehicle.pk)
    errors: dict[str, list[str]] = {}
    if km is None or km < 0:
        errors["km"] = [_("Mileage cannot be negative.")]
    elif km > 2_000_000:
        errors["km"] = [_("%(km)s km is not a plausible odometer reading.") % {"km": km}]
    if read_on > _today():
        errors["read_on"] = [_("A reading cannot be dated in the future.")]
    if source not in MileageReading.Source.values:
        errors["source"] = [_("Choose where the reading comes from.")]
    if not errors:
        readings = MileageReading.objects.filter(dealer_id=current.dealer_id, vehicle_id=current.pk)
        higher_before = readings.filter(read_on__lte=read_on, km__gt=km).order_by("-km").first()
        lower_after = readings.filter(read_on__gte=read_on, km__lt=km).order_by("km").first()
        if higher_before is not None:
            errors["km"] = [
                _(
                    "The odometer showed %(earlier_km)s km on %(earlier_date)s already; a reading "
                    "on %(date)s cannot be lower. Check the number and the date."
                )
                % {
                    "earlier_km": higher_before.km,
                    "earlier_date": higher_before.read_on.isoformat(),
                    "date": read_on.isoformat(),
                }
            ]
        elif lower_after is not None:
            errors["km"] = [
                _(
                    "A later reading shows only %(later_km)s km on %(later_date)s; a reading on "
                    "%(date)s cannot be higher. Check the number and the date."
                )
                % {
                    "later_km": lower_after.km,
                    "later_date": lower_after.read_on.isoformat(),
                    "date": read_on.isoformat(),
                }
            ]
    if errors:
        raise ValidationError(errors)
    reading = MileageReading.objects.create(
        dealer_id=current.dealer_id, vehicle=current, km=km, read_on=read_on, source=source
    )
    latest = (
        MileageReading.objects.filter(dealer_id=current.dealer_id, vehicle_id=current.pk)
        .order_by("-read_on", "-km")
        .values_list("km", flat=True)
        .first()
    )
    Vehicle.objects.filter(pk=current.pk).update(current_mileage_km=latest)
    vehicle.current_mileage_km = latest
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=reading,
        target_repr=f"{current} {km} km",
        changes={"vehicle": current.pk, "km": km, "read_on": read_on.isoformat()},
        request=request,
    )
    return reading


# --- The model catalogue -----------------------------------------------------------------------

CAR_MODEL_FIELDS = (
    "brand",
    "make",
    "series",
    "name",
    "model_year",
    "body_type",
    "powertrain",
    "seats",
    "list_price",
    "is_active",
)


def _require_catalogue_permission(actor: User | None) -> None:
    # Actor None is a system path (demo generator, imports); people need the permission.
    if actor is not None and not actor.has_perm(Perm.MANAGE_CATALOGUE):
        raise PermissionDenied(_("Only OEM administrators manage the model catalogue."))


def _check_car_model(values: dict[str, Any], *, exclude_id: int | None = None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned = dict(values)
    for name in ("make", "series", "name"):
        cleaned[name] = (values.get(name) or "").strip()
        if not cleaned[name]:
            errors[name] = [_("This field is required.")]
    year = values.get("model_year")
    max_year = _today().year + 2
    if not isinstance(year, int) or not 1950 <= year <= max_year:
        errors["model_year"] = [
            _("Enter a model year between 1950 and %(max)s.") % {"max": max_year}
        ]
    if values.get("body_type") not in BodyType.values:
        errors["body_type"] = [_("Choose a body type.")]
    if values.get("powertrain") not in Powertrain.values:
        errors["powertrain"] = [_("Choose a powertrain.")]
    seats = values.get("seats")
    if not isinstance(seats, int) or not 1 <= seats <= 50:
        errors["seats"] = [_("Enter the number of seats (1 to 50).")]
    price = values.get("list_price")
    try:
        price = Decimal(str(price))
    except (ArithmeticError, ValueError, TypeError):
        price = None
    if price is None or not price.is_finite() or price <= 0 or price >= Decimal("1e10"):
        errors["list_price"] = [_("Enter the list price in yuan, more than 0.")]
    else:
        cleaned["list_price"] = price.quantize(Decimal("0.01"))
    brand = values.get("brand")
    if brand is not None and not isinstance(brand, Brand):
        errors["brand"] = [_("Choose a brand.")]
    if not errors:
        clash = CarModel.objects.filter(
            make__iexact=cleaned["make"],
            series__iexact=cleaned["series"],
            name__iexact=cleaned["name"],
            model_year=int(year),  # type: ignore[arg-type]  # checked above
        )
        if exclude_id:
            clash = clash.exclude(pk=exclude_id)
        if clash.exists():
            errors["name"] = [_("The catalogue already has this model for this model year.")]
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def car_model_create(
    *,
    actor: User | None,
    make: str,
    series: str,
    name: str,
    model_year: int,
    body_type: str,
    powertrain: str,
    list_price: Decimal | int | str,
    seats: int = 5,
    brand: Brand | None = None,
    is_active: bool = True,
    request: HttpRequest | None = None,
) -> CarModel:
    """Add a model to the network's catalogue (OEM administrators). Brand empty = other make."""
    _require_catalogue_permission(actor)
    cleaned = _check_car_model(
        {
            "brand": brand,
            "make": make,
            "series": series,
            "name": name,
            "model_year": model_year,
            "body_type": body_type,
            "powertrain": powertrain,
            "seats": seats,
            "list_price": list_price,
            "is_active": is_active,
        }
    )
    car_model = CarModel.objects.create(**cleaned)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=car_model,
        changes={k: str(v) for k, v in cleaned.items() if v is not None},
        request=request,
    )
    return car_model


@transaction.atomic
def car_model_update(
    *,
    actor: User | None,
    car_model: CarModel,
    request: HttpRequest | None = None,
    **fields: Any,
) -> CarModel:
    """Change a catalogue model (OEM administrators)."""
    _require_catalogue_permission(actor)
    unknown = set(fields) - set(CAR_MODEL_FIELDS)
    if unknown:
        raise TypeError(f"car_model_update() cannot change {', '.join(sorted(unknown))}")
    current = CarModel.objects.select_for_update().get(pk=car_model.pk)
    before = {name: getattr(current, name) for name in CAR_MODEL_FIELDS}
    cleaned = _check_car_model(before | fields, exclude_id=current.pk)
    changed = {k: v for k, v in cleaned.items() if before[k] != v}
    if not changed:
        return current
    for name, value in changed.items():
        setattr(current, name, value)
    current.save(update_fields=list(changed))
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=current,
        changes=field_changes(
            {k: str(v) if v is not None else None for k, v in before.items()},
            {k: str(v) if v is not None else None for k, v in changed.items()},
        ),
        request=request,
    )
    return current
