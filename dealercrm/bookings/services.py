"""Writes of bookings: a dealer's resources, and the one rule every booking obeys.

CONTRACT (other apps call these; keep the signatures):
- `resource_create(*, actor, dealer_id, kind, name, car_model_id=None, plate="", ...) -> Resource`
- `resource_update(*, actor, resource, **fields) -> Resource`
- `booking_create(*, dealer_id, resource, starts_at, ends_at, customer_id=None, title="",
   source_kind="", source_id="", actor=None) -> Booking`  refuses an overlap with an active
  booking of the same resource (ValidationError on "starts_at", naming the clash), the past,
  ends before starts, an inactive resource, hours outside the resource's availability.
  Safe under concurrency: the resource row is locked (PostgreSQL also has an exclusion
  constraint).
- `booking_cancel(*, actor, booking) -> Booking`
- `booking_move(*, actor, booking, starts_at, ends_at) -> Booking`

`booking_create` and `booking_move` are the only places that decide whether a resource is free.
Two people booking the same car at the same moment are serialised by the lock on the
resource's row (`SELECT … FOR UPDATE` on PostgreSQL; SQLite runs one writing transaction at a
time), so the second one's overlap check sees the first one's booking. On PostgreSQL an
exclusion constraint (migration 0002) refuses an overlap even from a write that went around this
module; its IntegrityError becomes the same ValidationError.
"""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import Dealer, User
from dealercrm.vehicles.models import CarModel
from dealercrm.vehicles.validators import validate_plate

from .models import Booking, BookingStatus, Resource, ResourceKind

DEFAULT_TIME_ZONE = "Asia/Shanghai"
# Kinds that are cars: each is a model of the catalogue.
CAR_KINDS = frozenset({ResourceKind.DEMO_CAR, ResourceKind.LOAN_CAR})
RESOURCE_FIELDS = ("kind", "name", "car_model_id", "plate", "opens_at", "closes_at", "is_active")


# --- time ------------------------------------------------------------------------------------


def dealer_time_zone(dealer_id: int) -> zoneinfo.ZoneInfo:
    """The dealer's wall clock: opening hours and the messages' times are in it."""
    name = Dealer.objects.filter(pk=dealer_id).values_list("time_zone", flat=True).first()
    try:
        return zoneinfo.ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_TIME_ZONE)


def as_local(value: Any, tz: zoneinfo.ZoneInfo) -> Any:
    """A naive datetime is the dealer's wall-clock time; anything else is left as it is."""
    if isinstance(value, datetime.datetime) and timezone.is_naive(value):
        return timezone.make_aware(value, tz)
    return value


def _hhmm(value: datetime.datetime, tz: zoneinfo.ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%H:%M")


def _parse_time(value: Any) -> datetime.time | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.time):
        return value
    try:
        return datetime.time.fromisoformat(str(value))
    except ValueError:
        return None


# --- resources -------------------------------------------------------------------------------


def _clean_resource(
    *, dealer_id: int, values: dict[str, Any], resource: Resource | None
) -> dict[str, Any]:
    """Cleaned values, or a ValidationError naming every field that is wrong."""
    errors: dict[str, list[str]] = {}
    kind = values.get("kind", resource.kind if resource else "")
    if kind not in ResourceKind.values:
        errors.setdefault("kind", []).append(_("Choose a demo car, a service bay or a loan car."))
    name = str(values.get("name", resource.name if resource else "") or "").strip()
    if not name:
        errors.setdefault("name", []).append(_("Give the resource a name."))
    elif len(name) > 100:
        errors.setdefault("name", []).append(_("A name has at most 100 characters."))
    car_model_id = values.get("car_model_id", resource.car_model_id if resource else None)
    plate = str(values.get("plate", resource.plate if resource else "") or "").strip()
    if kind in CAR_KINDS:
        if not car_model_id:
            errors.setdefault("car_model_id", []).append(
                _("A car is a model of the catalogue: choose the model.")
            )
        else:
            brand_id = Dealer.objects.filter(pk=dealer_id).values_list("brand_id", flat=True)
            exists = (
                CarModel.objects.filter(pk=car_model_id)
                .filter(Q(brand_id__in=brand_id) | Q(brand__isnull=True))
                .exists()
            )
            if not exists:
                errors.setdefault("car_model_id", []).append(
                    _("Choose a model of the dealer's catalogue.")
                )
        if kind == ResourceKind.DEMO_CAR and not plate:
            errors.setdefault("plate", []).append(
                _("A demo car drives on public roads: enter its licence plate.")
            )
    else:
        car_model_id = None
    if plate:
        try:
            plate = validate_plate(plate)
        except ValidationError as exc:
            errors.setdefault("plate", []).extend(exc.messages)
    opens_at = _parse_time(values.get("opens_at", resource.opens_at if resource else "09:00"))
    closes_at = _parse_time(values.get("closes_at", resource.closes_at if resource else "18:00"))
    if opens_at is None:
        errors.setdefault("opens_at", []).append(_("Enter the time it is available from (09:00)."))
    if closes_at is None:
        errors.setdefault("closes_at", []).append(_("Enter the time it is available until."))
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        errors.setdefault("closes_at", []).append(
            _("It must be available until a time after %(opens)s.")
            % {"opens": opens_at.strftime("%H:%M")}
        )
    is_active = bool(values.get("is_active", resource.is_active if resource else True))
    if not errors:
        clash = Resource.objects.filter(dealer_id=dealer_id, kind=kind, name=name)
        if resource is not None:
            clash = clash.exclude(pk=resource.pk)
        if clash.exists():
            errors.setdefault("name", []).append(
                _("There is already a %(kind)s called %(name)s.")
                % {"kind": ResourceKind(kind).label.lower(), "name": name}
            )
    if errors:
        raise ValidationError(errors)
    return {
        "kind": kind,
        "name": name,
        "car_model_id": car_model_id,
        "plate": plate,
        "opens_at": opens_at,
        "closes_at": closes_at,
        "is_active": is_active,
    }


