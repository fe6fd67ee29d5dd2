"""Writes of service appointments. CONTRACT (the care engine and the API call these):

- `appointment_create(*, actor, customer, starts_at, channel, vehicle=None, ends_at=None,
   kind=RepairKind.MAINTENANCE, advisor=None, bay=None, loan_car=None, concern="",
   source_kind="", source_id="") -> Appointment`
- `appointment_cancel(*, actor, appointment, reason="") -> Appointment`
- `appointment_move(*, actor, appointment, starts_at, bay=None) -> Appointment`
- `appointment_no_show(*, actor, appointment) -> Appointment`
- `appointment_arrive(*, actor, appointment, mileage_km=None) -> RepairOrder`

The order of refusals when booking: the input (channel, kind, the car is the customer's), the
past, the workshop's opening days and hours (ServicePolicy, in the dealer's time zone), the day's
capacity, then a free bay. Every refusal is a ValidationError keyed by the field, and nothing is
written.

Concurrency: every writer that can take a place of a day locks the dealer's ServicePolicy row
first (`policy_locked`), so two bookings of the last place are serialised and the second one
counts the first. The bay and the loan car are held through bookings.booking_create, the one
place a resource is refused when already booked (it locks the resource; PostgreSQL has an
exclusion constraint besides).
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.bookings.models import Booking, BookingStatus, Resource, ResourceKind
from dealercrm.bookings.services import (
    as_local,
    booking_cancel,
    booking_create,
    booking_move,
    dealer_time_zone,
)
from dealercrm.core.models import User
from dealercrm.customers.models import Customer
from dealercrm.vehicles.models import Vehicle

from ..models import (
    Appointment,
    AppointmentChannel,
    AppointmentStatus,
    RepairKind,
    RepairOrder,
    ServicePolicy,
)
from .policy import policy_locked

logger = logging.getLogger(__name__)

BOOKING_SOURCE = "service.appointment"
CONFIRMATION_SOURCE = "appointment:{id}:confirmation"
# Appointments that take a place of the day's capacity.
TAKING_PLACE = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)


# --- time ------------------------------------------------------------------------------------


def day_bounds(
    day: datetime.date, tz: zoneinfo.ZoneInfo
) -> tuple[datetime.datetime, datetime.datetime]:
    """[midnight, next midnight) of a local day, as aware datetimes."""
    start = datetime.datetime.combine(day, datetime.time(0), tzinfo=tz)
    return start, datetime.datetime.combine(
        day + datetime.timedelta(days=1), datetime.time(0), tzinfo=tz
    )


def _hhmm(value: datetime.datetime, tz: zoneinfo.ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%H:%M")


def weekday_names() -> list[str]:
    return [
        _("Monday"),
        _("Tuesday"),
        _("Wednesday"),
        _("Thursday"),
        _("Friday"),
        _("Saturday"),
        _("Sunday"),
    ]


def _check_opening(
    policy: ServicePolicy,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    tz: zoneinfo.ZoneInfo,
) -> None:
    """Refuse a slot outside the workshop's days or hours (the dealer's wall clock)."""
    local_start, local_end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    if local_start.weekday() not in policy.open_weekdays:
        raise ValidationError(
            {
                "starts_at": _(
                    "The workshop is closed on %(weekday)s (%(date)s). Choose another day."
                )
                % {
                    "weekday": weekday_names()[local_start.weekday()],
                    "date": local_start.strftime("%Y-%m-%d"),
                }
            }
        )
    opens = datetime.datetime.combine(local_start.date(), policy.opens_at, tzinfo=tz)
    closes = datetime.datetime.combine(local_start.date(), policy.closes_at, tzinfo=tz)
    if local_start < opens or local_end > closes:
        raise ValidationError(
            {
                "starts_at": _(
                    "The workshop takes appointments from %(opens)s to %(closes)s; "
                    "%(start)s–%(end)s is outside these hours."
                )
                % {
                    "opens": policy.opens_at.strftime("%H:%M"),
                    "closes": policy.closes_at.strftime("%H:%M"),
                    "start": local_start.strftime("%H:%M"),
                    "end": local_end.strftime("%H:%M")
                    if local_end.date() == local_start.date()
                    else local_end.strftime("%Y-%m-%d %H:%M"),
                }
            }
        )


def _check_capacity(
    policy: ServicePolicy,
    dealer_id: int,
    starts_at: datetime.datetime,
    tz: zoneinfo.ZoneInfo,
    *,
    exclude: int | None = None,
) -> None:
    """Refuse when the day's booked and arrived appointments reach the capacity. The caller
    holds the policy row's lock, so the count cannot change before the new row is written."""
    day = starts_at.astimezone(tz).date()
    start, end = day_bounds(day, tz)
    taken = Appointment.objects.filter(
        dealer_id=dealer_id, starts_at__gte=start, starts_at__lt=end, status__in=TAKING_PLACE
    )
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    count = taken.count()
    if count >= policy.daily_capacity:
        raise ValidationError(
            {
                "starts_at": _(
                    "%(date)s is fully booked: the workshop takes %(capacity)d appointments a "
                    "day and %(count)d are booked. Choose another day."
                )
                % {"date": day.isoformat(), "capacity": policy.daily_capacity, "count": count}
            }
        )


