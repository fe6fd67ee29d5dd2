"""Replacement candidates (置换): owners likely to buy their next car, with a suggestion of
which, from the documents' scenario rules; and the same owners arriving in the workshop
(service-to-sales), which the consultant hears of the same hour."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from django.db.models import CharField, Exists, OuterRef, Q, Value
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils.translation import gettext_lazy as _

from .base import (
    Action,
    Assignee,
    Candidate,
    ConfigField,
    Rule,
    RuleContext,
    add_years,
    common_fields,
)

# Words in a customer's lifestyle / interests (the demo's and the import's vocabulary, Chinese
# and codes) that mean frequent long business trips, or trips outdoors.
BUSINESS_TRAVEL = frozenset({"商务出行频繁", "商务出行", "出差", "business_travel", "business"})
OUTDOOR = frozenset(
    {
        "自驾游",
        "露营",
        "户外运动",
        "登山",
        "钓鱼",
        "长途自驾",
        "周末郊游",
        "outdoor",
        "outdoor_trips",
        "camping",
        "self_driving",
    }
)

SUGGESTIONS = {
    "seven_seat": _("The family has grown: suggest a 7-seat model"),
    "electrified": _("Long business trips: suggest a hybrid or electric model"),
    "suv": _("Trips outdoors: suggest an SUV"),
    "newer": _("Suggest a newer model of the same class"),
}


def suggest(
    *,
    bought_on: datetime.date | None,
    children: Sequence[Any] | None,
    lifestyle: Sequence[str] | None,
    interests: Sequence[str] | None,
    seats: int | None,
    body_type: str | None,
    powertrain: str | None,
) -> str:
    """The documents' scenario rules, first match wins: a child born after the purchase and
    fewer than 7 seats → 7-seat; long business trips (and not yet electrified) → hybrid or
    electric; outdoor trips (and not an SUV) → SUV; else the same class, newer."""
    words = set(lifestyle or ()) | set(interests or ())
    if bought_on and seats is not None and seats < 7:
        for year in children or ():
            try:
                if int(year) >= bought_on.year:
                    return "seven_seat"
            except (TypeError, ValueError):
                continue
    if words & BUSINESS_TRAVEL and powertrain not in ("hev", "phev", "bev"):
        return "electrified"
    if words & OUTDOOR and body_type != "suv":
        return "suv"
    return "newer"


def pick_model(
    suggestion: str, catalogue: Sequence[dict[str, Any]], current: dict[str, Any]
) -> str:
    """A model of the brand's catalogue fitting the suggestion ("" when none fits)."""

    def fits(model: dict[str, Any]) -> bool:
        if suggestion == "seven_seat":
            return (model["seats"] or 0) >= 7
        if suggestion == "electrified":
            return model["powertrain"] in ("hev", "phev", "bev")
        if suggestion == "suv":
            return model["body_type"] == "suv"
        return model["body_type"] == current.get("body_type") and model["id"] != current.get("id")

    fitting = [m for m in catalogue if fits(m)]
    if not fitting:
        return ""
    # Same series first, then the newest, then the nearest in price to nothing in particular.
    fitting.sort(
        key=lambda m: (m["series"] != current.get("series"), -(m["model_year"] or 0), m["name"])
    )
    best = fitting[0]
    return f"{best['series']} {best['name']}".strip()


def _catalogue(brand_id: int | None) -> list[dict[str, Any]]:
    from dealercrm.vehicles.models import CarModel

    if brand_id is None:
        return []
    return list(
        CarModel.objects.filter(brand_id=brand_id, is_active=True).values(
            "id", "series", "name", "model_year", "seats", "body_type", "powertrain"
        )
    )


def replacement_q(config: dict[str, Any], day: datetime.date, prefix: str = "") -> Q:
    """Owned `years` or more (purchase, else delivery), or `km` or more on the clock."""
    years = int(config["years"])
    km = int(config["km"])
    return Q(**{f"{prefix}bought_on__lte": add_years(day, -years)}) | Q(
        **{f"{prefix}current_mileage_km__gte": km}
    )


