"""Reads of service appointments: look-ups by id, lists, the free slots of a day, the service
calendar (bays × slots), today's appointments of the advisor's workspace, the timeline provider.

Everything reads through the scoped managers: another dealer's appointment answers 404 like a
missing one. The calendar shows who holds each bay (name, masked phone, plate, kind) — the
workshop's reception sees all of the dealer's appointments.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.bookings.models import Booking, BookingStatus, Resource, ResourceKind
from dealercrm.bookings.services import dealer_time_zone
from dealercrm.core.models import User
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.selectors import with_customer_phone
from dealercrm.customers.timeline import ProviderQuery, TimelineEntry

from ..models import Appointment, AppointmentStatus
from ..models.records import AppointmentQuerySet
from ..services.appointments import BOOKING_SOURCE, TAKING_PLACE, day_bounds
from ..services.policy import policy_for_dealer

STATUS_ICONS = {
    AppointmentStatus.BOOKED: "calendar-event",
    AppointmentStatus.ARRIVED: "car-garage",
    AppointmentStatus.CANCELLED: "calendar-x",
    AppointmentStatus.NO_SHOW: "user-off",
}


def visible_appointments(user: User) -> AppointmentQuerySet:
    qs = Appointment.objects.all()
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    return qs


def get_appointment_for_user(user: User, appointment_id: int | str) -> Appointment:
    try:
        return (
            with_customer_phone(visible_appointments(user))
            .select_related(
                "customer",
                "vehicle__car_model",
                "advisor",
                "dealer",
                "bay_booking__resource",
                "loan_car_booking__resource",
                "repair_order",
            )
            .get(pk=int(appointment_id))
        )
    except (Appointment.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def appointment_list(
    user: User,
    *,
    dealer_id: int | None = None,
    status: str = "",
    day_from: datetime.date | None = None,
    day_to: datetime.date | None = None,
    advisor_id: int | None = None,
    customer_id: int | None = None,
) -> AppointmentQuerySet:
    """Appointments, soonest first, with what the list shows (one query)."""
    qs = visible_appointments(user)
    if dealer_id is not None:
        qs = qs.filter(dealer_id=dealer_id)
    tz = dealer_time_zone(dealer_id or user.dealer_id) if (dealer_id or user.dealer_id) else None
    if status in AppointmentStatus.values:
        qs = qs.filter(status=status)
    if day_from is not None:
        start = (
            datetime.datetime.combine(day_from, datetime.time(0), tzinfo=tz)
            if tz
            else timezone.make_aware(datetime.datetime.combine(day_from, datetime.time(0)))
        )
        qs = qs.filter(starts_at__gte=start)
    if day_to is not None:
        end_day = day_to + datetime.timedelta(days=1)
        end = (
            datetime.datetime.combine(end_day, datetime.time(0), tzinfo=tz)
            if tz
            else timezone.make_aware(datetime.datetime.combine(end_day, datetime.time(0)))
        )
        qs = qs.filter(starts_at__lt=end)
    if advisor_id:
        qs = qs.filter(advisor_id=advisor_id)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    return (
        with_customer_phone(qs)
        .select_related("customer", "vehicle__car_model", "advisor", "bay_booking__resource")
        .order_by("starts_at", "id")
    )


# --- free slots ------------------------------------------------------------------------------


def _service_bays(dealer_id: int) -> list[Resource]:
    return list(
        Resource.objects.filter(
            dealer_id=dealer_id, kind=ResourceKind.SERVICE_BAY, is_active=True
        ).order_by("name", "id")
    )


def _bay_open(bay: Resource, start: datetime.datetime, end: datetime.datetime, tz) -> bool:  # noqa: ANN001
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    return bay.opens_at <= local_start.time() and (
        local_end.time() <= bay.closes_at and local_end.date() == local_start.date()
    )


def _day_slots(
    policy: Any, day: datetime.date, tz
) -> list[tuple[datetime.datetime, datetime.datetime]]:  # noqa: ANN001
    if day.weekday() not in policy.open_weekdays:
        return []
    step = datetime.timedelta(minutes=policy.slot_minutes)
    slot = datetime.datetime.combine(day, policy.opens_at, tzinfo=tz)
    closes = datetime.datetime.combine(day, policy.closes_at, tzinfo=tz)
    slots = []
    while slot + step <= closes:
        slots.append((slot, slot + step))
        slot += step
    return slots


def free_slots(
    dealer_id: int, day: datetime.date
) -> list[tuple[datetime.datetime, datetime.datetime, int]]:
    """The day's bookable slots still to come, each with how many bays are free for it:
    [(starts_at, ends_at, free_bays)], in the dealer's time zone. A day that is closed, or full
    (its capacity reached), has none. Four queries whatever the bookings."""
    tz = dealer_time_zone(dealer_id)
    policy = policy_for_dealer(dealer_id)
    slots = _day_slots(policy, day, tz)
    if not slots:
        return []
    start, end = day_bounds(day, tz)
    taken = Appointment.objects.filter(
        dealer_id=dealer_id, starts_at__gte=start, starts_at__lt=end, status__in=TAKING_PLACE
    ).count()
    if taken >= policy.daily_capacity:
        return []
    bays = _service_bays(dealer_id)
    if not bays:
        return []
    bookings = list(
        Booking.objects.filter(
            dealer_id=dealer_id, resource_id__in=[b.pk for b in bays], status=BookingStatus.ACTIVE
        )
        .overlapping(start, end)
        .values_list("resource_id", "starts_at", "ends_at")
    )
    now = timezone.now()
    result = []
    for slot_start, slot_end in slots:
        if slot_start < now:
            continue
        free = 0
        for bay in bays:
            if not _bay_open(bay, slot_start, slot_end, tz):
                continue
            if any(
                rid == bay.pk and b_start < slot_end and b_end > slot_start
                for rid, b_start, b_end in bookings
            ):
                continue
            free += 1
        result.append((slot_start, slot_end, free))
    return result


# --- the calendar --------------------------------------------------------------------------


@dataclass
class CalendarEntry:
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    local_start: str
    local_end: str
    appointment_id: int | None = None
    customer_name: str = ""
    phone_masked: str = ""
    plate: str = ""
    kind_label: str = ""
    status: str = ""
    status_label: str = ""
    advisor_name: str = ""
    title: str = ""


@dataclass
class CalendarCell:
    kind: str  # "free", "booked", "closed" (outside the bay's or workshop's hours), "past"
    starts_at: datetime.datetime
    span: int = 1
    entry: CalendarEntry | None = None


@dataclass
class CalendarDay:
    date: datetime.date
    entries: list[CalendarEntry] = field(default_factory=list)
    is_today: bool = False
    is_past: bool = False
    used: int = 0


@dataclass
class CalendarRow:
    bay: Resource
    cells: list[CalendarCell] = field(default_factory=list)
    days: list[CalendarDay] = field(default_factory=list)


@dataclass
class ServiceCalendar:
    dealer_id: int
    view: str
    day: datetime.date
    days: list[datetime.date]
    slots: list[datetime.datetime]
    rows: list[CalendarRow]
    previous: datetime.date
    next: datetime.date
    today: datetime.date
    capacity: int
    used: int  # booked + arrived appointments of the day (day view) or the week
    used_by_day: dict[datetime.date, int]
    slot_minutes: int
    is_open: bool = True


def _entries(
    dealer_id: int,
    bays: list[Resource],
    start,
    end,
    tz,  # noqa: ANN001
) -> dict[int, list[CalendarEntry]]:
    """The bays' active bookings in [start, end), with their appointments (two queries)."""
    bookings = list(
        Booking.objects.filter(
            dealer_id=dealer_id, resource_id__in=[b.pk for b in bays], status=BookingStatus.ACTIVE
        )
        .overlapping(start, end)
        .order_by("resource_id", "starts_at", "id")
    )
    appointment_ids = [
        int(b.source_id)
        for b in bookings
        if b.source_kind == BOOKING_SOURCE and b.source_id.isdigit()
    ]
    appointments = (
        {
            a.pk: a
            for a in with_customer_phone(
                Appointment.objects.filter(dealer_id=dealer_id, pk__in=appointment_ids)
            ).select_related("customer", "vehicle", "advisor")
        }
        if appointment_ids
        else {}
    )
    by_bay: dict[int, list[CalendarEntry]] = {}
    for booking in bookings:
        entry = CalendarEntry(
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            local_start=booking.starts_at.astimezone(tz).strftime("%H:%M"),
            local_end=booking.ends_at.astimezone(tz).strftime("%H:%M"),
        )
        appointment = (
            appointments.get(int(booking.source_id))
            if booking.source_kind == BOOKING_SOURCE and booking.source_id.isdigit()
            else None
        )
        if appointment is not None:
            entry.appointment_id = appointment.pk
            entry.customer_name = appointment.customer.name
            entry.phone_masked = (
                mask_phone(appointment.customer_phone) if appointment.customer_phone else ""
            )
            entry.plate = appointment.vehicle.plate if appointment.vehicle_id else ""
            entry.kind_label = str(appointment.get_kind_display())
            entry.status = appointment.status
            entry.status_label = str(appointment.get_status_display())
            entry.advisor_name = str(appointment.advisor) if appointment.advisor_id else ""
        else:
            entry.title = booking.title or _("Booked")
        by_bay.setdefault(booking.resource_id, []).append(entry)
    return by_bay