# --- bays --------------------------------------------------------------------------------------


def _bays(dealer_id: int) -> list[Resource]:
    return list(
        Resource.objects.filter(
            dealer_id=dealer_id, kind=ResourceKind.SERVICE_BAY, is_active=True
        ).order_by("name", "id")
    )


def _covers(resource: Resource, starts_at, ends_at, tz) -> bool:  # noqa: ANN001
    local_start, local_end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    return (
        local_start.date() == local_end.date()
        and resource.opens_at <= local_start.time()
        and local_end.time() <= resource.closes_at
    ) or (
        local_end.time() == datetime.time(0)
        and local_end.date() == local_start.date() + datetime.timedelta(days=1)
        and resource.opens_at <= local_start.time()
    )


def _first_free_bay(
    dealer_id: int,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    tz: zoneinfo.ZoneInfo,
    *,
    exclude_booking: int | None = None,
) -> Resource:
    """The first active bay (by name) free for the slot, or a ValidationError saying that all
    of them are taken (two queries)."""
    bays = _bays(dealer_id)
    if not bays:
        raise ValidationError(
            {
                "bay": _(
                    "The workshop has no service bays yet: a manager adds them on the resources "
                    "page."
                )
            }
        )
    busy = Booking.objects.filter(
        dealer_id=dealer_id, resource_id__in=[b.pk for b in bays], status=BookingStatus.ACTIVE
    ).overlapping(starts_at, ends_at)
    if exclude_booking is not None:
        busy = busy.exclude(pk=exclude_booking)
    busy_ids = set(busy.values_list("resource_id", flat=True))
    for bay in bays:
        if bay.pk not in busy_ids and _covers(bay, starts_at, ends_at, tz):
            return bay
    raise ValidationError(
        {
            "starts_at": _(
                "All %(count)d bays are booked %(start)s–%(end)s on %(date)s. Choose another time."
            )
            % {
                "count": len(bays),
                "start": _hhmm(starts_at, tz),
                "end": _hhmm(ends_at, tz),
                "date": starts_at.astimezone(tz).strftime("%Y-%m-%d"),
            }
        }
    )


def _own_resource(resource: Any, dealer_id: int, kind: str, field: str) -> Resource:
    if not isinstance(resource, Resource) or resource.dealer_id != dealer_id:
        raise ValidationError({field: _("Choose one of the dealer's resources.")})
    if resource.kind != kind:
        message = (
            _("%(name)s is not a service bay.")
            if kind == ResourceKind.SERVICE_BAY
            else _("%(name)s is not a loan car.")
        )
        raise ValidationError({field: message % {"name": resource.name}})
    return resource


def _booking_title(customer: Customer, vehicle: Vehicle | None) -> str:
    title = customer.name
    if vehicle is not None and (vehicle.plate or vehicle.vin):
        title = f"{title} {vehicle.plate or vehicle.vin[-6:]}"
    return title


# --- input -------------------------------------------------------------------------------------


def _check_input(
    *,
    customer: Customer,
    vehicle: Vehicle | None,
    channel: str,
    kind: str,
    advisor: User | None,
) -> None:
    errors: dict[str, list[str]] = {}
    if channel not in AppointmentChannel.values:
        errors.setdefault("channel", []).append(_("Choose how the appointment was booked."))
    if kind not in RepairKind.values:
        errors.setdefault("kind", []).append(_("Choose the type of service."))
    if vehicle is not None and (
        vehicle.dealer_id != customer.dealer_id or vehicle.owner_id != customer.pk
    ):
        errors.setdefault("vehicle", []).append(
            _("%(vehicle)s is not a car of %(customer)s: choose one of the customer's cars.")
            % {"vehicle": vehicle.plate or vehicle.vin, "customer": customer.name}
        )
    if advisor is not None and advisor.dealer_id != customer.dealer_id:
        errors.setdefault("advisor", []).append(_("Choose a service advisor of the dealer."))
    if errors:
        raise ValidationError(errors)


