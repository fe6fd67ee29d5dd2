"""The test-drive API (under /api/sales/): list by time range, book, licence check, complete,
cancel, no-show.

Scoped like the pages: a consultant sees and works the test drives of their own leads; another
dealer's test drive, lead or demo car answers 404 (a demo car of another dealer, given in a
booking, is refused as "not one of the dealer's demo cars" and nothing about it is told).
Writes go through services.test_drives, so a double booking is refused here exactly as on the
calendar (422, keyed "starts_at", naming the clash). Times without a zone are the dealer's
local time.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.bookings.models import Resource
from dealercrm.bookings.services import as_local, dealer_time_zone
from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.customers.contact_masking import mask_phone

from ..models import TestDrive
from ..selectors import test_drives as selectors
from ..services import test_drives as services

router = Router(tags=["sales"])

MAX_RANGE = datetime.timedelta(days=92)


class TestDriveOut(Schema):
    __test__ = False  # not a pytest test class

    id: int
    lead_id: int
    customer_id: int
    customer_name: str
    customer_phone: str = Field(description="Masked: 138****1234")
    demo_car_id: int
    demo_car: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    consultant_id: int | None
    status: str
    pickup: bool
    pickup_address: str
    licence_checked_at: datetime.datetime | None
    licence_valid_until: datetime.date | None
    rating: int | None
    feedback: str
    completed_at: datetime.datetime | None
    cancel_reason: str

    @staticmethod
    def resolve_customer_name(obj: TestDrive) -> str:
        return obj.customer.name

    @staticmethod
    def resolve_customer_phone(obj: TestDrive) -> str:
        phone = getattr(obj, "customer_phone", "")
        return mask_phone(phone) if phone else ""

    @staticmethod
    def resolve_demo_car(obj: TestDrive) -> str:
        return obj.demo_car.name


class TestDriveListQuery(Schema):
    __test__ = False

    start: datetime.datetime | None = Field(
        default=None, description="From (inclusive); default: the start of today"
    )
    end: datetime.datetime | None = Field(
        default=None, description="Until (exclusive); default: a week after the start"
    )
    demo_car_id: int | None = None
    status: str = Field(default="", description="scheduled, completed, no_show, cancelled")


class TestDriveIn(Schema):
    __test__ = False

    lead_id: int
    demo_car_id: int
    starts_at: datetime.datetime
    ends_at: datetime.datetime | None = Field(
        default=None, description="Default: the dealer's test-drive length after the start"
    )
    pickup: bool = False
    pickup_address: str = ""


class LicenceIn(Schema):
    valid_until: datetime.date


class OutcomeIn(Schema):
    feedback: str = ""
    rating: int | None = Field(default=None, description="1–5")


class CancelIn(Schema):
    reason: str = ""


def _answer(request: HttpRequest, test_drive_id: int) -> TestDrive:
    return selectors.get_test_drive_for_user(request.user, test_drive_id)


@router.get("/test-drives", response=list[TestDriveOut])
@api_permission(Perm.WORK_LEADS)
def test_drives_list(request: HttpRequest, query: Query[TestDriveListQuery]):  # noqa: ANN201
    tz = dealer_time_zone(request.user.dealer_id) if request.user.dealer_id else None
    if query.start is None:
        now = timezone.now()
        local_today = now.astimezone(tz).date() if tz else timezone.localdate(now)
        start = datetime.datetime.combine(
            local_today, datetime.time(0), tzinfo=tz or timezone.get_current_timezone()
        )
    else:
        start = as_local(query.start, tz) if tz else query.start
        if timezone.is_naive(start):
            start = timezone.make_aware(start)
    if query.end is None:
        end = start + datetime.timedelta(days=7)
    else:
        end = as_local(query.end, tz) if tz else query.end
        if timezone.is_naive(end):
            end = timezone.make_aware(end)
    if end <= start:
        raise ValidationError({"end": _("The end of the range must come after its start.")})
    if end - start > MAX_RANGE:
        raise ValidationError({"end": _("Ask for at most 92 days at a time.")})
    return selectors.test_drive_list(
        request.user, start=start, end=end, demo_car_id=query.demo_car_id, status=query.status
    )


@router.post("/test-drives", response={201: TestDriveOut})
@api_permission(Perm.WORK_LEADS)
def test_drives_book(request: HttpRequest, payload: TestDriveIn):  # noqa: ANN201
    lead = selectors.get_lead_for_test_drive(request.user, payload.lead_id)
    demo_car = (
        Resource.objects.filter(dealer_id=lead.dealer_id, pk=payload.demo_car_id)
        .select_related("car_model")
        .first()
    )
    if demo_car is None:
        raise ValidationError({"demo_car_id": _("Choose one of the dealer's demo cars.")})
    try:
        test_drive = services.test_drive_book(
            actor=request.user,
            lead=lead,
            demo_car=demo_car,
            starts_at=payload.starts_at,
            ends_at=payload.ends_at,
            pickup=payload.pickup,
            pickup_address=payload.pickup_address,
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "demo_car" in exc.error_dict:
            errors = exc.message_dict
            errors["demo_car_id"] = errors.pop("demo_car")
            raise ValidationError(errors) from exc
        raise
    return Status(201, _answer(request, test_drive.pk))


@router.get("/test-drives/{test_drive_id}", response=TestDriveOut)
@api_permission(Perm.WORK_LEADS)
def test_drives_get(request: HttpRequest, test_drive_id: int):  # noqa: ANN201
    return _answer(request, test_drive_id)


@router.post("/test-drives/{test_drive_id}/licence-check", response=TestDriveOut)
@api_permission(Perm.WORK_LEADS)
def test_drives_licence_check(  # noqa: ANN201
    request: HttpRequest, test_drive_id: int, payload: LicenceIn
):
    test_drive = _answer(request, test_drive_id)
    services.test_drive_licence_check(
        actor=request.user, test_drive=test_drive, valid_until=payload.valid_until
    )
    return _answer(request, test_drive_id)


@router.post("/test-drives/{test_drive_id}/complete", response=TestDriveOut)
@api_permission(Perm.WORK_LEADS)
def test_drives_complete(  # noqa: ANN201
    request: HttpRequest, test_drive_id: int, payload: OutcomeIn
):
    test_drive = _answer(request, test_drive_id)
    services.test_drive_complete(
        actor=request.user, test_drive=test_drive, feedback=payload.feedback, rating=payload.rating
    )
    return _answer(request, test_drive_id)


@router.post("/test-drives/{test_drive_id}/cancel", response=TestDriveOut)
@api_permission(Perm.WORK_LEADS)
def test_drives_cancel(request: HttpRequest, test_drive_id: int, payload: CancelIn):  # noqa: ANN201
    test_drive = _answer(request, test_drive_id)
    services.test_drive_cancel(actor=request.user, test_drive=test_drive, reason=payload.reason)
    return _answer(request, test_drive_id)


@router.post("/test-drives/{test_drive_id}/no-show", response=TestDriveOut)
@api_permission(Perm.WORK_LEADS)
def test_drives_no_show(request: HttpRequest, test_drive_id: int):  # noqa: ANN201
    test_drive = _answer(request, test_drive_id)
    services.test_drive_no_show(actor=request.user, test_drive=test_drive)
    return _answer(request, test_drive_id)