@transaction.atomic
def resource_create(
    *,
    actor: User | None,
    dealer_id: int,
    kind: str,
    name: str,
    car_model_id: int | None = None,
    plate: str = "",
    opens_at: datetime.time | str = "09:00",
    closes_at: datetime.time | str = "18:00",
    is_active: bool = True,
) -> Resource:
    """A new demo car, service bay or loan car of the dealer."""
    values = _clean_resource(
        dealer_id=dealer_id,
        values={
            "kind": kind,
            "name": name,
            "car_model_id": car_model_id,
            "plate": plate,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "is_active": is_active,
        },
        resource=None,
    )
    return Resource.objects.create(dealer_id=dealer_id, **values)


@transaction.atomic
def resource_update(*, actor: User | None, resource: Resource, **fields: Any) -> Resource:
    """Change a resource; only the fields given. Taking it out of use keeps its bookings (they
    are listed, and cancelled one by one by whoever holds them)."""
    unknown = set(fields) - set(RESOURCE_FIELDS)
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    values = _clean_resource(dealer_id=resource.dealer_id, values=fields, resource=resource)
    changed = [name for name, value in values.items() if getattr(resource, name) != value]
    for name in changed:
        setattr(resource, name, values[name])
    if changed:
        resource.updated_at = timezone.now()
        resource.save(update_fields=[*changed, "updated_at"])
    return resource


# --- bookings --------------------------------------------------------------------------------


def clash_message(booking: Booking, resource: Resource, tz: zoneinfo.ZoneInfo) -> str:
    """ "试驾车 1 is booked 10:00–11:00 (试驾 张先生)": only rows of the resource's own dealer are
    ever looked at, so nothing of another dealer can be named."""
    local_start = booking.starts_at.astimezone(tz)
    values = {
        "resource": resource.name,
        "date": local_start.strftime("%Y-%m-%d"),
        "start": _hhmm(booking.starts_at, tz),
        "end": _hhmm(booking.ends_at, tz),
        "title": booking.title,
    }
    if booking.title:
        return (
            _(
                "%(resource)s is booked %(start)s–%(end)s on %(date)s (%(title)s). Choose another time."
            )
            % values
        )
    return _("%(resource)s is booked %(start)s–%(end)s on %(date)s. Choose another time.") % values