def _used_by_day(dealer_id: int, start, end, tz) -> dict[datetime.date, int]:  # noqa: ANN001
    """Booked + arrived appointments per local day in [start, end) (one query)."""
    counts: dict[datetime.date, int] = {}
    for starts_at in Appointment.objects.filter(
        dealer_id=dealer_id, starts_at__gte=start, starts_at__lt=end, status__in=TAKING_PLACE
    ).values_list("starts_at", flat=True):
        local = starts_at.astimezone(tz).date()
        counts[local] = counts.get(local, 0) + 1
    return counts


def day_calendar(
    user: User, *, dealer_id: int, day: datetime.date | None = None, view: str = "day"
) -> ServiceCalendar:
    """The service bays × the workshop's slots of a day (or × the days of a week from Monday),
    with what is booked, what is free, and the day's capacity used. A fixed number of queries."""
    tz: zoneinfo.ZoneInfo = dealer_time_zone(dealer_id)
    now = timezone.now()
    today = now.astimezone(tz).date()
    day = day or today
    view = "week" if view == "week" else "day"
    policy = policy_for_dealer(dealer_id)
    bays = _service_bays(dealer_id)
    if view == "week":
        first = day - datetime.timedelta(days=day.weekday())
        days = [first + datetime.timedelta(days=i) for i in range(7)]
        step = datetime.timedelta(days=7)
    else:
        days = [day]
        step = datetime.timedelta(days=1)
    start, _end = day_bounds(days[0], tz)
    _start, end = day_bounds(days[-1], tz)
    by_bay = _entries(dealer_id, bays, start, end, tz) if bays else {}
    used_by_day = _used_by_day(dealer_id, start, end, tz)
    slot_width = datetime.timedelta(minutes=policy.slot_minutes)
    slots = [s for s, _e in _day_slots(policy, day, tz)] if view == "day" else []
    rows: list[CalendarRow] = []
    for bay in bays:
        row = CalendarRow(bay=bay)
        entries = by_bay.get(bay.pk, [])
        if view == "day":
            index = 0
            while index < len(slots):
                slot = slots[index]
                entry = next(
                    (e for e in entries if e.starts_at < slot + slot_width and e.ends_at > slot),
                    None,
                )
                if entry is not None:
                    span = 1
                    while index + span < len(slots) and slots[index + span] < entry.ends_at:
                        span += 1
                    row.cells.append(CalendarCell("booked", slot, span=span, entry=entry))
                    index += span
                    continue
                if not _bay_open(bay, slot, slot + slot_width, tz):
                    kind = "closed"
                elif slot < now:
                    kind = "past"
                else:
                    kind = "free"
                row.cells.append(CalendarCell(kind, slot))
                index += 1
        else:
            for date in days:
                day_start, day_end = day_bounds(date, tz)
                row.days.append(
                    CalendarDay(
                        date=date,
                        entries=[
                            e for e in entries if e.starts_at < day_end and e.ends_at > day_start
                        ],
                        is_today=date == today,
                        is_past=date < today,
                        used=used_by_day.get(date, 0),
                    )
                )
        rows.append(row)
    used = sum(used_by_day.values()) if view == "week" else used_by_day.get(day, 0)
    return ServiceCalendar(
        dealer_id=dealer_id,
        view=view,
        day=day,
        days=days,
        slots=slots,
        rows=rows,
        previous=day - step,
        next=day + step,
        today=today,
        capacity=policy.daily_capacity * (len(days) if view == "week" else 1),
        used=used,
        used_by_day=used_by_day,
        slot_minutes=policy.slot_minutes,
        is_open=view == "week" or day.weekday() in policy.open_weekdays,
    )


