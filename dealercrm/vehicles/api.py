"""The vehicles API, mounted at /api/vehicles/: vehicles, owners over time, mileage, catalogue.

Scoped like the pages: other dealers' vehicles, and vehicles of customers the user may not
see, answer 404. Writes go through the same services as the pages.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm

from . import selectors, services
from .models import CarModel, Vehicle

router = Router(tags=["vehicles"])


class CarModelOut(Schema):
    id: int
    brand_id: int | None
    make: str
    series: str
    name: str
    model_year: int
    body_type: str
    powertrain: str
    seats: int
    list_price: Decimal
    is_active: bool


class VehicleOut(Schema):
    id: int
    dealer_id: int
    vin: str
    manufacturer: str
    vin_model_year: int | None
    car_model: CarModelOut | None
    plate: str
    colour: str
    purchase_date: datetime.date | None
    delivery_date: datetime.date | None
    warranty_end: datetime.date | None
    insurance_expiry: datetime.date | None
    current_mileage_km: int | None
    owner_id: int | None
    owner_name: str = Field("", description="The current owner's name")
    version: int
    created_at: datetime.datetime

    @staticmethod
    def resolve_owner_name(obj: Vehicle) -> str:
        return obj.owner.name if obj.owner_id and obj.owner else ""


class VehicleIn(Schema):
    owner_id: int
    vin: str
    car_model_id: int | None = None
    plate: str = ""
    colour: str = ""
    purchase_date: datetime.date | None = None
    delivery_date: datetime.date | None = None
    warranty_end: datetime.date | None = None
    insurance_expiry: datetime.date | None = None
    mileage_km: int | None = Field(None, description="The odometer now, if known")


class VehiclePatch(Schema):
    version: int = Field(..., description="The version you read; a stale one gets 409")
    car_model_id: int | None = None
    vin: str | None = None
    plate: str | None = None
    colour: str | None = None
    purchase_date: datetime.date | None = None
    delivery_date: datetime.date | None = None
    warranty_end: datetime.date | None = None
    insurance_expiry: datetime.date | None = None


class TransferIn(Schema):
    new_owner_id: int
    on: datetime.date | None = Field(None, description="Date of the change; default today")
    version: int | None = None


class OwnershipOut(Schema):
    customer_id: int
    name: str
    started_on: datetime.date
    ended_on: datetime.date | None


class MileageOut(Schema):
    id: int
    km: int
    read_on: datetime.date
    source: str


class MileageIn(Schema):
    km: int
    read_on: datetime.date
    source: str = "customer"


class CarModelIn(Schema):
    brand_id: int | None = None
    make: str
    series: str
    name: str
    model_year: int
    body_type: str
    powertrain: str
    seats: int = 5
    list_price: Decimal
    is_active: bool = True


class CarModelPatch(Schema):
    brand_id: int | None = None
    make: str | None = None
    series: str | None = None
    name: str | None = None
    model_year: int | None = None
    body_type: str | None = None
    powertrain: str | None = None
    seats: int | None = None
    list_price: Decimal | None = None
    is_active: bool | None = None


class Message(Schema):
    detail: str


def _car_model(request: HttpRequest, car_model_id: int | None) -> CarModel | None:
    if car_model_id is None:
        return None
    return selectors.get_car_model_for_user(request.user, car_model_id)


def _brand(request: HttpRequest, brand_id: int | None):  # noqa: ANN202
    from django.http import Http404

    from dealercrm.core.models import Brand

    if brand_id is None:
        return None
    try:
        return Brand.objects.get(pk=brand_id)
    except Brand.DoesNotExist as exc:
        raise Http404 from exc


# --- The catalogue (before /{vehicle_id} so its paths are matched first) ------------------------


@router.get("/catalogue", response=list[CarModelOut])
@paginate
def catalogue_list(request: HttpRequest, q: str = "", body_type: str = "", powertrain: str = ""):  # noqa: ANN201
    """The model catalogue: every signed-in user may read it."""
    return selectors.catalogue_list(request.user, q=q, body_type=body_type, powertrain=powertrain)


@router.post("/catalogue", response={201: CarModelOut})
@api_permission(Perm.MANAGE_CATALOGUE)
def car_model_create(request: HttpRequest, payload: CarModelIn):  # noqa: ANN201
    data = payload.dict()
    brand = _brand(request, data.pop("brand_id"))
    car_model = services.car_model_create(actor=request.user, brand=brand, request=request, **data)
    return Status(201, car_model)


@router.patch("/catalogue/{int:car_model_id}", response=CarModelOut)
@api_permission(Perm.MANAGE_CATALOGUE)
def car_model_update(request: HttpRequest, car_model_id: int, payload: CarModelPatch):  # noqa: ANN201
    car_model = selectors.get_car_model_for_user(request.user, car_model_id)
    data = payload.dict(exclude_unset=True)
    if "brand_id" in data:
        data["brand"] = _brand(request, data.pop("brand_id"))
    return services.car_model_update(
        actor=request.user, car_model=car_model, request=request, **data
    )


# --- Vehicles ------------------------------------------------------------------------------------


@router.get("/", response=list[VehicleOut])
@api_permission(Perm.VIEW_VEHICLE)
@paginate
def vehicle_list(request: HttpRequest, owner: int | None = None, plate: str = "", vin: str = ""):  # noqa: ANN201
    """Vehicles the user may see, newest first; `plate` matches any part, `vin` the end."""
    return selectors.vehicle_list(request.user, owner_id=owner, plate=plate, vin=vin)


@router.get("/{int:vehicle_id}", response=VehicleOut)
@api_permission(Perm.VIEW_VEHICLE)
def vehicle_get(request: HttpRequest, vehicle_id: int):  # noqa: ANN201
    return selectors.get_vehicle_for_user(request.user, vehicle_id)


@router.post("/", response={201: VehicleOut})
@api_permission(Perm.CHANGE_VEHICLE)
def vehicle_create(request: HttpRequest, payload: VehicleIn):  # noqa: ANN201
    data = payload.dict()
    owner = selectors.get_owner_for_user(request.user, data.pop("owner_id"))
    car_model = _car_model(request, data.pop("car_model_id"))
    vehicle = services.vehicle_create(
        actor=request.user, owner=owner, car_model=car_model, request=request, **data
    )
    return Status(201, selectors.get_vehicle_for_user(request.user, vehicle.pk))


@router.patch("/{int:vehicle_id}", response={200: VehicleOut, 409: Message})
@api_permission(Perm.CHANGE_VEHICLE)
def vehicle_update(request: HttpRequest, vehicle_id: int, payload: VehiclePatch):  # noqa: ANN201
    """Change fields; send the `version` you read. Someone saved since → 409, nothing written."""
    vehicle = selectors.get_vehicle_for_user(request.user, vehicle_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version")
    if "car_model_id" in data:
        data["car_model"] = _car_model(request, data.pop("car_model_id"))
    for text_field in ("vin", "plate", "colour"):
        if text_field in data and data[text_field] is None:
            data[text_field] = ""
    try:
        services.vehicle_update(
            actor=request.user, vehicle=vehicle, version=version, request=request, **data
        )
    except services.VehicleEditConflict as exc:
        return Status(409, {"detail": " ".join(exc.messages)})
    return Status(200, selectors.get_vehicle_for_user(request.user, vehicle_id))


@router.post("/{int:vehicle_id}/transfer", response={200: VehicleOut, 409: Message})
@api_permission(Perm.CHANGE_VEHICLE)
def vehicle_transfer(request: HttpRequest, vehicle_id: int, payload: TransferIn):  # noqa: ANN201
    """The vehicle changes hands: the current ownership ends, the new owner's starts."""
    vehicle = selectors.get_vehicle_for_user(request.user, vehicle_id)
    new_owner = selectors.get_owner_for_user(request.user, payload.new_owner_id)
    try:
        services.vehicle_transfer(
            actor=request.user,
            vehicle=vehicle,
            new_owner=new_owner,
            on=payload.on,
            version=payload.version,
            request=request,
        )
    except services.VehicleEditConflict as exc:
        return Status(409, {"detail": " ".join(exc.messages)})
    return Status(200, selectors.get_vehicle_for_user(request.user, vehicle_id))