def _check_times(
    *,
    resource: Resource,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    tz: zoneinfo.ZoneInfo,
    now: datetime.datetime,
) -> None:
    errors: dict[str, list[str]] = {}
    if starts_at is None or not isinstance(starts_at, datetime.datetime):
        raise ValidationError({"starts_at": _("Enter when the booking starts.")})
    if ends_at is None or not isinstance(ends_at, datetime.datetime):
        raise ValidationError({"ends_at": _("Enter when the booking ends.")})
    if not resource.is_active:
        errors.setdefault("resource", []).append(
            _("%(resource)s is not in use: choose another.") % {"resource": resource.name}
        )
    if ends_at <= starts_at:
        errors.setdefault("ends_at", []).append(_("The booking must end after it starts."))
    if starts_at < now:
        errors.setdefault("starts_at", []).append(
            _("%(time)s is in the past: choose a time from now on.")
            % {"time": starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")}
        )
    if not errors:
        local_start, local_end = starts_at.astimezone(tz), ends_at.astimezone(tz)
        hours = {
            "resource": resource.name,
            "opens": resource.opens_at.strftime("%H:%M"),
            "closes": resource.closes_at.strftime("%H:%M"),
        }
        if local_start.date() != local_end.date() or local_start.time() < resource.opens_at:
            errors.setdefault("starts_at", []).append(
                _("%(resource)s can be booked from %(opens)s to %(closes)s.") % hours
            )
        elif local_end.time() > resource.closes_at:
            errors.setdefault("ends_at", []).append(
                _("%(resource)s can be booked from %(opens)s to %(closes)s.") % hours
            )
    if errors:
        raise ValidationError(errors)


def _lock(resource: Resource) -> Resource:
    """Re-read the resource locked: whoever books it next waits for this transaction."""
    return Resource.objects.select_for_update().get(pk=resource.pk, dealer_id=resource.dealer_id)


def _first_clash(
    resource: Resource,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    exclude: int | None,
) -> Booking | None:
    qs = (
        Booking.objects.filter(dealer_id=resource.dealer_id, resource_id=resource.pk)
        .active()
        .overlapping(starts_at, ends_at)
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.order_by("starts_at").first()


def _refuse_clash(
    resource: Resource,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    tz: zoneinfo.ZoneInfo,
    exclude: int | None = None,
) -> None:
    clash = _first_clash(resource, starts_at, ends_at, exclude)
    if clash is not None:
        raise ValidationError({"starts_at": clash_message(clash, resource, tz)})


def _save_or_refuse(
    booking: Booking,
    resource: Resource,
    tz: zoneinfo.ZoneInfo,
    *,
    update_fields: list[str] | None = None,
) -> Booking:
    """Write under a savepoint: the PostgreSQL exclusion constraint's refusal becomes the same
    ValidationError as the check's, and leaves the outer transaction usable."""
    try:
        with transaction.atomic():
            booking.save(update_fields=update_fields)
    except IntegrityError as exc:
        clash = _first_clash(resource, booking.starts_at, booking.ends_at, booking.pk)
        message = (
            clash_message(clash, resource, tz)
            if clash is not None
            else _("%(resource)s is already booked at this time. Choose another time.")
            % {"resource": resource.name}
        )
        raise ValidationError({"starts_at": message}) from exc
    return booking


@transaction.atomic
def booking_create(
    *,
    dealer_id: int,
    resource: Resource,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    customer_id: int | None = None,
    title: str = "",
    source_kind: str = "",
    source_id: str = "",
    actor: User | None = None,
) -> Booking:
    """Hold `resource` for [starts_at, ends_at), or refuse with the reason, writing nothing."""
    if resource.dealer_id != dealer_id:
        # Another dealer's resource is, for this dealer, no resource at all.
        raise ValidationError({"resource": _("Choose one of the dealer's resources.")})
    tz = dealer_time_zone(dealer_id)
    starts_at, ends_at = as_local(starts_at, tz), as_local(ends_at, tz)
    locked = _lock(resource)
    _check_times(resource=locked, starts_at=starts_at, ends_at=ends_at, tz=tz, now=timezone.now())
    _refuse_clash(locked, starts_at, ends_at, tz)
    booking = Booking(
        dealer_id=dealer_id,
        resource=locked,
        starts_at=starts_at,
        ends_at=ends_at,
        customer_id=customer_id,
        title=title[:200],
        source_kind=source_kind[:40],
        source_id=str(source_id)[:64],
        created_by=actor,
    )
    return _save_or_refuse(booking, locked, tz)


@transaction.atomic
def booking_cancel(*, actor: User | None, booking: Booking) -> Booking:
    """Free the resource. Cancelling a cancelled booking changes nothing."""
    current = Booking.objects.select_for_update().get(pk=booking.pk, dealer_id=booking.dealer_id)
    if current.status == BookingStatus.CANCELLED:
        booking.status, booking.cancelled_at = current.status, current.cancelled_at
        return booking
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = timezone.now()
    booking.save(update_fields=["status", "cancelled_at"])
    return booking


@transaction.atomic
def booking_move(
    *,
    actor: User | None,
    booking: Booking,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
) -> Booking:
    """Move an active booking to another time of the same resource, under the same rules."""
    if booking.status != BookingStatus.ACTIVE:
        raise ValidationError({"status": _("This booking is cancelled: book again instead.")})
    tz = dealer_time_zone(booking.dealer_id)
    starts_at, ends_at = as_local(starts_at, tz), as_local(ends_at, tz)
    locked = _lock(booking.resource)
    _check_times(resource=locked, starts_at=starts_at, ends_at=ends_at, tz=tz, now=timezone.now())
    _refuse_clash(locked, starts_at, ends_at, tz, exclude=booking.pk)
    booking.starts_at, booking.ends_at = starts_at, ends_at
    return _save_or_refuse(booking, locked, tz, update_fields=["starts_at", "ends_at"])
