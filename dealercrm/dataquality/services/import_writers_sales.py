"""The import writers of vehicle sales and repair orders (kinds "sales" and "repair_orders").

Both follow import_writers.KindWriter: set-based per batch (one query per key kind, ids reserved
in one query per table, rows written with the bulk writer), one RowOutcome per row.

Sales. A row is a delivered sale. Its buyer and car go through the customers writer
(`CustomerVehicleWriter`): the buyer is found by ID number or phone (and name), else created
when the row names them; the car is found by VIN, else created with the model from the
catalogue, and registered to the buyer from the delivery date. Then the sale itself: a lead of
channel "import" at the delivered stage, and an order in the state `order_delivered` leaves it
(stage delivered, promised = expected = delivered on, every milestone reached, the car on it).
A sale is the same sale again — UNCHANGED, or UPDATED when the buyer's or the car's record took
something new — when the dealer has an order with the row's order number, or, without a number,
an order of the same VIN on the same order date. Without a delivery date the order date is the
delivery date. What an order entered by hand also gets and an import does not: the audit entry
per order (the run records the import), the follow-up call 3 days after delivery (these sales
are history) and the delay rule (the car is delivered).

Repair orders. A row is a repair order (工单) of a car the dealer knows: by VIN, or by plate when
the VIN is missing. The same RO number again is UNCHANGED, or UPDATED when the dealer's copy is
still open and the row is settled (closed then, with the row's amounts). The advisor is matched
by name among the dealer's staff; a name nobody has is kept as text (`advisor_name`) and said
in the row's reason, not an error. The mileage is recorded as the repair order service records
it (a "service" reading of the day the car came in, flagged when it contradicts the others) and
the cars' service forecasts are refreshed, set-based. Listeners of new repair orders (care
follow-ups, recall completion) are not told: imported visits are history.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext as _

from dealercrm.core.bulk import to_db
from dealercrm.core.models import User
from dealercrm.core.tenancy import DealerScope, dealer_scope
from dealercrm.dataquality.models import ImportOutcome
from dealercrm.sales.models import Lead, LeadChannel, LeadStage, Order, OrderMilestone, OrderStage
from dealercrm.sales.models.orders import ORDER_STAGE_SEQUENCE
from dealercrm.sales.services.orders import TRACKING_TOKEN_BYTES, spread_expected_dates
from dealercrm.search.keys import normalise_text
from dealercrm.service.models import Payer, RepairKind, RepairOrder, RepairOrderStatus
from dealercrm.service.models.records import RepairOrderSource
from dealercrm.vehicles.models import MileageReading, Vehicle

from .import_writers import WRITERS, BatchContext, CleanRow, CustomerVehicleWriter, RowOutcome

# A DMS export gives days, not times: a car comes in at 09:00 and is settled at 17:00, local.
OPENED_AT = dt.time(9, 0)
CLOSED_AT = dt.time(17, 0)
# The payer when the file does not say, by the kind of job.
DEFAULT_PAYER = {RepairKind.WARRANTY: Payer.WARRANTY, RepairKind.RECALL: Payer.WARRANTY}
DEFAULT_PAYER[RepairKind.ACCIDENT] = Payer.INSURER


def _error(row: CleanRow, field: str, reason: str) -> RowOutcome:
    return RowOutcome(row.row_number, ImportOutcome.ERROR, field=field, reason=reason)


def _staff_by_name(ctx: BatchContext) -> dict[str, list[int]]:
    """{normalised name: user ids} of the dealer's active staff, read once per run: the display
    name, 姓名 (last name first) and the name in Western order all find the user."""
    found = ctx.cache.get("staff_by_name")
    if found is None:
        found = defaultdict(list)
        for pk, display, first, last, username in User.objects.filter(
            dealer_id=ctx.dealer_id, is_active=True
        ).values_list("id", "display_name", "first_name", "last_name", "username"):
            spellings = {display, f"{last}{first}", f"{first}{last}", username}
            for spelled in {normalise_text(s) for s in spellings if s}:
                found[spelled].append(pk)
        ctx.cache["staff_by_name"] = found
    return found


def match_staff(ctx: BatchContext, name: str, *, role: str) -> tuple[int | None, str]:
    """(user id, note): the one staff member of the dealer with this name; else None and the
    note for the row's reason (nobody, or several, has the name; it is kept as text)."""
    if not name:
        return None, ""
    ids = _staff_by_name(ctx).get(normalise_text(name), [])
    if len(ids) == 1:
        return ids[0], ""
    if not ids:
        note = _("%(role)s “%(name)s” is not a member of the dealer's staff; kept as text.")
    else:
        note = _(
            "Several members of the dealer's staff are called “%(name)s” (%(role)s); kept as text."
        )
    return None, note % {"role": role, "name": name}