# --- workspace and timeline --------------------------------------------------------------------


def todays_appointments(user: User, today: datetime.date, *, limit: int) -> list[Appointment]:
    """The dealer's appointments of the day still to come or here (one query)."""
    tz = dealer_time_zone(user.dealer_id)
    start, end = day_bounds(today, tz)
    return list(
        Appointment.objects.filter(
            dealer_id=user.dealer_id,
            starts_at__gte=start,
            starts_at__lt=end,
            status__in=TAKING_PLACE,
        )
        .select_related("customer", "vehicle")
        .order_by("starts_at", "id")[:limit]
    )


def _appointments(dealer_id: int, customer_id: int, before: datetime.datetime | None) -> QuerySet:
    qs = Appointment.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
    if before is not None:
        qs = qs.filter(starts_at__lt=before)
    return qs.select_related("vehicle", "advisor").order_by("-starts_at", "-id")


_APPOINTMENTS = ProviderQuery(_appointments)


def appointment_timeline(
    customer,
    *,
    limit: int,
    before: datetime.datetime | None,  # noqa: ANN001
) -> list[TimelineEntry]:
    """The customer's service appointments on the 360 timeline, newest first (one query)."""
    entries = []
    for appointment in _APPOINTMENTS(customer, limit=limit, before=before):
        title = _("Service appointment (%(status)s): %(kind)s") % {
            "status": appointment.get_status_display(),
            "kind": appointment.get_kind_display(),
        }
        body = []
        if appointment.vehicle_id:
            body.append(appointment.vehicle.plate or appointment.vehicle.vin)
        if appointment.concern:
            body.append(appointment.concern)
        if appointment.cancel_reason:
            body.append(appointment.cancel_reason)
        entries.append(
            TimelineEntry(
                occurred_at=appointment.starts_at,
                kind="service_appointment",
                icon=STATUS_ICONS.get(appointment.status, "calendar-event"),
                title=title,
                body=" — ".join(body),
                actor=str(appointment.advisor) if appointment.advisor_id else "",
                url=reverse(
                    "service:appointment_detail", kwargs={"appointment_id": appointment.pk}
                ),
                source="service",
            )
        )
    return entries