def _check_times(starts_at: Any, ends_at: Any, now: datetime.datetime) -> None:
    if not isinstance(starts_at, datetime.datetime):
        raise ValidationError({"starts_at": _("Enter the date and time of the appointment.")})
    if not isinstance(ends_at, datetime.datetime) or ends_at <= starts_at:
        raise ValidationError({"ends_at": _("The appointment must end after it starts.")})
    if starts_at < now:
        raise ValidationError(
            {"starts_at": _("This time has passed: book an appointment in the future.")}
        )


def _source_match(dealer_id: int, source_kind: str, source_id: str) -> Appointment | None:
    return (
        Appointment.objects.filter(
            dealer_id=dealer_id,
            source_kind=source_kind,
            source_id=source_id,
            status__in=TAKING_PLACE,
        )
        .order_by("-id")
        .first()
    )


# --- create ----------------------------------------------------------------------------------


@transaction.atomic
def appointment_create(
    *,
    actor: User | None,
    customer: Customer,
    starts_at: datetime.datetime,
    channel: str,
    vehicle: Vehicle | None = None,
    ends_at: datetime.datetime | None = None,
    kind: str = RepairKind.MAINTENANCE,
    advisor: User | None = None,
    bay: Resource | None = None,
    loan_car: Resource | None = None,
    concern: str = "",
    source_kind: str = "",
    source_id: str = "",
) -> Appointment:
    """Book a customer's car into the workshop, or refuse with the reason, writing nothing.

    With a source (e.g. "care.occurrence", "42") the same source returns its active appointment
    instead of booking twice (a double click, a job run twice).
    """
    dealer_id = customer.dealer_id
    source_kind, source_id = (source_kind or "")[:40], str(source_id or "")[:64]
    if source_kind and source_id:
        existing = _source_match(dealer_id, source_kind, source_id)
        if existing is not None:
            return existing
    tz = dealer_time_zone(dealer_id)
    _check_input(customer=customer, vehicle=vehicle, channel=channel, kind=kind, advisor=advisor)
    if bay is not None:
        bay = _own_resource(bay, dealer_id, ResourceKind.SERVICE_BAY, "bay")
    if loan_car is not None:
        loan_car = _own_resource(loan_car, dealer_id, ResourceKind.LOAN_CAR, "loan_car")
    starts_at = as_local(starts_at, tz)
    policy = policy_locked(dealer_id)
    if ends_at is None and isinstance(starts_at, datetime.datetime):
        ends_at = starts_at + datetime.timedelta(minutes=policy.slot_minutes)
    ends_at = as_local(ends_at, tz)
    _check_times(starts_at, ends_at, timezone.now())
    if source_kind and source_id:
        # Looked again under the lock: a concurrent call with the same source has committed.
        existing = _source_match(dealer_id, source_kind, source_id)
        if existing is not None:
            return existing
    _check_opening(policy, starts_at, ends_at, tz)
    _check_capacity(policy, dealer_id, starts_at, tz)
    if bay is None:
        bay = _first_free_bay(dealer_id, starts_at, ends_at, tz)
    appointment = Appointment.objects.create(
        dealer_id=dealer_id,
        customer=customer,
        vehicle=vehicle,
        channel=channel,
        kind=kind,
        advisor=advisor,
        starts_at=starts_at,
        ends_at=ends_at,
        concern=(concern or "").strip(),
        source_kind=source_kind,
        source_id=source_id,
        created_by=actor,
    )
    title = _booking_title(customer, vehicle)
    appointment.bay_booking = booking_create(
        dealer_id=dealer_id,
        resource=bay,
        starts_at=starts_at,
        ends_at=ends_at,
        customer_id=customer.pk,
        title=title,
        source_kind=BOOKING_SOURCE,
        source_id=str(appointment.pk),
        actor=actor,
    )
    update = ["bay_booking"]
    if loan_car is not None:
        appointment.loan_car_booking = _book_loan_car(appointment, loan_car, title, actor)
        update.append("loan_car_booking")
    appointment.save(update_fields=update)
    _send_confirmation(appointment, tz)
    return appointment


