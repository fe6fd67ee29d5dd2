"""Vehicles of the customers' plans, their ownership, and mileage readings (the history stage).

VINs are ISO 3779 valid (check digit from dealercrm.vehicles.validators), unique across the run;
plates carry the dealer's province prefix, 8 characters for new-energy cars (D pure electric,
F plug-in hybrid), and are unique across the run.
"""

from __future__ import annotations

import random

from dealercrm.demo import reference as ref
from dealercrm.vehicles.models import MileageReading, Vehicle, VehicleOwnership
from dealercrm.vehicles.validators import with_check_digit

from .base import (
    Chunk,
    ChunkGenerator,
    CustomerFacts,
    DemoContext,
    ModelFacts,
    Rows,
    VehicleFacts,
    int_draw,
)

VEHICLE_FIELDS = (
    "id", "dealer_id", "vin", "car_model_id", "manufacturer", "vin_model_year", "plate", "colour",
    "purchase_date", "delivery_date", "warranty_end", "insurance_expiry", "current_mileage_km",
    "owner_id", "version", "created_at",
)  # fmt: skip
OWNERSHIP_FIELDS = ("id", "dealer_id", "vehicle_id", "customer_id", "started_on", "ended_on")
MILEAGE_FIELDS = ("id", "dealer_id", "vehicle_id", "km", "read_on", "source")

_POWERTRAIN_CODE = {"ice": "G", "hev": "H", "phev": "P", "bev": "E"}
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "0123456789"
USED_SHARE = 0.04  # brand cars bought second-hand from another customer of the dealer
YEAR = 365


