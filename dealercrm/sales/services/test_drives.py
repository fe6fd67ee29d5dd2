"""Test drives: booking a demo car for a prospect, the licence check, the outcome, the reminder.

CONTRACT (other topics call these; keep the signatures):
- `test_drive_book(*, actor, lead, demo_car, starts_at, ends_at=None, pickup=False,
   pickup_address="") -> TestDrive`  books the car through bookings.services.booking_create
  (double booking refused), refuses the past.
- `test_drive_licence_check(*, actor, test_drive, valid_until) -> TestDrive`
- `test_drive_complete(*, actor, test_drive, feedback="", rating=None) -> TestDrive`
  needs the licence check; advances the lead to "test_drive".
- `test_drive_cancel(*, actor, test_drive, reason="")`, `test_drive_no_show(*, actor, test_drive)`
- `test_drive_reminders_send(*, now=None) -> int`  the day-before reminder (messaging), idempotent.

The demo car is held by a `bookings.Booking`: the bookings app is the one place that decides
whether a car is free, so a test drive can never double-book a car, whoever books it and
however (page, calendar, API, OEM dispatch). Cancelling or a no-show frees the car.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from dealercrm.bookings import services as bookings
from dealercrm.bookings.models import Booking, Resource, ResourceKind
from dealercrm.core.models import User

from ..models import Lead, LeadStage, SalesPolicy, TestDrive, TestDriveStatus
from ..models.leads import CLOSED_STAGES
from .leads import lead_stage_advance

logger = logging.getLogger(__name__)

BOOKING_SOURCE = "sales.test_drive"
REMINDER_SOURCE = "test_drive:{id}:reminder"
# The reminder goes out on the day before; candidates are read from this far ahead (time zones
# east and west of the server's clock are all covered).
REMINDER_HORIZON = datetime.timedelta(hours=50)


def policy_test_drive_minutes(dealer_id: int) -> int:
    """The dealer's test-drive length (a read: no policy row is made for it)."""
    minutes = (
        SalesPolicy.objects.filter(dealer_id=dealer_id)
        .values_list("test_drive_minutes", flat=True)
        .first()
    )
    return minutes or SalesPolicy._meta.get_field("test_drive_minutes").default


def drive_day(test_drive: TestDrive, tz: zoneinfo.ZoneInfo | None = None) -> datetime.date:
    """The test drive's date at the dealer."""
    tz = tz or bookings.dealer_time_zone(test_drive.dealer_id)
    return test_drive.starts_at.astimezone(tz).date()


def _booking_errors(exc: ValidationError) -> ValidationError:
    """The booking's refusal, keyed by the test-drive form's fields (the car is `demo_car`)."""
    if not hasattr(exc, "error_dict"):
        return exc
    renamed: dict[str, list[str]] = {}
    for key, messages in exc.message_dict.items():
        renamed.setdefault("demo_car" if key == "resource" else key, []).extend(messages)
    return ValidationError(renamed)


