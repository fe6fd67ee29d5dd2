"""Reads of the vehicles app: look-ups that answer 404 alike for missing and not-yours, lists,
histories and the mileage forecast."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Q, QuerySet
from django.http import Http404

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm, Role
from dealercrm.customers.models import Customer

from .models import CarModel, MileageReading, Vehicle, VehicleOwnership, VehicleQuerySet
from .validators import normalise_plate


def vehicles_visible_to(user: User) -> VehicleQuerySet:
    """Vehicles in the user's dealer scope whose owner the user may see."""
    qs: VehicleQuerySet = Vehicle.objects.visible_to(user)
    return qs


def get_vehicle_for_user(user: User, vehicle_id: int) -> Vehicle:
    """The vehicle with its model and owner; Http404 when missing, another dealer's, or owned by a
    customer the user may not see."""
    try:
        return vehicles_visible_to(user).with_related().get(pk=vehicle_id)
    except (Vehicle.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def get_owner_for_user(user: User, customer_id: int | str | None) -> Customer:
    """A customer the user may see, to own a vehicle; Http404 otherwise (the customers app's
    look-up, so "visible" means the same on both pages)."""
    from dealercrm.customers.selectors import get_customer_for_user

    if customer_id is None:
        raise Http404
    return get_customer_for_user(user, customer_id)


def vehicle_list(
    user: User,
    *,
    owner_id: int | None = None,
    plate: str = "",
    vin: str = "",
    car_model_id: int | None = None,
) -> QuerySet[Vehicle]:
    """The user's visible vehicles, newest first, with model and owner (one query per page).

    `plate` matches any part of the normalised plate; `vin` matches the VIN's end (its tail is
    what people read out)."""
    qs = vehicles_visible_to(user).with_related()
    if owner_id:
        qs = qs.filter(owner_id=owner_id)
    if plate:
        qs = qs.filter(plate__contains=normalise_plate(plate))
    if vin:
        qs = qs.filter(vin__endswith=vin.strip().upper())
    if car_model_id:
        qs = qs.filter(car_model_id=car_model_id)
    return qs.order_by("-created_at", "-id")


def mileage_history(vehicle: Vehicle) -> list[MileageReading]:
    """The vehicle's readings, oldest first."""
    return list(
        MileageReading.objects.filter(dealer_id=vehicle.dealer_id, vehicle_id=vehicle.pk).order_by(
            "read_on", "km", "id"
        )
    )


@dataclass(frozen=True)
class OwnershipRow:
    """One owner of the vehicle over time; `visible` says whether the user may open the customer."""

    customer_id: int
    name: str
    started_on: date
    ended_on: date | None
    visible: bool

    @property
    def is_current(self) -> bool:
        return self.ended_on is None


def ownership_history(vehicle: Vehicle, user: User) -> list[OwnershipRow]:
    """Owners newest first, in one query. Owners the user may not see are not named."""
    see_all = user.has_perm(Perm.VIEW_ALL_DEALER_CUSTOMERS)
    rows = (
        VehicleOwnership.objects.filter(dealer_id=vehicle.dealer_id, vehicle_id=vehicle.pk)
        .order_by("-started_on", "-id")
        .values_list(
            "customer_id",
            "customer__name",
            "customer__assigned_consultant_id",
            "started_on",
            "ended_on",
        )
    )
    return [
        OwnershipRow(
            customer_id=cid,
            name=name,
            started_on=started,
            ended_on=ended,
            visible=see_all or consultant_id == user.pk,
        )
        for cid, name, consultant_id, started, ended in rows
    ]


def mileage_chart_data(readings: list[MileageReading]) -> list[list[str | int]]:
    """[[ISO date, km], …] for the ECharts line (json_script in the template): the believed
    readings only; flagged ones are struck through in the table beside it."""
    return [[r.read_on.isoformat(), r.km] for r in readings if not r.flag]


def catalogue_visible_to(user: User) -> QuerySet[CarModel]:
    """The catalogue a user works with: their brand's models and other makes (brand empty);
    a system administrator sees every brand's."""
    qs = CarModel.objects.select_related("brand")
    if user.role == Role.SYSTEM_ADMIN:
        return qs
    brand_id = user.brand_id or (user.dealer.brand_id if user.dealer is not None else None)
    return qs.filter(Q(brand_id=brand_id) | Q(brand__isnull=True))


def catalogue_list(
    user: User,
    *,
    q: str = "",
    body_type: str = "",
    powertrain: str = "",
    active_only: bool = False,
) -> QuerySet[CarModel]:
    qs = catalogue_visible_to(user)
    if q:
        term = q.strip()
        qs = qs.filter(
            Q(make__icontains=term) | Q(series__icontains=term) | Q(name__icontains=term)
        )
    if body_type:
        qs = qs.filter(body_type=body_type)
    if powertrain:
        qs = qs.filter(powertrain=powertrain)
    if active_only:
        qs = qs.filter(is_active=True)
    return qs.order_by("make", "series", "-model_year", "name")


def get_car_model_for_user(user: User, car_model_id: int) -> CarModel:
    try:
        return catalogue_visible_to(user).get(pk=car_model_id)
    except (CarModel.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def owner_candidates(user: User, q: str, *, limit: int = 10) -> list:
    """Customers the user may see matching what was typed (name, pinyin, phone or its tail,
    plate …), to pick an owner: the one-box search's own routing and scoping."""
    from dealercrm.search.selectors import search_customers

    if not q.strip():
        return []
    return search_customers(user, q, limit=limit)