def _local(day: dt.date, at: dt.time, ctx: BatchContext) -> dt.datetime:
    """The day's wall-clock time at the dealer, never later than now."""
    tz = ctx.cache.get("time_zone")
    if tz is None:
        from dealercrm.bookings.services import dealer_time_zone

        tz = ctx.cache["time_zone"] = dealer_time_zone(ctx.dealer_id)
    return min(dt.datetime.combine(day, at, tzinfo=tz), ctx.now)


# --- sales -----------------------------------------------------------------------------------


class SalesWriter:
    """Delivered vehicle sales: the buyer, the car, the lead and the order (module docstring)."""

    kind = "sales"

    def __init__(self) -> None:
        # Rows naming the buyer may create them; rows without a name only find them.
        self._buyers = CustomerVehicleWriter("sales", creates_customers=True)
        self._known_buyers = CustomerVehicleWriter("sales", creates_customers=False)

    @staticmethod
    def _buyer_and_car(clean: dict[str, Any]) -> dict[str, Any]:
        """The row as the customers writer reads it: the buyer, and the car delivered."""
        delivered_on = clean.get("delivery_date") or clean.get("order_date")
        return {
            "name": clean.get("name") or "",
            "phone": clean.get("phone") or "",
            "id_number": clean.get("id_number") or "",
            "vin": clean.get("vin") or "",
            "car_model": clean.get("car_model") or "",
            "colour": clean.get("colour") or "",
            "purchase_date": delivered_on,
            "delivery_date": delivered_on,
        }

    def prepare(self, clean: dict[str, Any]) -> dict[str, Any]:
        return self._buyers.prepare(self._buyer_and_car(clean))

    def _check(self, ctx: BatchContext, row: CleanRow) -> RowOutcome | None:
        """The row's first problem that needs no look-up, or None."""
        clean = row.clean
        if not clean.get("vin"):
            return _error(row, "vin", _("A sale needs the VIN of the car sold."))
        model = clean.get("car_model") or ""
        if self._buyers._car_model_id(ctx, model) is None:
            return _error(
                row,
                "car_model",
                _("The model “%(model)s” is not in the catalogue; check its spelling.")
                % {"model": model},
            )
        ordered_on: dt.date = clean["order_date"]
        delivered_on: dt.date = clean.get("delivery_date") or ordered_on
        if ordered_on > ctx.today:
            return _error(row, "order_date", _("The order date cannot be in the future."))
        if delivered_on > ctx.today:
            return _error(row, "delivery_date", _("The delivery date cannot be in the future."))
        if delivered_on < ordered_on:
            return _error(
                row,
                "delivery_date",
                _("The delivery date cannot be before the order date (%(date)s).")
                % {"date": ordered_on.isoformat()},
            )
        price: Decimal = clean["price"]
        if price <= 0:
            return _error(row, "price", _("The price must be more than zero."))
        deposit: Decimal | None = clean.get("deposit")
        if deposit is not None and deposit < 0:
            return _error(row, "deposit", _("The deposit cannot be negative."))
        if deposit is not None and deposit > price:
            return _error(
                row,
                "deposit",
                _("The deposit (¥%(deposit)s) cannot be more than the price (¥%(price)s).")
                % {"deposit": deposit, "price": price},
            )
        return None

    def write_batch(self, ctx: BatchContext, rows: list[CleanRow]) -> list[RowOutcome]:
        outcomes: list[RowOutcome] = []
        checked = []
        for row in rows:
            problem = self._check(ctx, row)
            if problem is not None:
                outcomes.append(problem)
            else:
                checked.append(row)
        existing = self._existing_orders(ctx, checked)
        # Each passing row: ("order", the dealer's order id) or ("new", the sale's key).
        plans: dict[int, tuple[str, Any]] = {}
        batch_sale_of_vin: dict[str, dt.date] = {}
        batch_vin_of_number: dict[str, str] = {}
        passing: list[CleanRow] = []
        for row in checked:
            clean = row.clean
            vin, number, ordered_on = (
                clean["vin"],
                clean.get("order_number") or "",
                clean["order_date"],
            )
            if number and number in existing["by_number"]:
                order_id, order_vin = existing["by_number"][number]
                if order_vin != vin:
                    outcomes.append(
                        _error(
                            row,
                            "order_number",
                            _("Order %(number)s exists already, for another car (VIN %(vin)s).")
                            % {"number": number, "vin": order_vin or "—"},
                        )
                    )
                    continue
                plans[row.row_number] = ("order", order_id)
            elif (vin, ordered_on) in existing["by_key"]:
                plans[row.row_number] = ("order", existing["by_key"][(vin, ordered_on)])
            elif vin in existing["live_by_vin"]:
                outcomes.append(
                    _error(
                        row,
                        "vin",
                        _("The car with this VIN is on another order (%(number)s).")
                        % {"number": existing["live_by_vin"][vin]},
                    )
                )
                continue
            elif batch_sale_of_vin.get(vin, ordered_on) != ordered_on:
                outcomes.append(
                    _error(row, "vin", _("The car with this VIN is sold on an earlier row."))
                )
                continue
            elif number and batch_vin_of_number.get(number, vin) != vin:
                outcomes.append(
                    _error(
                        row,
                        "order_number",
                        _("Order %(number)s is on an earlier row, for another car.")
                        % {"number": number},
                    )
                )
                continue
            else:
                batch_sale_of_vin[vin] = ordered_on
                if number:
                    batch_vin_of_number[number] = vin
                plans[row.row_number] = ("new", (vin, ordered_on))
            passing.append(row)

        # The buyers and cars, by the customers writer (rows naming the buyer first, so a row
        # without a name finds a buyer an earlier row of the batch created).
        as_customer_rows = {
            row.row_number: CleanRow(
                row.row_number, row.cells, self._buyer_and_car(row.clean), row.extra
            )
            for row in passing
        }
        named = [as_customer_rows[r.row_number] for r in passing if r.clean.get("name")]
        unnamed = [as_customer_rows[r.row_number] for r in passing if not r.clean.get("name")]
        buyer_outcomes = {o.row_number: o for o in self._buyers.write_batch(ctx, named)}
        for outcome in self._known_buyers.write_batch(ctx, unnamed):
            if outcome.outcome == ImportOutcome.ERROR and outcome.field in ("phone", "id_number"):
                outcome.reason = _(
                    "No customer has this phone or ID number; give the buyer's name in the file "
                    "to create them."
                )
            buyer_outcomes[outcome.row_number] = outcome

        new_sales: list[tuple[CleanRow, RowOutcome]] = []
        made: dict[Any, int] = {}  # sale key → index into new_sales
        follow: list[tuple[RowOutcome, Any]] = []  # rows repeating a sale of this batch
        for row in passing:
            buyer = buyer_outcomes[row.row_number]
            if buyer.outcome == ImportOutcome.ERROR:
                outcomes.append(buyer)
                continue
            plan, value = plans[row.row_number]
            if plan == "order":
                outcomes.append(self._again(buyer, value))
            elif value in made:
                follow.append((buyer, value))
            else:
                made[value] = len(new_sales)
                new_sales.append((row, buyer))
        order_ids = self._write_sales(ctx, new_sales)
        outcomes.extend(outcome for _row, outcome in new_sales)
        for buyer, key in follow:
            outcomes.append(self._again(buyer, order_ids[made[key]]))
        return outcomes

    @staticmethod
    def _again(buyer: RowOutcome, order_id: int) -> RowOutcome:
        """A sale the dealer has: UNCHANGED, or UPDATED when the buyer or the car took news."""
        outcome = (
            ImportOutcome.UNCHANGED
            if buyer.outcome == ImportOutcome.UNCHANGED
            else ImportOutcome.UPDATED
        )
        return RowOutcome(
            buyer.row_number,
            outcome,
            customer_id=buyer.customer_id,
            vehicle_id=buyer.vehicle_id,
            record_id=order_id,
        )

    @staticmethod
    def _existing_orders(ctx: BatchContext, rows: list[CleanRow]) -> dict[str, dict]:
        """The dealer's orders of the batch's order numbers and VINs, in one query."""
        numbers = {r.clean["order_number"] for r in rows if r.clean.get("order_number")}
        vins = {r.clean["vin"] for r in rows}
        by_number: dict[str, tuple[int, str]] = {}
        by_key: dict[tuple[str, dt.date], int] = {}
        live_by_vin: dict[str, str] = {}
        if rows:
            found = (
                Order.objects.filter(dealer_id=ctx.dealer_id)
                .filter(Q(number__in=numbers) | Q(vehicle__vin__in=vins))
                .values_list("id", "number", "vehicle__vin", "ordered_on", "stage")
            )
            for pk, number, vin, ordered_on, stage in found:
                by_number[number] = (pk, vin or "")
                if vin:
                    by_key[(vin, ordered_on)] = pk
                    if stage != OrderStage.CANCELLED:
                        live_by_vin[vin] = number
        return {"by_number": by_number, "by_key": by_key, "live_by_vin": live_by_vin}

    def _write_sales(
        self, ctx: BatchContext, sales: list[tuple[CleanRow, RowOutcome]]
    ) -> list[int]:
        """Leads, orders and milestones of the new sales; fills each outcome's record id."""
        if not sales:
            return []
        dealer_id, now = ctx.dealer_id, ctx.now
        lead_ids = ctx.ids.take(Lead, len(sales))
        order_ids = ctx.ids.take(Order, len(sales))
        milestone_ids = iter(ctx.ids.take(OrderMilestone, len(sales) * len(ORDER_STAGE_SEQUENCE)))
        leads, orders, milestones = [], [], []
        for (row, outcome), lead_id, order_id in zip(sales, lead_ids, order_ids, strict=True):
            clean = row.clean
            ordered_on: dt.date = clean["order_date"]
            delivered_on: dt.date = clean.get("delivery_date") or ordered_on
            number = clean.get("order_number") or f"IMP{ctx.run.pk}-{row.row_number}"
            model_id = self._buyers._car_model_id(ctx, clean["car_model"])
            consultant_id, note = match_staff(
                ctx, clean.get("consultant_name") or "", role=_("Sales consultant")
            )
            ordered_at = to_db(_local(ordered_on, dt.time(12, 0), ctx))
            delivered_at = to_db(_local(delivered_on, dt.time(12, 0), ctx))
            deposit = clean.get("deposit") or Decimal("0.00")
            leads.append(
                (
                    lead_id, dealer_id, outcome.customer_id, LeadChannel.IMPORT, model_id,
                    consultant_id, ordered_at if consultant_id else None, LeadStage.DELIVERED,
                    ordered_at, delivered_at, f"import:{number}"[:64], ctx.actor_id, ordered_at,
                    to_db(now),
                )
            )  # fmt: skip
            orders.append(
                (
                    order_id, dealer_id, number, lead_id, outcome.customer_id, model_id,
                    clean.get("colour") or "", outcome.vehicle_id, to_db(ordered_on),
                    to_db(clean["price"]), to_db(deposit),
                    to_db(ordered_on) if deposit > 0 else None, to_db(delivered_on),
                    to_db(delivered_on), OrderStage.DELIVERED, to_db(delivered_on),
                    secrets.token_urlsafe(TRACKING_TOKEN_BYTES), ctx.actor_id, ordered_at,
                    to_db(now),
                )
            )  # fmt: skip
            for stage, on in spread_expected_dates(ordered_on, delivered_on).items():
                day = to_db(on)
                milestones.append(
                    (next(milestone_ids), dealer_id, order_id, stage, day, day, to_db(now))
                )
            # A new sale is CREATED, whether or not its buyer and car were known.
            outcome.outcome = ImportOutcome.CREATED
            outcome.record_id = order_id
            outcome.reason = note
        ctx.bulk.write(Lead, LEAD_FIELDS, leads)
        ctx.bulk.write(Order, ORDER_FIELDS, orders)
        ctx.bulk.write(OrderMilestone, MILESTONE_FIELDS, milestones)
        return order_ids