@transaction.atomic
def test_drive_book(
    *,
    actor: User | None,
    lead: Lead,
    demo_car: Resource,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime | None = None,
    pickup: bool = False,
    pickup_address: str = "",
) -> TestDrive:
    """Book `demo_car` for the lead's prospect; refused with the reason and nothing saved when
    the car is taken, out of use or outside its hours, the time is past, or the lead closed."""
    errors: dict[str, list[str]] = {}
    if lead.stage in CLOSED_STAGES:
        errors.setdefault("lead", []).append(
            _("This lead is closed (%(stage)s): no test drive can be booked for it.")
            % {"stage": lead.get_stage_display()}
        )
    if demo_car is None or demo_car.dealer_id != lead.dealer_id:
        # Another dealer's car is no car at all for this dealer: nothing about it is told.
        errors.setdefault("demo_car", []).append(_("Choose one of the dealer's demo cars."))
    elif demo_car.kind != ResourceKind.DEMO_CAR:
        errors.setdefault("demo_car", []).append(
            _("%(name)s is not a demo car.") % {"name": demo_car.name}
        )
    pickup_address = (pickup_address or "").strip()
    if pickup and not pickup_address:
        errors.setdefault("pickup_address", []).append(
            _("Say where to pick the customer up, or untick the pick-up.")
        )
    if not isinstance(starts_at, datetime.datetime):
        errors.setdefault("starts_at", []).append(_("Enter when the test drive starts."))
    if errors:
        raise ValidationError(errors)
    tz = bookings.dealer_time_zone(lead.dealer_id)
    starts_at = bookings.as_local(starts_at, tz)
    if ends_at is None:
        ends_at = starts_at + datetime.timedelta(minutes=policy_test_drive_minutes(lead.dealer_id))
    customer = lead.customer
    try:
        booking = bookings.booking_create(
            dealer_id=lead.dealer_id,
            resource=demo_car,
            starts_at=starts_at,
            ends_at=ends_at,
            customer_id=lead.customer_id,
            title=customer.form_of_address,
            source_kind=BOOKING_SOURCE,
            actor=actor,
        )
    except ValidationError as exc:
        raise _booking_errors(exc) from exc
    now = timezone.now()
    test_drive = TestDrive.objects.create(
        dealer_id=lead.dealer_id,
        lead=lead,
        customer_id=lead.customer_id,
        demo_car=demo_car,
        booking=booking,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        consultant_id=lead.consultant_id or (actor.pk if actor is not None else None),
        pickup=bool(pickup),
        pickup_address=pickup_address[:200] if pickup else "",
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    Booking.objects.filter(pk=booking.pk, dealer_id=booking.dealer_id).update(
        source_id=str(test_drive.pk)
    )
    return test_drive


def _locked(test_drive: TestDrive) -> TestDrive:
    """Re-read the status locked: two people closing the same test drive close it once."""
    current = (
        TestDrive.objects.select_for_update()
        .filter(pk=test_drive.pk, dealer_id=test_drive.dealer_id)
        .values("status")
        .get()
    )
    test_drive.status = current["status"]
    return test_drive


def _require_scheduled(test_drive: TestDrive) -> None:
    if test_drive.status != TestDriveStatus.SCHEDULED:
        raise ValidationError(
            {
                "status": _("This test drive is already closed (%(status)s).")
                % {"status": test_drive.get_status_display()}
            }
        )


def _save(test_drive: TestDrive, fields: list[str]) -> TestDrive:
    test_drive.updated_at = timezone.now()
    test_drive.save(update_fields=[*fields, "updated_at"])
    return test_drive


@transaction.atomic
def test_drive_move(
    *,
    actor: User | None,
    test_drive: TestDrive,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime | None = None,
) -> TestDrive:
    """Another time for the same car (the same length unless `ends_at` is given)."""
    _require_scheduled(_locked(test_drive))
    if test_drive.booking_id is None:
        raise ValidationError({"starts_at": _("This test drive holds no booking to move.")})
    tz = bookings.dealer_time_zone(test_drive.dealer_id)
    starts_at = bookings.as_local(starts_at, tz)
    if ends_at is None and isinstance(starts_at, datetime.datetime):
        ends_at = starts_at + (test_drive.ends_at - test_drive.starts_at)
    booking = Booking.objects.select_related("resource").get(
        pk=test_drive.booking_id, dealer_id=test_drive.dealer_id
    )
    try:
        bookings.booking_move(actor=actor, booking=booking, starts_at=starts_at, ends_at=ends_at)
    except ValidationError as exc:
        raise _booking_errors(exc) from exc
    test_drive.starts_at, test_drive.ends_at = booking.starts_at, booking.ends_at
    # A new day needs a new reminder.
    test_drive.reminder_sent_at = None
    return _save(test_drive, ["starts_at", "ends_at", "reminder_sent_at"])


@transaction.atomic
def test_drive_licence_check(
    *, actor: User | None, test_drive: TestDrive, valid_until: datetime.date | None
) -> TestDrive:
    """Record that the driving licence was seen, valid until `valid_until`; a licence that has
    expired by the day of the drive is refused (no keys without a valid licence)."""
    _require_scheduled(_locked(test_drive))
    if not isinstance(valid_until, datetime.date):
        raise ValidationError(
            {"valid_until": _("Enter the date the driving licence is valid until.")}
        )
    if isinstance(valid_until, datetime.datetime):
        valid_until = valid_until.date()
    day = drive_day(test_drive)
    if valid_until < day:
        raise ValidationError(
            {
                "valid_until": _(
                    "The driving licence expired on %(expired)s, before the test drive on "
                    "%(day)s: no test drive without a valid licence."
                )
                % {"expired": valid_until.isoformat(), "day": day.isoformat()}
            }
        )
    test_drive.licence_checked_at = timezone.now()
    test_drive.licence_checked_by = actor
    test_drive.licence_valid_until = valid_until
    return _save(test_drive, ["licence_checked_at", "licence_checked_by", "licence_valid_until"])


@transaction.atomic
def test_drive_complete(
    *,
    actor: User | None,
    test_drive: TestDrive,
    feedback: str = "",
    rating: int | None = None,
) -> TestDrive:
    """The prospect drove: their feedback and rating (1–5) are kept and the lead moves on to the
    "test drive" stage. Needs the licence check first, and the day of the drive."""
    _require_scheduled(_locked(test_drive))
    errors: dict[str, list[str]] = {}
    if test_drive.licence_checked_at is None:
        errors.setdefault("licence", []).append(
            _("Check the driving licence before the test drive can be recorded as driven.")
        )
    if rating is not None and rating != "":
        try:
            rating = int(rating)
        except (TypeError, ValueError):
            rating = -1
        if not 1 <= rating <= 5:
            errors.setdefault("rating", []).append(_("Rate from 1 to 5 stars, or leave it empty."))
    else:
        rating = None
    now = timezone.now()
    tz = bookings.dealer_time_zone(test_drive.dealer_id)
    if now.astimezone(tz).date() < drive_day(test_drive, tz):
        errors.setdefault("status", []).append(
            _("This test drive is on %(day)s: record its outcome on the day.")
            % {"day": drive_day(test_drive, tz).isoformat()}
        )
    if errors:
        raise ValidationError(errors)
    test_drive.status = TestDriveStatus.COMPLETED
    test_drive.feedback = (feedback or "").strip()
    test_drive.rating = rating
    test_drive.completed_at = now
    _save(test_drive, ["status", "feedback", "rating", "completed_at"])
    lead = Lead.objects.get(pk=test_drive.lead_id, dealer_id=test_drive.dealer_id)
    if lead.stage != LeadStage.LOST:
        lead_stage_advance(actor=actor, lead=lead, stage=LeadStage.TEST_DRIVE, at=now)
    return test_drive


def _free_car(actor: User | None, test_drive: TestDrive) -> None:
    if test_drive.booking_id is None:
        return
    booking = Booking.objects.get(pk=test_drive.booking_id, dealer_id=test_drive.dealer_id)
    bookings.booking_cancel(actor=actor, booking=booking)


@transaction.atomic
def test_drive_cancel(*, actor: User | None, test_drive: TestDrive, reason: str = "") -> TestDrive:
    """Call the test drive off and free the car for others."""
    _require_scheduled(_locked(test_drive))
    test_drive.status = TestDriveStatus.CANCELLED
    test_drive.cancelled_at = timezone.now()
    test_drive.cancel_reason = (reason or "").strip()[:200]
    _save(test_drive, ["status", "cancelled_at", "cancel_reason"])
    _free_car(actor, test_drive)
    return test_drive


@transaction.atomic
def test_drive_no_show(*, actor: User | None, test_drive: TestDrive) -> TestDrive:
    """The prospect did not come: recorded once the start time has passed; the car is freed for
    the rest of the slot."""
    _require_scheduled(_locked(test_drive))
    if timezone.now() < test_drive.starts_at:
        tz = bookings.dealer_time_zone(test_drive.dealer_id)
        raise ValidationError(
            {
                "status": _("The test drive starts at %(time)s: a no-show is recorded after that.")
                % {"time": test_drive.starts_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")}
            }
        )
    test_drive.status = TestDriveStatus.NO_SHOW
    _save(test_drive, ["status"])
    _free_car(actor, test_drive)
    return test_drive


# --- the day-before reminder ------------------------------------------------------------------


@dataclass
class ReminderReport:
    """What one run of the reminders did."""

    sent: int = 0  # queued now (or found queued by an earlier run that crashed before marking)
    no_address: int = 0  # no mobile phone nor WeChat: skipped, not an error
    failed: int = 0  # refused for another reason (a dealer template missing a variable …)


def _reminder_time(starts_at: datetime.datetime, tz: zoneinfo.ZoneInfo) -> dict[str, str]:
    local = starts_at.astimezone(tz)
    return {
        "test_drive_time": f"{local.month}月{local.day}日 {local:%H:%M}",
        "date": f"{local.month}月{local.day}日",
        "time": f"{local:%H:%M}",
    }


def _reminder_body(test_drive: TestDrive) -> str:
    # The customer reads Chinese; the English msgid is the source like every other string.
    car_model = test_drive.demo_car.car_model
    car = f"{car_model.series} {car_model.name}" if car_model else test_drive.demo_car.name
    with translation.override("zh-hans"):
        body = _(
            "{{ salutation }}, this is a reminder of your test drive of the %(car)s at "
            "{{ dealer_name }} tomorrow, {{ test_drive_time }}. We look forward to seeing you."
        ) % {"car": car.replace("{", "").replace("}", "")}
        if test_drive.pickup and test_drive.pickup_address:
            body += _(" We will pick you up at %(address)s.") % {
                "address": test_drive.pickup_address.replace("{", "").replace("}", "")
            }
    return body


def _reminder_templates(dealer_ids: set[int]) -> Mapping[tuple[int, str], Any]:
    """The dealers' own active test-drive reminder templates, by (dealer, channel)."""
    from dealercrm.messaging.models import Language, MessageTemplate, Purpose

    found: dict[tuple[int, str], Any] = {}
    rows = MessageTemplate.objects.filter(
        dealer_id__in=sorted(dealer_ids), purpose=Purpose.TEST_DRIVE_REMINDER, is_active=True
    ).order_by("dealer_id", "channel", "id")
    for template in rows:
        key = (template.dealer_id, template.channel)
        # A Chinese template first: the customers read Chinese.
        if key not in found or (
            template.language == Language.ZH_HANS and found[key].language != Language.ZH_HANS
        ):
            found[key] = template
    return found


def _send_reminder(test_drive: TestDrive, tz: zoneinfo.ZoneInfo, templates: Mapping) -> str:
    """ "sent", "no_address" or "failed"."""
    from dealercrm.messaging.models import Channel, Message, Purpose
    from dealercrm.messaging.services import message_send

    customer = test_drive.customer
    channels = [Channel.SMS] + ([Channel.WECHAT] if customer.wechat_id else [])
    extra = _reminder_time(test_drive.starts_at, tz)
    for channel in channels:
        template = templates.get((test_drive.dealer_id, channel))
        try:
            message_send(
                actor=None,
                customer=customer,
                channel=channel,
                purpose=Purpose.TEST_DRIVE_REMINDER,
                template=template,
                body="" if template is not None else _reminder_body(test_drive),
                source_kind=Message.SourceKind.SALES,
                source_id=REMINDER_SOURCE.format(id=test_drive.pk),
                extra=extra,
            )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {}
            if set(errors) == {"channel"}:
                continue  # no mobile (or a landline) on this channel: the next one, or skip
            logger.warning("Test-drive reminder %s not sent: %s", test_drive.pk, exc.messages)
            return "failed"
        return "sent"
    return "no_address"


def test_drive_reminders_run(*, now: datetime.datetime | None = None) -> ReminderReport:
    """Queue the reminder of every test drive that is tomorrow at its dealer, once.

    Run in the network scope (the hourly job) or a dealer's. A test drive is marked when its
    reminder is queued; the message's idempotency key (source "test_drive:<id>:reminder")
    makes a run that crashed between the two find the message instead of sending it again.
    Quiet hours are messaging's business: a reminder queued at night waits for the morning.
    """
    now = now or timezone.now()
    candidates = list(
        TestDrive.objects.scheduled()
        .filter(
            reminder_sent_at__isnull=True,
            starts_at__gt=now,
            starts_at__lt=now + REMINDER_HORIZON,
        )
        .select_related("customer", "dealer", "demo_car__car_model")
        .order_by("starts_at", "id")
    )
    report = ReminderReport()
    zones: dict[int, zoneinfo.ZoneInfo] = {}
    due: list[tuple[TestDrive, zoneinfo.ZoneInfo]] = []
    for test_drive in candidates:
        tz = zones.get(test_drive.dealer_id)
        if tz is None:
            try:
                tz = zoneinfo.ZoneInfo(test_drive.dealer.time_zone or bookings.DEFAULT_TIME_ZONE)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                tz = zoneinfo.ZoneInfo(bookings.DEFAULT_TIME_ZONE)
            zones[test_drive.dealer_id] = tz
        tomorrow = now.astimezone(tz).date() + datetime.timedelta(days=1)
        if test_drive.starts_at.astimezone(tz).date() == tomorrow:
            due.append((test_drive, tz))
    if not due:
        return report
    templates = _reminder_templates({td.dealer_id for td, _tz in due})
    sent_ids: list[int] = []
    for test_drive, tz in due:
        outcome = _send_reminder(test_drive, tz, templates)
        if outcome == "sent":
            sent_ids.append(test_drive.pk)
            report.sent += 1
        elif outcome == "no_address":
            report.no_address += 1
        else:
            report.failed += 1
    if sent_ids:
        TestDrive.objects.filter(pk__in=sent_ids).update(reminder_sent_at=now, updated_at=now)
    if report.no_address or report.failed:
        logger.info(
            "Test-drive reminders: %s sent, %s without a mobile or WeChat, %s failed",
            report.sent,
            report.no_address,
            report.failed,
        )
    return report


def test_drive_reminders_send(*, now: datetime.datetime | None = None) -> int:
    """The hourly job's service: how many reminders were queued (see test_drive_reminders_run)."""
    return test_drive_reminders_run(now=now).sent
