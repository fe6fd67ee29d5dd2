"""The bookings API (mounted at /api/bookings/): resources and their bookings.

Scoped like the pages: another dealer's resource or booking answers 404. Bookings are made
through the same service as the test-drive calendar's, so a double booking is refused here with
the same message (422, keyed "starts_at"). Times without a zone are the dealer's local time.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import get_dealer_for_user

from . import selectors, services
from .models import Booking, Resource

router = Router(tags=["bookings"])

# The longest range one list call may ask for: a calendar shows a week, a report a quarter.
MAX_RANGE = datetime.timedelta(days=92)


class ResourceOut(Schema):
    id: int
    dealer_id: int
    kind: str
    name: str
    car_model_id: int | None
    car_model: str = Field(description="The catalogue model, as shown")
    plate: str
    opens_at: datetime.time
    closes_at: datetime.time
    is_active: bool

    @staticmethod
    def resolve_car_model(obj: Resource) -> str:
        return str(obj.car_model) if obj.car_model_id else ""


class ResourceIn(Schema):
    kind: str = Field(description="demo_car, service_bay or loan_car")
    name: str
    car_model_id: int | None = Field(default=None, description="Cars: the catalogue model")
    plate: str = Field(default="", description="Demo cars: the licence plate")
    opens_at: datetime.time = datetime.time(9, 0)
    closes_at: datetime.time = datetime.time(18, 0)
    is_active: bool = True
    dealer_id: int | None = Field(
        default=None, description="Only for users without a dealer of their own"
    )


class ResourcePatch(Schema):
    kind: str | None = None
    name: str | None = None
    car_model_id: int | None = None
    plate: str | None = None
    opens_at: datetime.time | None = None
    closes_at: datetime.time | None = None
    is_active: bool | None = None


class ResourceListQuery(Schema):
    kind: str = ""
    active: bool = False


class BookingOut(Schema):
    id: int
    resource_id: int
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    status: str
    title: str
    customer_id: int | None
    source_kind: str
    source_id: str


class BookingIn(Schema):
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    title: str = ""
    customer_id: int | None = None


class RangeQuery(Schema):
    start: datetime.datetime | None = Field(
        default=None, description="From (inclusive); default: the start of today"
    )
    end: datetime.datetime | None = Field(
        default=None, description="Until (exclusive); default: a week after the start"
    )
    include_cancelled: bool = False


def _range(dealer_id: int, query: RangeQuery) -> tuple[datetime.datetime, datetime.datetime]:
    tz = services.dealer_time_zone(dealer_id)
    if query.start is None:
        today = timezone.now().astimezone(tz).date()
        start = datetime.datetime.combine(today, datetime.time(0), tzinfo=tz)
    else:
        start = services.as_local(query.start, tz)
    end = services.as_local(query.end, tz) if query.end else start + datetime.timedelta(days=7)
    if end <= start:
        raise ValidationError({"end": _("The end of the range must come after its start.")})
    if end - start > MAX_RANGE:
        raise ValidationError({"end": _("Ask for at most 92 days at a time.")})
    return start, end


@router.get("/resources", response=list[ResourceOut])
@api_permission(Perm.VIEW_RESOURCES)
def resources_list(request: HttpRequest, query: Query[ResourceListQuery]):  # noqa: ANN201
    return list(selectors.resource_list(request.user, kind=query.kind, active_only=query.active))


@router.post("/resources", response={201: ResourceOut})
@api_permission(Perm.MANAGE_RESOURCES)
def resources_create(request: HttpRequest, payload: ResourceIn):  # noqa: ANN201
    user = request.user
    if user.dealer_id:
        dealer_id = user.dealer_id
    elif payload.dealer_id is not None:
        dealer_id = get_dealer_for_user(user, payload.dealer_id).pk
    else:
        raise ValidationError({"dealer_id": _("Choose the dealer the resource belongs to.")})
    resource = services.resource_create(
        actor=user,
        dealer_id=dealer_id,
        **payload.dict(exclude={"dealer_id"}),
    )
    return Status(201, selectors.get_resource_for_user(user, resource.pk))


@router.get("/resources/{resource_id}", response=ResourceOut)
@api_permission(Perm.VIEW_RESOURCES)
def resources_get(request: HttpRequest, resource_id: int):  # noqa: ANN201
    return selectors.get_resource_for_user(request.user, resource_id)


@router.patch("/resources/{resource_id}", response=ResourceOut)
@api_permission(Perm.MANAGE_RESOURCES)
def resources_update(request: HttpRequest, resource_id: int, payload: ResourcePatch):  # noqa: ANN201
    resource = selectors.get_resource_for_user(request.user, resource_id)
    fields = payload.dict(exclude_unset=True)
    services.resource_update(actor=request.user, resource=resource, **fields)
    return selectors.get_resource_for_user(request.user, resource_id)


@router.get("/resources/{resource_id}/bookings", response=list[BookingOut])
@api_permission(Perm.VIEW_RESOURCES)
def resource_bookings(  # noqa: ANN201
    request: HttpRequest, resource_id: int, query: Query[RangeQuery]
):
    resource = selectors.get_resource_for_user(request.user, resource_id)
    start, end = _range(resource.dealer_id, query)
    return selectors.bookings_between(
        dealer_id=resource.dealer_id,
        start=start,
        end=end,
        resource_ids=[resource.pk],
        include_cancelled=query.include_cancelled,
    )


@router.post("/resources/{resource_id}/bookings", response={201: BookingOut})
@api_permission(Perm.MANAGE_RESOURCES)
def resource_book(request: HttpRequest, resource_id: int, payload: BookingIn):  # noqa: ANN201
    resource = selectors.get_resource_for_user(request.user, resource_id)
    customer_id = payload.customer_id
    if customer_id is not None:
        from dealercrm.customers.selectors import get_customer_for_user

        customer_id = get_customer_for_user(request.user, customer_id).pk
    booking = services.booking_create(
        dealer_id=resource.dealer_id,
        resource=resource,
        starts_at=payload.starts_at,
        ends_at=payload.ends_at,
        customer_id=customer_id,
        title=payload.title,
        source_kind="api",
        actor=request.user,
    )
    return Status(201, booking)


@router.get("/bookings/{booking_id}", response=BookingOut)
@api_permission(Perm.VIEW_RESOURCES)
def booking_get(request: HttpRequest, booking_id: int):  # noqa: ANN201
    return selectors.get_booking_for_user(request.user, booking_id)


@router.post("/bookings/{booking_id}/cancel", response=BookingOut)
@api_permission(Perm.MANAGE_RESOURCES)
def booking_cancel(request: HttpRequest, booking_id: int) -> Booking:
    booking = selectors.get_booking_for_user(request.user, booking_id)
    if booking.source_kind and booking.source_kind != "api":
        # A test drive's booking is freed by cancelling the test drive, which says why.
        raise ValidationError(
            {"booking": _("This booking is held by a test drive or appointment: cancel that.")}
        )
    return services.booking_cancel(actor=request.user, booking=booking)
