"""Reads of test drives: look-ups by id, the calendar of demo cars, a lead's and a customer's
test drives (the timeline provider).

The calendar shows every booking of the dealer's demo cars, since a slot taken by a colleague's
customer is still taken; but who the customer is (name, masked phone) and the link to the test
drive are shown only for test drives of leads the user sees — a consultant sees their own.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.bookings.models import Booking, Resource, ResourceKind
from dealercrm.bookings.services import dealer_time_zone
from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.selectors import with_customer_phone
from dealercrm.customers.timeline import ProviderQuery, TimelineEntry

from ..models import Lead, SalesPolicy, TestDrive, TestDriveStatus
from ..models.leads import CLOSED_STAGES
from ..models.test_drives import TestDriveQuerySet

# The calendar's grid: one column per half hour.
SLOT_MINUTES = 30
# Leads offered when booking from the calendar: a consultant's own open leads, newest first.
BOOKABLE_LEADS_LIMIT = 200

STATUS_ICONS = {
    TestDriveStatus.SCHEDULED: "steering-wheel",
    TestDriveStatus.COMPLETED: "circle-check",
    TestDriveStatus.NO_SHOW: "user-off",
    TestDriveStatus.CANCELLED: "circle-x",
}


def visible_test_drives(user: User) -> TestDriveQuerySet:
    qs = TestDrive.objects.visible_to(user)
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    return qs


def get_test_drive_for_user(user: User, test_drive_id: int | str) -> TestDrive:
    """The test drive with what its page shows, or 404 alike for missing and not visible."""
    try:
        return with_customer_phone(
            visible_test_drives(user).select_related(
                "lead",
                "customer",
                "demo_car__car_model",
                "consultant",
                "licence_checked_by",
                "booking",
            )
        ).get(pk=int(test_drive_id))
    except (TestDrive.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def get_lead_for_test_drive(user: User, lead_id: int | str) -> Lead:
    """A lead the user may book a test drive for (their own, or any for a manager), or 404."""
    qs = Lead.objects.visible_to(user)
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    try:
        return qs.select_related("customer", "car_model", "consultant").get(pk=int(lead_id))
    except (Lead.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def demo_cars(dealer_id: int, *, active_only: bool = True) -> list[Resource]:
    qs = Resource.objects.filter(dealer_id=dealer_id, kind=ResourceKind.DEMO_CAR)
    if active_only:
        qs = qs.filter(is_active=True)
    return list(qs.select_related("car_model").order_by("name", "id"))


def bookable_leads(user: User, dealer_id: int) -> list[Lead]:
    """The open leads the user may book for: their own (a manager: the dealer's)."""
    qs = (
        Lead.objects.visible_to(user)
        .filter(dealer_id=dealer_id)
        .exclude(stage__in=[s.value for s in CLOSED_STAGES])
        .select_related("customer", "car_model")
        .order_by("-created_at", "-id")
    )
    return list(qs[:BOOKABLE_LEADS_LIMIT])


def lead_test_drives(lead: Lead) -> list[TestDrive]:
    """The lead's test drives, newest first (one query), for the lead page's section."""
    return list(
        TestDrive.objects.filter(dealer_id=lead.dealer_id, lead_id=lead.pk)
        .select_related("demo_car__car_model", "consultant")
        .order_by("-starts_at", "-id")
    )


def test_drive_list(
    user: User,
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    demo_car_id: int | None = None,
    status: str = "",
) -> list[TestDrive]:
    qs = visible_test_drives(user).between(start, end)
    if demo_car_id is not None:
        qs = qs.filter(demo_car_id=demo_car_id)
    if status in TestDriveStatus.values:
        qs = qs.filter(status=status)
    return list(
        with_customer_phone(qs.select_related("customer", "demo_car", "consultant")).order_by(
            "starts_at", "id"
        )
    )


# --- the calendar -----------------------------------------------------------------------------


@dataclass
class CalendarBooking:
    """A booked stretch of a demo car as the calendar shows it."""

    starts_at: datetime.datetime
    ends_at: datetime.datetime
    local_start: str
    local_end: str
    test_drive_id: int | None = None
    visible: bool = False  # the user may see who it is for
    customer_name: str = ""
    phone_masked: str = ""
    consultant_name: str = ""
    status: str = ""
    status_label: str = ""
    pickup: bool = False
    title: str = ""


@dataclass
class CalendarCell:
    kind: str  # "free", "booked", "closed" (outside the car's hours), "past"
    starts_at: datetime.datetime
    span: int = 1
    booking: CalendarBooking | None = None


@dataclass
class CalendarDay:
    date: datetime.date
    bookings: list[CalendarBooking] = field(default_factory=list)
    is_today: bool = False
    is_past: bool = False


@dataclass
class CalendarRow:
    car: Resource
    cells: list[CalendarCell] = field(default_factory=list)  # day view
    days: list[CalendarDay] = field(default_factory=list)  # week view


@dataclass
class Calendar:
    dealer_id: int
    view: str  # "day" or "week"
    day: datetime.date
    days: list[datetime.date]
    slots: list[datetime.datetime]  # day view: the columns
    rows: list[CalendarRow]
    previous: datetime.date
    next: datetime.date
    today: datetime.date
    slot_minutes: int = SLOT_MINUTES
    test_drive_minutes: int = 60


def _local_aware(day: datetime.date, time: datetime.time, tz: zoneinfo.ZoneInfo):  # noqa: ANN202
    return datetime.datetime.combine(day, time, tzinfo=tz)


def _calendar_bookings(
    user: User,
    dealer_id: int,
    cars: list[Resource],
    start,
    end,
    tz,  # noqa: ANN001
) -> dict[int, list[CalendarBooking]]:
    """The cars' active bookings in [start, end), with their test drives (two queries)."""
    bookings = list(
        Booking.objects.filter(dealer_id=dealer_id, resource_id__in=[c.pk for c in cars])
        .active()
        .overlapping(start, end)
        .order_by("resource_id", "starts_at", "id")
    )
    drives = (
        {
            td.booking_id: td
            for td in with_customer_phone(
                TestDrive.objects.filter(
                    dealer_id=dealer_id, booking_id__in=[b.pk for b in bookings]
                ).select_related("customer", "consultant", "lead")
            )
        }
        if bookings
        else {}
    )
    see_all = user.has_perm(Perm.VIEW_ALL_LEADS)
    by_car: dict[int, list[CalendarBooking]] = {}
    for booking in bookings:
        item = CalendarBooking(
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            local_start=booking.starts_at.astimezone(tz).strftime("%H:%M"),
            local_end=booking.ends_at.astimezone(tz).strftime("%H:%M"),
        )
        td = drives.get(booking.pk)
        if td is not None:
            item.test_drive_id = td.pk
            item.status = td.status
            item.status_label = str(td.get_status_display())
            item.consultant_name = str(td.consultant) if td.consultant_id else ""
            item.pickup = td.pickup
            item.visible = see_all or td.lead.consultant_id == user.pk
            if item.visible:
                item.customer_name = td.customer.name
                item.phone_masked = mask_phone(td.customer_phone) if td.customer_phone else ""
        else:
            item.title = _("Booked")
        by_car.setdefault(booking.resource_id, []).append(item)
    return by_car


def test_drive_calendar(
    user: User, *, dealer_id: int, day: datetime.date | None = None, view: str = "day"
) -> Calendar:
    """The demo cars × half-hour slots of a day (or × days of the week from Monday), with what
    is booked, what is free and what is closed or past. A fixed number of queries."""
    tz = dealer_time_zone(dealer_id)
    now = timezone.now()
    today = now.astimezone(tz).date()
    day = day or today
    view = "week" if view == "week" else "day"
    policy = SalesPolicy.objects.filter(dealer_id=dealer_id).first()
    opens = policy.opens_at if policy else datetime.time(9, 0)
    closes = policy.closes_at if policy else datetime.time(18, 0)
    minutes = policy.test_drive_minutes if policy else 60
    cars = demo_cars(dealer_id)
    if cars:
        opens = min([opens, *(c.opens_at for c in cars)])
        closes = max([closes, *(c.closes_at for c in cars)])
    if view == "week":
        first = day - datetime.timedelta(days=day.weekday())
        days = [first + datetime.timedelta(days=i) for i in range(7)]
        step = datetime.timedelta(days=7)
    else:
        days = [day]
        step = datetime.timedelta(days=1)
    start = _local_aware(days[0], datetime.time(0), tz)
    end = _local_aware(days[-1] + datetime.timedelta(days=1), datetime.time(0), tz)
    by_car = _calendar_bookings(user, dealer_id, cars, start, end, tz) if cars else {}

    slots: list[datetime.datetime] = []
    if view == "day":
        slot = _local_aware(day, opens, tz)
        last = _local_aware(day, closes, tz)
        while slot < last:
            slots.append(slot)
            slot += datetime.timedelta(minutes=SLOT_MINUTES)
    width = datetime.timedelta(minutes=SLOT_MINUTES)
    rows: list[CalendarRow] = []
    for car in cars:
        row = CalendarRow(car=car)
        bookings = by_car.get(car.pk, [])
        if view == "day":
            index = 0
            car_opens = _local_aware(day, car.opens_at, tz)
            car_closes = _local_aware(day, car.closes_at, tz)
            while index < len(slots):
                slot = slots[index]
                hit = next(
                    (b for b in bookings if b.starts_at < slot + width and b.ends_at > slot), None
                )
                if hit is not None:
                    span = 1
                    while (
                        index + span < len(slots)
                        and hit.starts_at < slots[index + span] + width
                        and hit.ends_at > slots[index + span]
                    ):
                        span += 1
                    row.cells.append(CalendarCell("booked", slot, span, hit))
                    index += span
                    continue
                if slot < car_opens or slot + width > car_closes:
                    kind = "closed"
                elif slot < now:
                    kind = "past"
                else:
                    kind = "free"
                row.cells.append(CalendarCell(kind, slot))
                index += 1
        else:
            for date in days:
                day_start = _local_aware(date, datetime.time(0), tz)
                day_end = day_start + datetime.timedelta(days=1)
                row.days.append(
                    CalendarDay(
                        date=date,
                        bookings=[
                            b for b in bookings if b.starts_at < day_end and b.ends_at > day_start
                        ],
                        is_today=date == today,
                        is_past=date < today,
                    )
                )
        rows.append(row)
    return Calendar(
        dealer_id=dealer_id,
        view=view,
        day=day,
        days=days,
        slots=slots,
        rows=rows,
        previous=day - step,
        next=day + step,
        today=today,
        test_drive_minutes=minutes,
    )


# --- the customer timeline --------------------------------------------------------------------


def _test_drives(dealer_id: int, customer_id: int, before: datetime.datetime | None) -> QuerySet:
    qs = TestDrive.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
    if before is not None:
        qs = qs.filter(starts_at__lt=before)
    return qs.select_related("demo_car__car_model", "consultant").order_by("-starts_at", "-id")


_TEST_DRIVES = ProviderQuery(_test_drives)


def test_drive_timeline(
    customer,
    *,
    limit: int,
    before: datetime.datetime | None,  # noqa: ANN001
) -> list[TimelineEntry]:
    """The customer's test drives on the 360 timeline, newest first, in one query."""
    entries = []
    for td in _TEST_DRIVES(customer, limit=limit, before=before):
        car = td.demo_car.name
        if td.demo_car.car_model_id:
            car = f"{td.demo_car.name} · {td.demo_car.car_model}"
        title = _("Test drive (%(status)s): %(car)s") % {
            "status": td.get_status_display(),
            "car": car,
        }
        body_parts = []
        if td.rating:
            body_parts.append("★" * td.rating)
        if td.feedback:
            body_parts.append(td.feedback)
        if td.cancel_reason:
            body_parts.append(td.cancel_reason)
        entries.append(
            TimelineEntry(
                occurred_at=td.starts_at,
                kind="test_drive",
                icon=STATUS_ICONS.get(td.status, "steering-wheel"),
                title=title,
                body=" — ".join(body_parts),
                actor=str(td.consultant) if td.consultant_id else "",
                url=reverse("sales:test_drive", kwargs={"test_drive_id": td.pk}),
                source="sales",
            )
        )
    return entries