_VEHICLE_FIELDS = (
    "id",
    "owner_id",
    "bought_on",
    "owner__children_birth_years",
    "owner__lifestyle",
    "owner__interests",
    "car_model_id",
    "car_model__seats",
    "car_model__body_type",
    "car_model__powertrain",
    "car_model__series",
    "car_model__name",
)


def _detail(row: tuple, catalogue: list[dict[str, Any]]) -> dict[str, Any]:
    (
        _vid,
        _owner,
        bought,
        children,
        lifestyle,
        interests,
        model_id,
        seats,
        body,
        power,
        series,
        name,
    ) = row
    code = suggest(
        bought_on=bought,
        children=children,
        lifestyle=lifestyle,
        interests=interests,
        seats=seats,
        body_type=body,
        powertrain=power,
    )
    model = pick_model(
        code, catalogue, {"id": model_id, "series": series, "body_type": body, "name": name}
    )
    return {"suggestion": code, "model": model}


def suggestion_text(detail: dict[str, Any]) -> str:
    text = str(SUGGESTIONS.get(detail.get("suggestion", "newer"), SUGGESTIONS["newer"]))
    if detail.get("model"):
        text += str(_(" (for example the %(model)s)")) % {"model": detail["model"]}
    return text


_REPLACEMENT_FIELDS = (
    ConfigField("years", "int", _("Owned for years"), min_value=1, max_value=20),
    ConfigField("km", "int", _("Or mileage from (km)"), min_value=10000, max_value=1000000),
)


class ReplacementCandidate(Rule):
    code = "replacement_candidate"
    label = _("Replacement candidate")
    description = _(
        "Owners who have had their car 3 years or more, or driven it 150,000 km or more: the "
        "consultant is told once per car and owner, with a suggestion (a family that grew → "
        "7 seats; long business trips → hybrid or electric; trips outdoors → SUV; else a "
        "newer model of the same class) naming a model of the brand's catalogue."
    )
    defaults = {
        "enabled": True,
        "years": 3,
        "km": 150000,
        "action": Action.TASK,
        "channel": "phone",
        "assignee": Assignee.CONSULTANT,
        "task_kind": "call",
        "purpose": "personal",
        "script": _(
            "{salutation} may be ready to replace the {vehicle} ({plate}). {suggestion}. "
            "Invite them for a test drive and a trade-in valuation."
        ),
    }
    config_fields = (*_REPLACEMENT_FIELDS, *common_fields())
    title = _("Replacement candidate: {customer} ({vehicle})")
    notifies = True

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        from dealercrm.care.models import CareOccurrence
        from dealercrm.vehicles.models import Vehicle

        # Once per car and owner: leave out the pairs already told (the unique index answers),
        # so a run reads only the cars that newly qualify, not every old car every day.
        told = CareOccurrence.objects.filter(
            dealer_id=ctx.dealer_id,
            rule=self.code,
            subject_id=OuterRef("id"),
            occasion=Concat(Value("owner/"), Cast(OuterRef("owner_id"), CharField())),
        )
        vehicles = Vehicle.objects.filter(
            dealer_id=ctx.dealer_id, owner__isnull=False, owner__is_deleted=False
        )
        if not ctx.first_run:
            # Only cars that crossed a line on the window's days: their N-th anniversary, or a
            # new mileage reading (the forecast's last reading date) — through indexes, not
            # every old car every morning.
            years = int(ctx.config["years"])
            since = add_years(ctx.first - datetime.timedelta(days=1), -years)
            until = add_years(ctx.last, -years)
            from dealercrm.service.models import VehicleServiceState

            mine = Vehicle.objects.filter(dealer_id=ctx.dealer_id)
            read = VehicleServiceState.objects.filter(
                dealer_id=ctx.dealer_id,
                last_reading_on__gte=ctx.first - datetime.timedelta(days=1),
            )
            # Three index range reads, then the few cars by primary key (an OR of IN
            # subqueries would read every car of the dealer).
            ids = set(
                mine.filter(purchase_date__gt=since, purchase_date__lte=until).values_list(
                    "pk", flat=True
                )
            )
            ids.update(
                mine.filter(
                    purchase_date__isnull=True, delivery_date__gt=since, delivery_date__lte=until
                ).values_list("pk", flat=True)
            )
            ids.update(read.values_list("vehicle_id", flat=True))
            if not ids:
                return []
            vehicles = vehicles.filter(pk__in=sorted(ids))
        rows = (
            vehicles.annotate(bought_on=Coalesce("purchase_date", "delivery_date"))
            .filter(replacement_q(ctx.config, ctx.last))
            .filter(~Exists(told))
            .values_list(*_VEHICLE_FIELDS)
        )
        catalogue = _catalogue(ctx.brand_id)
        return [
            Candidate(row[0], row[1], row[0], f"owner/{row[1]}", ctx.last, _detail(row, catalogue))
            for row in rows
        ]

    def variables(
        self, ctx: RuleContext, run_id: int, rows: Sequence[tuple[int, int, str, dict[str, Any]]]
    ) -> dict[int, dict[str, Any]]:
        return {oid: {"suggestion": suggestion_text(detail)} for oid, _c, _o, detail in rows}