LEAD_FIELDS = (
    "id", "dealer_id", "customer_id", "channel", "car_model_id", "consultant_id", "assigned_at",
    "stage", "ordered_at", "delivered_at", "idempotency_key", "created_by_id", "created_at",
    "updated_at",
)  # fmt: skip
ORDER_FIELDS = (
    "id", "dealer_id", "number", "lead_id", "customer_id", "car_model_id", "colour", "vehicle_id",
    "ordered_on", "price", "deposit", "deposit_paid_on", "promised_delivery_on",
    "expected_delivery_on", "stage", "delivered_on", "tracking_token", "created_by_id",
    "created_at", "updated_at",
)  # fmt: skip
MILESTONE_FIELDS = (
    "id",
    "dealer_id",
    "order_id",
    "stage",
    "expected_on",
    "reached_on",
    "updated_at",
)


# --- repair orders ---------------------------------------------------------------------------


class RepairOrderWriter:
    """Repair orders of the dealer's cars, by RO number (module docstring)."""

    kind = "repair_orders"

    def prepare(self, clean: dict[str, Any]) -> dict[str, Any]:
        return {}

    def write_batch(self, ctx: BatchContext, rows: list[CleanRow]) -> list[RowOutcome]:
        from dealercrm.service.services.forecast import MAX_PLAUSIBLE_KM

        dealer_id = ctx.dealer_id
        numbers = {r.clean["ro_number"] for r in rows}
        existing = {
            number: (pk, status, vehicle_id)
            for pk, number, status, vehicle_id in RepairOrder.objects.filter(
                dealer_id=dealer_id, number__in=numbers
            ).values_list("id", "number", "status", "vehicle_id")
        }
        by_vin, by_plate = self._vehicles(ctx, rows)
        outcomes: list[RowOutcome] = []
        new: list[tuple[CleanRow, dict[str, Any], RowOutcome]] = []
        settled: list[tuple[int, dict[str, Any]]] = []  # (existing open RO id, closing values)
        in_batch: dict[str, tuple[int, int | None]] = {}  # RO number → index in new, vehicle id
        for row in rows:
            clean = row.clean
            number = clean["ro_number"]
            vin, plate = clean.get("vin") or "", clean.get("plate") or ""
            opened_on: dt.date = clean["opened_date"]
            closed_on: dt.date | None = clean.get("closed_date")
            if opened_on > ctx.today:
                outcomes.append(
                    _error(row, "opened_date", _("A repair order cannot be opened in the future."))
                )
                continue
            if closed_on is not None and closed_on < opened_on:
                outcomes.append(
                    _error(
                        row,
                        "closed_date",
                        _("A repair order cannot be closed before it was opened (%(date)s).")
                        % {"date": opened_on.isoformat()},
                    )
                )
                continue
            if closed_on is not None and closed_on > ctx.today:
                outcomes.append(
                    _error(row, "closed_date", _("A repair order cannot be closed in the future."))
                )
                continue
            mileage = clean.get("mileage")
            if mileage is not None and mileage > MAX_PLAUSIBLE_KM:
                outcomes.append(
                    _error(
                        row,
                        "mileage",
                        _("%(km)s km is not a plausible odometer reading.") % {"km": mileage},
                    )
                )
                continue
            amounts = self._amounts(clean)
            if number in existing:
                pk, status, vehicle_id = existing[number]
                outcome = ImportOutcome.UNCHANGED
                if status == RepairOrderStatus.OPEN and closed_on is not None:
                    settled.append(
                        (pk, {"closed_at": _local(closed_on, CLOSED_AT, ctx), **amounts})
                    )
                    existing[number] = (pk, RepairOrderStatus.CLOSED, vehicle_id)
                    outcome = ImportOutcome.UPDATED
                outcomes.append(
                    RowOutcome(row.row_number, outcome, vehicle_id=vehicle_id, record_id=pk)
                )
                continue
            if number in in_batch:
                index, vehicle_id = in_batch[number]
                outcomes.append(
                    RowOutcome(row.row_number, ImportOutcome.UNCHANGED, vehicle_id=vehicle_id)
                )
                outcomes[-1].record_id = -1 - index  # replaced by the real id below
                continue
            vehicle, problem = self._vehicle_of(row, vin, plate, by_vin, by_plate)
            if problem is not None:
                outcomes.append(problem)
                continue
            advisor_id, note = match_staff(
                ctx, clean.get("advisor_name") or "", role=_("Service advisor")
            )
            kind = clean.get("repair_kind") or RepairKind.REPAIR
            values = {
                "number": number,
                "vehicle": vehicle,
                "plate": plate or vehicle["plate"],
                "kind": kind,
                "payer": clean.get("payer") or DEFAULT_PAYER.get(kind, Payer.CUSTOMER),
                "opened_at": _local(opened_on, OPENED_AT, ctx),
                "closed_at": _local(closed_on, CLOSED_AT, ctx) if closed_on else None,
                "opened_on": opened_on,
                "mileage": mileage,
                "advisor_id": advisor_id,
                "advisor_name": (clean.get("advisor_name") or "")[:50],
                "concern": clean.get("concern") or "",
                **amounts,
            }
            outcome = RowOutcome(
                row.row_number,
                ImportOutcome.CREATED,
                customer_id=vehicle["owner_id"],
                vehicle_id=vehicle["id"],
                reason=note,
            )
            in_batch[number] = (len(new), vehicle["id"])
            new.append((row, values, outcome))
            outcomes.append(outcome)
        ids = self._write(ctx, new)
        for outcome in outcomes:
            if outcome.record_id is not None and outcome.record_id < 0:
                outcome.record_id = ids[-1 - outcome.record_id]
        self._settle(ctx, settled)
        return outcomes

    @staticmethod
    def _amounts(clean: dict[str, Any]) -> dict[str, Decimal]:
        zero = Decimal("0.00")
        labour = clean.get("labour_amount") or zero
        parts = clean.get("parts_amount") or zero
        total = clean.get("total_amount")
        return {
            "labour_amount": labour,
            "parts_amount": parts,
            "total_amount": total if total is not None else labour + parts,
        }

    @staticmethod
    def _vehicles(
        ctx: BatchContext, rows: list[CleanRow]
    ) -> tuple[dict[str, dict], dict[str, list[dict]]]:
        """The dealer's cars of the batch's VINs, and of the plates of rows without a VIN."""
        vins = {r.clean["vin"] for r in rows if r.clean.get("vin")}
        plates = {r.clean["plate"] for r in rows if r.clean.get("plate") and not r.clean.get("vin")}
        fields = ("id", "vin", "plate", "owner_id")
        by_vin: dict[str, dict] = {}
        by_plate: dict[str, list[dict]] = defaultdict(list)
        if vins:
            for values in Vehicle.objects.filter(dealer_id=ctx.dealer_id, vin__in=vins).values(
                *fields
            ):
                by_vin[values["vin"]] = values
        if plates:
            for values in Vehicle.objects.filter(dealer_id=ctx.dealer_id, plate__in=plates).values(
                *fields
            ):
                by_plate[values["plate"]].append(values)
        return by_vin, by_plate

    @staticmethod
    def _vehicle_of(
        row: CleanRow,
        vin: str,
        plate: str,
        by_vin: dict[str, dict],
        by_plate: dict[str, list[dict]],
    ) -> tuple[dict, None] | tuple[None, RowOutcome]:
        if vin:
            vehicle = by_vin.get(vin)
            if vehicle is None:
                return None, _error(
                    row,
                    "vin",
                    _(
                        "No vehicle with VIN %(vin)s is known at this dealer; import the vehicles first."
                    )
                    % {"vin": vin},
                )
            return vehicle, None
        found = by_plate.get(plate, [])
        if not found:
            return None, _error(
                row,
                "plate",
                _(
                    "No vehicle with plate %(plate)s is known at this dealer; import the vehicles first."
                )
                % {"plate": plate},
            )
        if len(found) > 1:
            return None, _error(
                row,
                "plate",
                _("%(count)d vehicles of the dealer have plate %(plate)s; give the VIN.")
                % {"count": len(found), "plate": plate},
            )
        return found[0], None

    @staticmethod
    def _write(
        ctx: BatchContext, new: list[tuple[CleanRow, dict[str, Any], RowOutcome]]
    ) -> list[int]:
        """The new repair orders and their mileage readings; fills the outcomes' record ids."""
        if not new:
            return []
        dealer_id, now = ctx.dealer_id, to_db(ctx.now)
        ro_ids = ctx.ids.take(RepairOrder, len(new))
        with_mileage = [values for _row, values, _outcome in new if values["mileage"] is not None]
        reading_ids = iter(ctx.ids.take(MileageReading, len(with_mileage)))
        readings, repair_orders = [], []
        for (_row, values, outcome), ro_id in zip(new, ro_ids, strict=True):
            vehicle = values["vehicle"]
            reading_id = None
            if values["mileage"] is not None:
                reading_id = next(reading_ids)
                readings.append(
                    (
                        reading_id, dealer_id, vehicle["id"], values["mileage"],
                        to_db(values["opened_on"]), MileageReading.Source.SERVICE, "",
                    )
                )  # fmt: skip
            closed = values["closed_at"] is not None
            repair_orders.append(
                (
                    ro_id, dealer_id, values["number"], vehicle["id"], vehicle["owner_id"],
                    vehicle["vin"], values["plate"], values["kind"],
                    RepairOrderStatus.CLOSED if closed else RepairOrderStatus.OPEN,
                    to_db(values["opened_at"]), to_db(values["closed_at"]), values["mileage"],
                    values["advisor_id"], values["advisor_name"], values["payer"],
                    values["concern"], to_db(values["labour_amount"]),
                    to_db(values["parts_amount"]), to_db(values["total_amount"]), reading_id,
                    RepairOrderSource.IMPORT, ctx.actor_id, now, now,
                )
            )  # fmt: skip
            outcome.record_id = ro_id
        ctx.bulk.write(MileageReading, READING_FIELDS, readings)
        ctx.bulk.write(RepairOrder, REPAIR_ORDER_FIELDS, repair_orders)
        vehicle_ids = sorted({values["vehicle"]["id"] for _row, values, _outcome in new})
        _service_history_changed(dealer_id, vehicle_ids, flag=bool(readings))
        return ro_ids

    @staticmethod
    def _settle(ctx: BatchContext, settled: list[tuple[int, dict[str, Any]]]) -> None:
        """Close the dealer's open repair orders that the file shows settled (one statement)."""
        if not settled:
            return
        table = connection.ops.quote_name(RepairOrder._meta.db_table)
        sql = (
            f"UPDATE {table} SET status = %s, closed_at = %s, labour_amount = %s, "
            "parts_amount = %s, total_amount = %s, updated_at = %s WHERE id = %s AND dealer_id = %s"
        )
        params = [
            (
                RepairOrderStatus.CLOSED, to_db(values["closed_at"]),
                to_db(values["labour_amount"]), to_db(values["parts_amount"]),
                to_db(values["total_amount"]), to_db(ctx.now), pk, ctx.dealer_id,
            )
            for pk, values in settled
        ]  # fmt: skip
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)
        vehicle_ids = list(
            RepairOrder.objects.filter(
                dealer_id=ctx.dealer_id, pk__in=[pk for pk, _values in settled]
            ).values_list("vehicle_id", flat=True)
        )
        _service_history_changed(ctx.dealer_id, vehicle_ids, flag=False)