def _vin(state: dict, model: ModelFacts) -> str:
    serial = state["vin_serial"]
    state["vin_serial"] = serial + 1
    plant = ref.VIN_CHARS[(serial // 1_000_000) % len(ref.VIN_CHARS)]
    year_code = ref.YEAR_CODES.get(model.model_year, "A")
    body = (
        f"{model.wmi}{model.code}{_POWERTRAIN_CODE[model.powertrain]}{model.seats}AB0"
        f"{year_code}{plant}{serial % 1_000_000:06d}"
    )
    return with_check_digit(body)


def _plate(rng: random.Random, used: set[str], prefix: str, powertrain: str) -> str:
    randrange = int_draw(rng)
    rand = rng.random
    letters, digits = _PLATE_LETTERS, _DIGITS
    while True:
        if powertrain in ("bev", "phev"):
            second = letters[randrange(24)] if rand() < 0.5 else digits[randrange(10)]
            serial = f"{'D' if powertrain == 'bev' else 'F'}{second}{randrange(10000):04d}"
        else:
            chars = [
                letters[randrange(24)] if rand() < 0.25 else digits[randrange(10)] for _ in range(5)
            ]
            serial = "".join(chars)
        plate = prefix + serial
        if plate not in used:
            used.add(plate)
            return plate


_model_choices: dict[tuple, tuple[list[ModelFacts], list[float]]] = {}


def _pick_model(
    rng: random.Random, models: list[ModelFacts], customer: CustomerFacts, year: int
) -> ModelFacts:
    """A model of the purchase year, leaning to what the customer's life suggests."""
    lifestyle = customer.lifestyle
    family = customer.children >= 2
    business = "商务出行频繁" in lifestyle
    outdoor = "长途自驾" in lifestyle or "周末郊游" in lifestyle
    green = "环保出行" in lifestyle
    company = customer.kind == "company"
    key = (id(models), year, family, business, outdoor, green, company)
    found = _model_choices.get(key)
    if found is None:
        years = sorted({m.model_year for m in models})
        fitting = [y for y in years if y <= year]
        model_year = fitting[-1] if fitting else years[0]
        candidates = [m for m in models if m.model_year == model_year]
        cumulative: list[float] = []
        total = 0.0
        for m in candidates:
            w = 1.0
            if family and m.seats >= 7:
                w *= 4  # family with children → 7 seats
            if business and m.powertrain in ("hev", "phev", "bev"):
                w *= 3  # frequent business travel → hybrid or electric
            if outdoor and m.body_type in ("suv", "pickup"):
                w *= 3  # outdoor trips → SUV
            if green and m.powertrain in ("phev", "bev"):
                w *= 3
            if company and m.body_type in ("mpv", "pickup", "sedan"):
                w *= 2
            total += w
            cumulative.append(total)
        found = _model_choices[key] = (candidates, cumulative)
    candidates, cumulative = found
    return rng.choices(candidates, cum_weights=cumulative)[0]


def _readings(
    rng: random.Random, start: int, start_km: int, until: int, first_gap: tuple[int, int]
) -> list[tuple[int, int, str]]:
    """Odometer readings from `start` until `until`: ~10–20k km a year, varying by car and visit."""
    randrange = int_draw(rng)
    per_day = min(max(rng.lognormvariate(0, 0.3) * 14000, 4000), 45000) / YEAR
    readings = [(start, start_km, "delivery")]
    day = start + randrange(*first_gap)
    km = start_km
    while day <= until:
        expected = start_km + per_day * (day - start) * rng.uniform(0.9, 1.1)
        km = max(km + randrange(50, 400), int(expected))
        readings.append((day, km, "service" if rng.random() < 0.9 else "customer"))
        day += randrange(150, 330)
    return readings


def generate_vehicles(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]:
    state = ctx.state.setdefault("vehicles", {"vin_serial": 0, "plates": set()})
    plates: set[str] = state["plates"]
    today = ctx.today_ord
    brand_models = ctx.org.brand_models
    other_models = ctx.org.other_models
    vehicles: list[tuple] = []
    ownerships: list[tuple] = []
    next_vehicle = ctx.ids.start(Vehicle)
    next_ownership = ctx.ids.start(VehicleOwnership)
    randrange = int_draw(rng)
    previous_at_dealer: dict[int, int] = {}  # dealer id → a customer id seen before in the chunk

    for customer in chunk.customers:
        dealer = customer.dealer
        plans: list[tuple[ModelFacts, int, bool]] = []
        for purchase in customer.purchases:
            year = _year_of(purchase)
            count = randrange(1, 4) if customer.kind == "company" else 1
            for _ in range(count):
                plans.append((_pick_model(rng, brand_models, customer, year), purchase, True))
        if customer.has_other_car:
            model = other_models[randrange(len(other_models))]
            bought = customer.first_contact - randrange(YEAR, 8 * YEAR)
            plans.append((model, bought, False))
        for model, purchase, is_brand in plans:
            vid = next_vehicle
            next_vehicle += 1
            vin = _vin(state, model)
            plate = _plate(rng, plates, dealer.plate_prefix, model.powertrain)
            previous_owner = previous_at_dealer.get(dealer.id)
            used = is_brand and previous_owner is not None and rng.random() < USED_SHARE
            if is_brand:
                delivery = min(purchase + randrange(3, 30), today)
                if used:
                    # Bought new by another customer years before, sold to this one on `purchase`.
                    delivery = purchase - randrange(YEAR, 3 * YEAR)
                    purchase_day = delivery - randrange(3, 30)
                else:
                    purchase_day = purchase
                warranty = delivery + (5 if model.powertrain in ("phev", "bev") else 3) * YEAR
                readings = _readings(
                    rng, delivery, randrange(3, 60), customer.last_active, (90, 200)
                )
                if used:
                    readings = [r for r in readings if r[0] >= purchase] or readings[-1:]
            else:
                delivery = None
                purchase_day = purchase
                warranty = None
                age_days = customer.first_contact - purchase
                km = int(age_days * rng.uniform(25, 55))
                readings = [(customer.first_contact, km, "customer")]
            anchor = delivery if delivery is not None else purchase_day
            years_held = max(0, (today - anchor) // YEAR)
            expiry = anchor + (years_held + 1) * YEAR
            lapsed = customer.stage == "lost" or (
                customer.stage == "at_risk" and rng.random() < 0.4
            )
            if lapsed and years_held >= 1:
                expiry = anchor + years_held * YEAR - randrange(0, 200)
            vehicles.append(
                (
                    vid, dealer.id, vin, model.id, model.make, model.model_year, plate,
                    ref.COLOURS[randrange(len(ref.COLOURS))], ctx.day(purchase_day),
                    ctx.day(delivery) if delivery is not None else None,
                    ctx.day(warranty) if warranty is not None else None, ctx.day(expiry),
                    readings[-1][1], customer.id, 1,
                    ctx.moment(delivery if delivery is not None else customer.first_contact, 120),
                )
            )  # fmt: skip
            started = purchase if (used or not is_brand) else delivery
            if used:
                ownerships.append(
                    (
                        next_ownership,
                        dealer.id,
                        vid,
                        previous_owner,
                        ctx.day(delivery),
                        ctx.day(purchase),
                    )
                )
                next_ownership += 1
            ownerships.append((next_ownership, dealer.id, vid, customer.id, ctx.day(started), None))
            next_ownership += 1
            chunk.vehicles.append(
                VehicleFacts(
                    id=vid,
                    dealer_id=dealer.id,
                    owner_id=customer.id,
                    vin=vin,
                    plate=plate,
                    is_brand=is_brand,
                    delivery=None if used else delivery,
                    readings=readings,
                    model_id=model.id,
                )
            )
        previous_at_dealer[dealer.id] = customer.id

    ctx.ids.finish(Vehicle, next_vehicle)
    ctx.ids.finish(VehicleOwnership, next_ownership)
    # For the service generator, which rewrites current_mileage_km from the visits it makes.
    chunk.extras["vehicle_rows"] = vehicles
    return [
        Rows(Vehicle, VEHICLE_FIELDS, vehicles),
        Rows(VehicleOwnership, OWNERSHIP_FIELDS, ownerships),
    ]


_year_cache: dict[int, int] = {}


def _year_of(ordinal: int) -> int:
    year = _year_cache.get(ordinal)
    if year is None:
        import datetime as dt

        year = _year_cache[ordinal] = dt.date.fromordinal(ordinal).year
    return year


def generate_mileage(ctx: DemoContext, chunk: Chunk, rng: random.Random) -> list[Rows]:
    rows: list[tuple] = []
    next_id = ctx.ids.start(MileageReading)
    day = ctx.day
    # Cars whose readings the service generator wrote with their visits.
    written = chunk.extras.get("readings_written", ())
    for vehicle in chunk.vehicles:
        dealer_id = vehicle.dealer_id
        vid = vehicle.id
        if vid in written:
            continue
        for read_on, km, source in vehicle.readings:
            rows.append((next_id, dealer_id, vid, km, day(read_on), source))
            next_id += 1
    ctx.ids.finish(MileageReading, next_id)
    return [Rows(MileageReading, MILEAGE_FIELDS, rows)]


VEHICLES = ChunkGenerator("vehicles", "vehicles", generate_vehicles, (Vehicle, VehicleOwnership))
MILEAGE = ChunkGenerator("mileage", "history", generate_mileage, (MileageReading,))
