"""The vehicles' entries on the customer timeline (see dealercrm.customers.timeline).

Two providers, one query each: ownership events (bought or took over a car, delivery, handed it
on) and the mileage readings taken while the customer owned the car.
"""

from __future__ import annotations

import datetime

from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.customers.timeline import TimelineEntry

from .models import MileageReading, Vehicle, VehicleOwnership


def _at(day: datetime.date) -> datetime.datetime:
    """A date on the timeline: midnight in the current time zone."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _day_bound(before: datetime.datetime) -> datetime.date:
    """The first date whose midnight is not before `before` (an exclusive upper bound)."""
    local = timezone.localtime(before)
    return (
        local.date() if local.time() == datetime.time.min else local.date() + datetime.timedelta(1)
    )


def _describe(vehicle: Vehicle) -> str:
    model = vehicle.car_model
    name = f"{model.series} {model.name}" if model else (vehicle.manufacturer or vehicle.vin)
    return f"{vehicle.plate} · {name}" if vehicle.plate else name


def ownership_timeline(
    customer,
    *,
    limit: int,
    before: datetime.datetime | None,  # noqa: ANN001
) -> list[TimelineEntry]:
    """Bought / took over a vehicle, its delivery, handing it on. One query."""
    rows = (
        VehicleOwnership.objects.filter(dealer_id=customer.dealer_id, customer_id=customer.pk)
        .select_related("vehicle", "vehicle__car_model")
        # The newest event of a row is the latest of its dates: the `limit` rows with the newest
        # such date hold the newest `limit` events.
        .annotate(
            newest=Greatest(
                "started_on",
                Coalesce("ended_on", "started_on"),
                Coalesce("vehicle__delivery_date", "started_on"),
            )
        )
        .order_by("-newest", "-id")
    )
    if before is not None:
        rows = rows.filter(started_on__lt=_day_bound(before))
    entries: list[TimelineEntry] = []
    for row in rows[:limit]:
        vehicle = row.vehicle
        url = reverse("vehicles:detail", args=[vehicle.pk])
        car = _describe(vehicle)
        bought = vehicle.purchase_date is not None and row.started_on == vehicle.purchase_date
        entries.append(
            TimelineEntry(
                occurred_at=_at(row.started_on),
                kind="vehicle_purchase" if bought else "vehicle_owner",
                icon="car" if bought else "arrows-exchange",
                title=(_("Bought %(car)s") if bought else _("Became the owner of %(car)s"))
                % {"car": car},
                body=_("VIN %(vin)s") % {"vin": vehicle.vin},
                url=url,
                source="vehicles",
            )
        )
        delivery = vehicle.delivery_date
        if (
            delivery is not None
            and row.started_on <= delivery
            and (row.ended_on is None or delivery <= row.ended_on)
        ):
            entries.append(
                TimelineEntry(
                    occurred_at=_at(delivery),
                    kind="vehicle_delivery",
                    icon="key",
                    title=_("%(car)s delivered") % {"car": car},
                    url=url,
                    source="vehicles",
                )
            )
        if row.ended_on is not None:
            entries.append(
                TimelineEntry(
                    occurred_at=_at(row.ended_on),
                    kind="vehicle_owner_end",
                    icon="arrow-right",
                    title=_("No longer owns %(car)s") % {"car": car},
                    url=url,
                    source="vehicles",
                )
            )
    if before is not None:
        entries = [e for e in entries if e.occurred_at < before]
    entries.sort(key=lambda e: e.occurred_at, reverse=True)
    return entries[:limit]


def mileage_timeline(
    customer,
    *,
    limit: int,
    before: datetime.datetime | None,  # noqa: ANN001
) -> list[TimelineEntry]:
    """Odometer readings of the customer's cars, taken while they owned them. One query."""
    during_ownership = Q(
        vehicle__ownerships__customer_id=customer.pk,
        vehicle__ownerships__dealer_id=customer.dealer_id,
        read_on__gte=F("vehicle__ownerships__started_on"),
    ) & (
        Q(vehicle__ownerships__ended_on__isnull=True)
        | Q(read_on__lte=F("vehicle__ownerships__ended_on"))
    )
    readings = (
        MileageReading.objects.filter(during_ownership, dealer_id=customer.dealer_id)
        .select_related("vehicle", "vehicle__car_model")
        .order_by("-read_on", "-id")
    )
    if before is not None:
        readings = readings.filter(read_on__lt=_day_bound(before))
    entries = []
    for reading in readings[:limit]:
        entries.append(
            TimelineEntry(
                occurred_at=_at(reading.read_on),
                kind="mileage",
                icon="gauge",
                title=_("Mileage %(km)s km") % {"km": f"{reading.km:,}"},
                body=f"{_describe(reading.vehicle)} · {reading.get_source_display()}",
                url=reverse("vehicles:detail", args=[reading.vehicle_id]),
                source="vehicles",
            )
        )
    return entries