@router.get("/{int:vehicle_id}/ownerships", response=list[OwnershipOut])
@api_permission(Perm.VIEW_VEHICLE)
def ownership_list(request: HttpRequest, vehicle_id: int):  # noqa: ANN201
    """Owners, newest first. Owners the user may not see are listed without a name."""
    vehicle = selectors.get_vehicle_for_user(request.user, vehicle_id)
    return [
        {
            "customer_id": row.customer_id,
            "name": row.name if row.visible else "",
            "started_on": row.started_on,
            "ended_on": row.ended_on,
        }
        for row in selectors.ownership_history(vehicle, request.user)
    ]


@router.get("/{int:vehicle_id}/mileage", response=list[MileageOut])
@api_permission(Perm.VIEW_VEHICLE)
def mileage_list(request: HttpRequest, vehicle_id: int):  # noqa: ANN201
    """Readings, oldest first."""
    vehicle = selectors.get_vehicle_for_user(request.user, vehicle_id)
    return selectors.mileage_history(vehicle)


@router.post("/{int:vehicle_id}/mileage", response={201: MileageOut})
@api_permission(Perm.CHANGE_VEHICLE)
def mileage_add(request: HttpRequest, vehicle_id: int, payload: MileageIn):  # noqa: ANN201
    """Add a reading; one lower than an earlier reading (or higher than a later one) is refused."""
    vehicle = selectors.get_vehicle_for_user(request.user, vehicle_id)
    reading = services.mileage_reading_add(
        actor=request.user, vehicle=vehicle, request=request, **payload.dict()
    )
    return Status(201, reading)