def _book_loan_car(
    appointment: Appointment, loan_car: Resource, title: str, actor: User | None
) -> Booking:
    try:
        return booking_create(
            dealer_id=appointment.dealer_id,
            resource=loan_car,
            starts_at=appointment.starts_at,
            ends_at=appointment.ends_at,
            customer_id=appointment.customer_id,
            title=title,
            source_kind=BOOKING_SOURCE,
            source_id=str(appointment.pk),
            actor=actor,
        )
    except ValidationError as exc:
        # The loan car's refusal belongs on the loan car field, not on the time.
        raise ValidationError({"loan_car": exc.messages}) from exc


def _confirmation_template(dealer_id: int) -> Any:
    """The dealer's active appointment confirmation template (a Chinese one first), or None."""
    from dealercrm.messaging.models import Language, MessageTemplate, Purpose

    templates = list(
        MessageTemplate.objects.filter(
            dealer_id=dealer_id, purpose=Purpose.APPOINTMENT_CONFIRMATION, is_active=True
        ).order_by("id")
    )
    for template in templates:
        if template.language == Language.ZH_HANS:
            return template
    return templates[0] if templates else None


def _send_confirmation(appointment: Appointment, tz: zoneinfo.ZoneInfo) -> None:
    """Queue the confirmation through messaging when the dealer has a template for it. A
    message that cannot go (no mobile, a variable missing) is logged: the booking stands."""
    template = _confirmation_template(appointment.dealer_id)
    if template is None:
        return
    from dealercrm.messaging.models import Message
    from dealercrm.messaging.services import message_send

    local = appointment.starts_at.astimezone(tz)
    extra = {
        "appointment_time": local.strftime("%Y-%m-%d %H:%M"),
        "date": local.strftime("%Y-%m-%d"),
        "time": local.strftime("%H:%M"),
    }
    if appointment.advisor_id:
        extra["advisor_name"] = str(appointment.advisor)
    try:
        with transaction.atomic():
            message_send(
                actor=None,
                customer=appointment.customer,
                channel=template.channel,
                purpose=template.purpose,
                template=template,
                source_kind=Message.SourceKind.SERVICE,
                source_id=CONFIRMATION_SOURCE.format(id=appointment.pk),
                extra=extra,
            )
    except ValidationError as exc:
        logger.info("Appointment %s: no confirmation sent: %s", appointment.pk, exc.messages)


# --- changes -----------------------------------------------------------------------------------


def _locked(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("bay_booking__resource", "loan_car_booking__resource", "customer")
        .get(pk=appointment.pk, dealer_id=appointment.dealer_id)
    )


def _free_bookings(appointment: Appointment, actor: User | None) -> None:
    for booking in (appointment.bay_booking, appointment.loan_car_booking):
        if booking is not None and booking.status == BookingStatus.ACTIVE:
            booking_cancel(actor=actor, booking=booking)


def _refuse_unless_booked(appointment: Appointment) -> None:
    if appointment.status != AppointmentStatus.BOOKED:
        raise ValidationError(
            {
                "status": _("This appointment is %(status)s: it can no longer be changed.")
                % {"status": appointment.get_status_display().lower()}
            }
        )


def _sync(target: Appointment, source: Appointment, fields: list[str]) -> Appointment:
    for name in fields:
        setattr(target, name, getattr(source, name))
    return target


@transaction.atomic
def appointment_cancel(
    *, actor: User | None, appointment: Appointment, reason: str = ""
) -> Appointment:
    """Cancel and free the bay and the loan car. Cancelling a cancelled one changes nothing."""
    current = _locked(appointment)
    if current.status == AppointmentStatus.CANCELLED:
        return _sync(appointment, current, ["status", "cancelled_at", "cancel_reason"])
    _refuse_unless_booked(current)
    _free_bookings(current, actor)
    current.status = AppointmentStatus.CANCELLED
    current.cancelled_at = timezone.now()
    current.cancel_reason = (reason or "").strip()[:200]
    current.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    return _sync(appointment, current, ["status", "cancelled_at", "cancel_reason"])


