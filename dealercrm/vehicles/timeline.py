"""The vehicles' entries on the customer timeline (see dealercrm.customers.timeline).

Two providers, one query each: ownership events (bought or took over a car, delivery, handed it
on) and the mileage readings taken while the customer owned the car.
"""

from __future__ import annotations

import datetime

from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.customers.timeline import (
    ProviderQuery,
    TimelineEntry,
    TimelineQueries,
    local_midnight,
)

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


def _ownerships(dealer_id: int, customer_id: int, before: datetime.date | None) -> QuerySet:
    rows = (
        VehicleOwnership.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
        .select_related("vehicle", "vehicle__car_model")
        .order_by("-started_on", "-id")
    )
    return rows if before is None else rows.filter(started_on__lt=before)


_OWNERSHIPS = ProviderQuery(_ownerships, bound=_day_bound)


def ownership_timeline(
    customer,
    *,
    limit: int,
    before: datetime.datetime | None,  # noqa: ANN001
) -> list[TimelineEntry]:
    """Bought / took over a vehicle, its delivery, handing it on. One query.

    All the customer's ownerships are read (a handful): a row's events straddle `before`, so
    only the events themselves, not the rows, can be cut to the newest `limit`."""
    entries: list[TimelineEntry] = []
    # limit=None: every row (ProviderQuery slices by `limit`, and [:None] is no LIMIT).
    for row in _OWNERSHIPS(customer, limit=None, before=before):
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


def _ownership_times(dealer_id: int, customer_id: int) -> list[QuerySet]:
    """The times of ownership_timeline's three kinds of entries (TimelineQueries)."""
    rows = VehicleOwnership.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
    delivered = Q(vehicle__delivery_date__gte=F("started_on")) & (
        Q(ended_on__isnull=True) | Q(vehicle__delivery_date__lte=F("ended_on"))
    )
    return [
        rows.annotate(timeline_at=local_midnight("started_on")),
        rows.filter(delivered).annotate(timeline_at=local_midnight("vehicle__delivery_date")),
        rows.filter(ended_on__isnull=False).annotate(timeline_at=local_midnight("ended_on")),
    ]


ownership_times = TimelineQueries(_ownership_times, uses_dates=True)


def _during_ownership(dealer_id: int, customer_id: int) -> Q:
    """Readings taken while the customer owned the car."""
    return Q(
        vehicle__ownerships__customer_id=customer_id,
        vehicle__ownerships__dealer_id=dealer_id,
        read_on__gte=F("vehicle__ownerships__started_on"),
    ) & (
        Q(vehicle__ownerships__ended_on__isnull=True)
        | Q(read_on__lte=F("vehicle__ownerships__ended_on"))
    )


def _readings(dealer_id: int, customer_id: int, before: datetime.date | None) -> QuerySet:
    readings = (
        MileageReading.objects.filter(
            _during_ownership(dealer_id, customer_id), dealer_id=dealer_id
        )
        .select_related("vehicle", "vehicle__car_model")
        .order_by("-read_on", "-id")
    )
    return readings if before is None else readings.filter(read_on__lt=before)


_READINGS = ProviderQuery(_readings, bound=_day_bound)


def mileage_timeline(
    customer,
    *,
    limit: int,
    before: datetime.datetime | None,  # noqa: ANN001
) -> list[TimelineEntry]:
    """Odometer readings of the customer's cars, taken while they owned them. One query."""
    entries = []
    for reading in _READINGS(customer, limit=limit, before=before):
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


mileage_times = TimelineQueries(
    lambda dealer_id, customer_id: [
        MileageReading.objects.filter(
            _during_ownership(dealer_id, customer_id), dealer_id=dealer_id
        ).annotate(timeline_at=local_midnight("read_on"))
    ],
    uses_dates=True,
)