class ServiceToSales(Rule):
    code = "service_to_sales"
    label = _("Replacement candidate in the workshop")
    description = _(
        "When a repair order opens for a replacement candidate (same thresholds), the "
        "consultant is alerted at once (a notice and a task), while the customer is in the "
        "building; repair orders that arrive by import are picked up within the hour."
    )
    defaults = {
        "enabled": True,
        "years": 3,
        "km": 150000,
        "action": Action.TASK,
        "channel": "phone",
        "assignee": Assignee.CONSULTANT,
        "task_kind": "follow_up",
        "purpose": "personal",
        "script": _(
            "{salutation} is in the workshop with the {vehicle} ({plate}), a replacement "
            "candidate. {suggestion}. Meet them while they wait."
        ),
    }
    config_fields = (*_REPLACEMENT_FIELDS, *common_fields())
    title = _("In the workshop now: {customer} ({vehicle}), a replacement candidate")
    notifies = True

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        """Repair orders opened on the window's days, or — for the listener and the hourly
        sweep — `ctx.extra["repair_order_id"]` / `ctx.extra["opened_since"]`."""
        import zoneinfo

        from dealercrm.service.models import RepairOrder, RepairOrderStatus

        tz = zoneinfo.ZoneInfo(ctx.time_zone)
        orders = RepairOrder.objects.filter(dealer_id=ctx.dealer_id).exclude(
            status=RepairOrderStatus.CANCELLED
        )
        if "repair_order_id" in ctx.extra:
            orders = orders.filter(pk=ctx.extra["repair_order_id"])
        elif "opened_since" in ctx.extra:
            orders = orders.filter(opened_at__gte=ctx.extra["opened_since"])
        else:
            start = datetime.datetime.combine(ctx.first, datetime.time.min, tz)
            end = datetime.datetime.combine(
                ctx.last + datetime.timedelta(days=1), datetime.time.min, tz
            )
            orders = orders.filter(opened_at__gte=start, opened_at__lt=end)
        rows = (
            orders.filter(vehicle__owner__isnull=False, vehicle__owner__is_deleted=False)
            .annotate(bought_on=Coalesce("vehicle__purchase_date", "vehicle__delivery_date"))
            .filter(
                Q(bought_on__lte=add_years(ctx.last, -int(ctx.config["years"])))
                | Q(vehicle__current_mileage_km__gte=int(ctx.config["km"]))
            )
            .values_list(
                "id",
                "opened_at",
                *(f"vehicle__{name}" if name != "bought_on" else name for name in _VEHICLE_FIELDS),
            )
        )
        catalogue = _catalogue(ctx.brand_id)
        found = []
        for ro_id, opened, *vehicle in rows:
            detail = _detail(tuple(vehicle), catalogue)
            detail["repair_order_id"] = ro_id
            found.append(
                Candidate(
                    vehicle[0],
                    vehicle[1],
                    vehicle[0],
                    f"ro/{ro_id}",
                    opened.astimezone(tz).date(),
                    detail,
                )
            )
        return found

    def variables(
        self, ctx: RuleContext, run_id: int, rows: Sequence[tuple[int, int, str, dict[str, Any]]]
    ) -> dict[int, dict[str, Any]]:
        return {oid: {"suggestion": suggestion_text(detail)} for oid, _c, _o, detail in rows}


RULES = (ReplacementCandidate(), ServiceToSales())