def _service_history_changed(dealer_id: int, vehicle_ids: list[int], *, flag: bool) -> None:
    """Flag the cars' readings against each other (and their current mileage), then refresh
    their service forecast: what the repair order service does per order, set-based."""
    from dealercrm.service.services.forecast import forecast_refresh, readings_flag

    # The forecast's functions read with .unscoped() (written for network-wide jobs); this scope
    # still limits every read to the one dealer.
    with dealer_scope(DealerScope.for_dealers([dealer_id], is_network=True)):
        if flag:
            readings_flag(dealer_id=dealer_id, vehicle_ids=vehicle_ids)
        forecast_refresh(dealer_id=dealer_id, vehicle_ids=vehicle_ids)


READING_FIELDS = ("id", "dealer_id", "vehicle_id", "km", "read_on", "source", "flag")
REPAIR_ORDER_FIELDS = (
    "id", "dealer_id", "number", "vehicle_id", "customer_id", "vin", "plate", "kind", "status",
    "opened_at", "closed_at", "mileage_km", "advisor_id", "advisor_name", "payer",
    "customer_concern", "labour_amount", "parts_amount", "total_amount", "mileage_reading_id",
    "source", "created_by_id", "created_at", "updated_at",
)  # fmt: skip


# Registered here; import_writers imports this module at its end, whichever is imported first.
WRITERS["sales"] = SalesWriter()
WRITERS["repair_orders"] = RepairOrderWriter()
