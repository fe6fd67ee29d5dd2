"""Reads of repair orders: look-ups by id, the filtered list, a vehicle's service history, the
advisor's open orders, the timeline provider. All through the scoped managers."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.bookings.services import dealer_time_zone
from dealercrm.core.models import User
from dealercrm.customers.timeline import ProviderQuery, TimelineEntry
from dealercrm.vehicles.models import MileageReading, Vehicle

from ..models import RepairOrder, RepairOrderLine, RepairOrderStatus
from ..models.records import RepairOrderQuerySet

STATUS_ICONS = {
    RepairOrderStatus.OPEN: "tool",
    RepairOrderStatus.CLOSED: "receipt",
    RepairOrderStatus.CANCELLED: "receipt-off",
}
HISTORY_LIMIT = 50


def visible_repair_orders(user: User) -> RepairOrderQuerySet:
    qs = RepairOrder.objects.all()
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    return qs


def get_repair_order_for_user(user: User, repair_order_id: int | str) -> RepairOrder:
    try:
        return (
            visible_repair_orders(user)
            .select_related(
                "vehicle__car_model",
                "customer",
                "advisor",
                "dealer",
                "appointment",
                "recall_campaign",
                "mileage_reading",
            )
            .get(pk=int(repair_order_id))
        )
    except (RepairOrder.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def repair_order_lines(repair_order: RepairOrder) -> list[RepairOrderLine]:
    return list(
        RepairOrderLine.objects.filter(
            dealer_id=repair_order.dealer_id, repair_order_id=repair_order.pk
        ).order_by("id")
    )


def mileage_warning(repair_order: RepairOrder) -> dict | None:
    """When the order's reading was flagged: the flag and the earlier reading it contradicts
    (the highest believed reading read before it), for the page's warning. One query."""
    reading = repair_order.mileage_reading
    if reading is None or not reading.flag:
        return None
    earlier = (
        MileageReading.objects.filter(
            dealer_id=repair_order.dealer_id, vehicle_id=repair_order.vehicle_id, flag=""
        )
        .exclude(pk=reading.pk)
        .filter(read_on__lte=reading.read_on)
        .order_by("-km", "-read_on")
        .first()
    )
    return {"reading": reading, "earlier": earlier, "flag_label": reading.get_flag_display()}


def _day_start(day: datetime.date, tz) -> datetime.datetime:  # noqa: ANN001
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=tz)


def repair_order_list(
    user: User,
    *,
    dealer_id: int | None = None,
    status: str = "",
    kind: str = "",
    advisor_id: int | None = None,
    opened_from: datetime.date | None = None,
    opened_to: datetime.date | None = None,
    vehicle_id: int | None = None,
    customer_id: int | None = None,
) -> RepairOrderQuerySet:
    """Repair orders, newest first, with what the list shows (one query a page)."""
    qs = visible_repair_orders(user)
    if dealer_id is not None:
        qs = qs.filter(dealer_id=dealer_id)
    zone_dealer = dealer_id or user.dealer_id
    tz = dealer_time_zone(zone_dealer) if zone_dealer else timezone.get_current_timezone()
    if status in RepairOrderStatus.values:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    if advisor_id:
        qs = qs.filter(advisor_id=advisor_id)
    if opened_from is not None:
        qs = qs.filter(opened_at__gte=_day_start(opened_from, tz))
    if opened_to is not None:
        qs = qs.filter(opened_at__lt=_day_start(opened_to + datetime.timedelta(days=1), tz))
    if vehicle_id:
        qs = qs.filter(vehicle_id=vehicle_id)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    return qs.select_related("vehicle__car_model", "customer", "advisor").order_by(
        "-opened_at", "-id"
    )


def vehicle_service_history(vehicle: Vehicle, *, limit: int = HISTORY_LIMIT) -> list[RepairOrder]:
    """The vehicle's repair orders at its dealer, newest first (one query)."""
    return list(
        RepairOrder.objects.filter(dealer_id=vehicle.dealer_id, vehicle_id=vehicle.pk)
        .select_related("advisor")
        .order_by("-opened_at", "-id")[:limit]
    )


def open_repair_orders(user: User, *, limit: int) -> list[RepairOrder]:
    """The dealer's open repair orders, the oldest first (one query)."""
    return list(
        RepairOrder.objects.filter(dealer_id=user.dealer_id, status=RepairOrderStatus.OPEN)
        .select_related("customer", "vehicle")
        .order_by("opened_at", "id")[:limit]
    )


def _repair_orders(dealer_id: int, customer_id: int, before: datetime.datetime | None) -> QuerySet:
    qs = RepairOrder.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
    if before is not None:
        qs = qs.filter(opened_at__lt=before)
    return qs.select_related("advisor").order_by("-opened_at", "-id")


_REPAIR_ORDERS = ProviderQuery(_repair_orders)


def repair_order_timeline(
    customer,
    *,
    limit: int,
    before: datetime.datetime | None,  # noqa: ANN001
) -> list[TimelineEntry]:
    """The customer's repair orders on the 360 timeline, newest first (one query)."""
    entries = []
    for ro in _REPAIR_ORDERS(customer, limit=limit, before=before):
        title = _("Repair order %(number)s (%(status)s): %(kind)s") % {
            "number": ro.number,
            "status": ro.get_status_display(),
            "kind": ro.get_kind_display(),
        }
        body = [ro.plate or ro.vin]
        if ro.mileage_km is not None:
            body.append(_("%(km)s km") % {"km": f"{ro.mileage_km:,}"})
        if ro.total_amount:
            body.append(f"¥{ro.total_amount:,.2f}")
        if ro.customer_concern:
            body.append(ro.customer_concern)
        entries.append(
            TimelineEntry(
                occurred_at=ro.opened_at,
                kind="repair_order",
                icon=STATUS_ICONS.get(ro.status, "tool"),
                title=title,
                body=" — ".join(body),
                actor=str(ro.advisor) if ro.advisor_id else ro.advisor_name,
                url=reverse("service:repair_order_detail", kwargs={"repair_order_id": ro.pk}),
                source="service",
            )
        )
    return entries