@transaction.atomic
def appointment_move(
    *,
    actor: User | None,
    appointment: Appointment,
    starts_at: datetime.datetime,
    bay: Resource | None = None,
) -> Appointment:
    """Another time (same length), under the same rules as a new booking. The bay is kept when
    it is free at the new time (or the one given is taken), else the first free bay."""
    dealer_id = appointment.dealer_id
    tz = dealer_time_zone(dealer_id)
    policy = policy_locked(dealer_id)
    current = _locked(appointment)
    _refuse_unless_booked(current)
    if bay is not None:
        bay = _own_resource(bay, dealer_id, ResourceKind.SERVICE_BAY, "bay")
    starts_at = as_local(starts_at, tz)
    if not isinstance(starts_at, datetime.datetime):
        raise ValidationError({"starts_at": _("Enter the date and time of the appointment.")})
    ends_at = starts_at + (current.ends_at - current.starts_at)
    _check_times(starts_at, ends_at, timezone.now())
    _check_opening(policy, starts_at, ends_at, tz)
    _check_capacity(policy, dealer_id, starts_at, tz, exclude=current.pk)
    old = current.bay_booking if current.bay_booking_id else None
    if old is not None and old.status != BookingStatus.ACTIVE:
        old = None
    if bay is None:
        bay = _first_free_bay(
            dealer_id, starts_at, ends_at, tz, exclude_booking=old.pk if old else None
        )
        if old is not None and old.resource_id != bay.pk:
            # Keep the same bay when it is free at the new time.
            busy = (
                Booking.objects.filter(
                    dealer_id=dealer_id, resource_id=old.resource_id, status=BookingStatus.ACTIVE
                )
                .overlapping(starts_at, ends_at)
                .exclude(pk=old.pk)
                .exists()
            )
            if not busy and _covers(old.resource, starts_at, ends_at, tz):
                bay = old.resource
    if old is not None and old.resource_id == bay.pk:
        booking_move(actor=actor, booking=old, starts_at=starts_at, ends_at=ends_at)
    else:
        if old is not None:
            booking_cancel(actor=actor, booking=old)
        current.bay_booking = booking_create(
            dealer_id=dealer_id,
            resource=bay,
            starts_at=starts_at,
            ends_at=ends_at,
            customer_id=current.customer_id,
            title=_booking_title(current.customer, current.vehicle),
            source_kind=BOOKING_SOURCE,
            source_id=str(current.pk),
            actor=actor,
        )
    loan = current.loan_car_booking
    if loan is not None and loan.status == BookingStatus.ACTIVE:
        try:
            booking_move(actor=actor, booking=loan, starts_at=starts_at, ends_at=ends_at)
        except ValidationError as exc:
            raise ValidationError({"loan_car": exc.messages}) from exc
    current.starts_at, current.ends_at = starts_at, ends_at
    current.save(update_fields=["starts_at", "ends_at", "bay_booking"])
    return _sync(appointment, current, ["starts_at", "ends_at", "bay_booking"])


@transaction.atomic
def appointment_no_show(*, actor: User | None, appointment: Appointment) -> Appointment:
    """The customer did not come: recorded once the time has begun; the bookings are freed."""
    current = _locked(appointment)
    if current.status == AppointmentStatus.NO_SHOW:
        return _sync(appointment, current, ["status"])
    _refuse_unless_booked(current)
    if timezone.now() < current.starts_at:
        raise ValidationError(
            {"status": _("The appointment has not begun yet: record a no-show after its time.")}
        )
    _free_bookings(current, actor)
    current.status = AppointmentStatus.NO_SHOW
    current.save(update_fields=["status"])
    return _sync(appointment, current, ["status"])


@transaction.atomic
def appointment_arrive(
    *, actor: User | None, appointment: Appointment, mileage_km: int | None = None
) -> RepairOrder:
    """The car is here: the appointment is arrived and its repair order opened (the bay stays
    held). Arriving twice returns the repair order of the first time."""
    from .repair_orders import repair_order_open

    current = _locked(appointment)
    if current.status == AppointmentStatus.ARRIVED:
        existing = RepairOrder.objects.filter(
            dealer_id=current.dealer_id, appointment_id=current.pk
        ).first()
        if existing is not None:
            return existing
    _refuse_unless_booked(current)
    if current.vehicle_id is None:
        raise ValidationError(
            {"vehicle": _("The appointment names no car: add the car before it arrives.")}
        )
    vehicle = Vehicle.objects.filter(dealer_id=current.dealer_id, pk=current.vehicle_id).get()
    advisor = current.advisor
    if advisor is None and actor is not None and actor.dealer_id == current.dealer_id:
        advisor = actor
    repair_order = repair_order_open(
        actor=actor,
        dealer_id=current.dealer_id,
        vin=vehicle.vin,
        kind=current.kind,
        mileage_km=mileage_km,
        advisor=advisor,
        customer_concern=current.concern,
        appointment=current,
    )
    current.status = AppointmentStatus.ARRIVED
    current.save(update_fields=["status"])
    _sync(appointment, current, ["status"])
    return repair_order
