"""Orders and delivery. CONTRACT:
- `order_create(*, actor, lead, car_model, price, promised_delivery_on, deposit=0, quote=None,
   vehicle=None, colour="", ordered_on=None) -> Order`  refuses a vehicle already sold or on a
  live order; advances the lead to "order"; customer lifecycle → in order.
- `order_milestone_set(*, actor, order, stage, expected_on=None, reached_on=None) -> Order`
- `order_delays_detect(*, today=None) -> int`  (also run on every milestone change)
- `order_customer_told(*, actor, order, at=None) -> Order`
- `order_deliver(*, actor, order, vin, plate="", delivered_on=None) -> Order`  the customer
  becomes an owner, the vehicle is registered to them, a follow-up call is due within 3 days.
- `register_task_hooks()`  called from hooks.register().

Also here: `order_delay_message_send` (the delay notice from the order page, which counts as
telling the customer) and `order_cancel`.

The delay rule, from the documents: a customer whose car will be late must be told before the
promised date (one survey found only 47.1% were). The first time the forecast
(`expected_delivery_on`, the "delivered" milestone's expected date) passes the promise, the
order records `delay_detected_at` and its consultant gets one mandatory call task. The customer
counts as told when that task is done with the customer reached, when staff record it on the
order page, or when a delay message is sent from there; `told_in_time` says whether that was
before the promised date, in the dealer's time zone.
"""

from __future__ import annotations

import datetime
import secrets
import zoneinfo
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.audit import audit_record
from dealercrm.core.models import AuditEvent, Dealer, User
from dealercrm.customers.models import Customer, LifecycleStage
from dealercrm.vehicles.models import CarModel, Vehicle
from dealercrm.worklist.models import Task, TaskKind, TaskStatus

from ..models import Lead, LeadStage, Order, OrderMilestone, OrderStage, Quote, SalesPolicy
from ..models.leads import CLOSED_STAGES
from ..models.orders import ORDER_STAGE_SEQUENCE

# Worklist tasks of this topic: source_id "<order id>:delay" or "<order id>:followup".
TASK_SOURCE_KIND = "sales.order"
DELAY_TASK_SUFFIX = "delay"
FOLLOWUP_TASK_SUFFIX = "followup"
# The documents: a follow-up call within 3 days of delivery.
FOLLOWUP_DAYS = 3
NUMBER_PREFIX = "SO"
_NUMBER_ATTEMPTS = 8
# secrets.token_urlsafe(32): 32 random bytes, 43 characters, 256 bits — not guessable.
TRACKING_TOKEN_BYTES = 32
# Task results that mean the customer was on the line (worklist.outcomes.REACHED_RESULTS, "done").
_TOLD_RESULTS = frozenset({"", "done", "reached", "call_back", "not_interested"})
_STAGE_INDEX = {stage.value: i for i, stage in enumerate(ORDER_STAGE_SEQUENCE)}


# --- small helpers ----------------------------------------------------------------------------


def _zone(time_zone: str) -> zoneinfo.ZoneInfo | datetime.tzinfo:
    try:
        return zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_current_timezone()


def dealer_today(dealer_id: int) -> datetime.date:
    """Today in the dealer's time zone."""
    tz = Dealer.objects.filter(pk=dealer_id).values_list("time_zone", flat=True).first()
    return timezone.localdate(timezone.now(), _zone(tz or ""))


def told_in_time(*, told_at: datetime.datetime, promised_on: datetime.date, time_zone: str) -> bool:
    """Told on a day before the promised delivery date, in the dealer's time zone."""
    return timezone.localtime(told_at, _zone(time_zone)).date() < promised_on


def _local_datetime(day: datetime.date, at: datetime.time, time_zone: str) -> datetime.datetime:
    zone = _zone(time_zone)
    # Through UTC and back, so a time in a daylight-saving gap lands on a real instant.
    return datetime.datetime.combine(day, at, tzinfo=zone).astimezone(datetime.UTC)


def _money(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append(_("Enter an amount in yuan."))
        return None
    if not amount.is_finite():
        errors.setdefault(field, []).append(_("Enter an amount in yuan."))
        return None
    return amount.quantize(Decimal("0.01"))


def _advance_lead(*, actor: User | None, lead: Lead, stage: str, at: datetime.datetime) -> None:
    """The lead moves to `stage` through the leads topic's service (forward only, stamped)."""
    from .leads import lead_stage_advance

    lead_stage_advance(actor=actor, lead=lead, stage=stage, at=at)


def _lifecycle_to(
    *, actor: User | None, customer_id: int, stage: str, only_from: Iterable[str]
) -> None:
    """Move the customer's lifecycle stage through the customers service (audit-logged), only
    from the given stages: an owner buying a second car stays an owner."""
    from dealercrm.customers.services import customer_update

    customer = Customer.objects.filter(pk=customer_id, is_deleted=False).first()
    if customer is None or customer.lifecycle_stage not in set(only_from):
        return
    customer_update(actor=actor, customer=customer, version=customer.version, lifecycle_stage=stage)


def _next_number(dealer_id: int, day: datetime.date) -> str:
    prefix = f"{NUMBER_PREFIX}{day:%Y%m%d}"
    last = (
        Order.objects.filter(dealer_id=dealer_id, number__startswith=prefix)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    sequence = 1
    if last and last[len(prefix) :].isdigit():
        sequence = int(last[len(prefix) :]) + 1
    return f"{prefix}{sequence:03d}"


def spread_expected_dates(
    ordered_on: datetime.date, promised_on: datetime.date
) -> dict[str, datetime.date]:
    """Expected dates of the stages, spread evenly from the order date to the promised date."""
    steps = len(ORDER_STAGE_SEQUENCE) - 1
    span = (promised_on - ordered_on).days
    return {
        stage.value: ordered_on + datetime.timedelta(days=round(span * index / steps))
        for index, stage in enumerate(ORDER_STAGE_SEQUENCE)
    }


def _vehicle_sold_error(vehicle: Vehicle, *, exclude_order_id: int | None = None) -> str:
    """Why the vehicle cannot be sold on an order, or "" when it can."""
    if vehicle.owner_id is not None:
        return _("This vehicle is sold: it is registered to a customer already.")
    if vehicle.delivery_date is not None:
        return _("This vehicle is sold: it was delivered on %(date)s.") % {
            "date": vehicle.delivery_date.isoformat()
        }
    live = Order.objects.filter(dealer_id=vehicle.dealer_id, vehicle_id=vehicle.pk).exclude(
        stage=OrderStage.CANCELLED
    )
    if exclude_order_id is not None:
        live = live.exclude(pk=exclude_order_id)
    number = live.values_list("number", flat=True).first()
    if number:
        return _("This vehicle is sold: it is on order %(number)s.") % {"number": number}
    return ""


# --- create -----------------------------------------------------------------------------------


@transaction.atomic
def order_create(
    *,
    actor: User | None,
    lead: Lead,
    car_model: CarModel | None = None,
    price: Decimal | str | int | None = None,
    promised_delivery_on: datetime.date | None,
    deposit: Decimal | str | int = 0,
    quote: Quote | None = None,
    vehicle: Vehicle | None = None,
    colour: str = "",
    ordered_on: datetime.date | None = None,
    deposit_paid_on: datetime.date | None = None,
    expected_dates: Mapping[str, datetime.date] | None = None,
    request: HttpRequest | None = None,
) -> Order:
    """A signed order on the lead, with a milestone per stage and its tracking link.

    With `quote` (one of the lead's), the model, colour and price (vehicle price less discount)
    come from it unless given. `expected_dates` ({stage: date}) overrides the even spread of the
    stages between the order date and the promised date. Refuses a closed lead, a sold vehicle
    (owned, delivered or on another live order), a negative deposit or one above the price, a
    promised date in the past; nothing is written then.
    """
    lead = Lead.objects.select_for_update().get(pk=lead.pk)
    dealer_id = lead.dealer_id
    today = dealer_today(dealer_id)
    ordered_on = ordered_on or today
    errors: dict[str, list[str]] = {}

    if lead.stage in CLOSED_STAGES:
        errors.setdefault("lead", []).append(
            _("This lead is closed (%(stage)s): an order needs an open lead.")
            % {"stage": LeadStage(lead.stage).label}
        )
    if quote is not None:
        if quote.lead_id != lead.pk:
            errors.setdefault("quote", []).append(_("Choose a quote of this lead."))
        else:
            car_model = car_model or quote.car_model
            colour = colour or quote.colour
            if price is None or price == "":
                price = quote.vehicle_price - quote.discount
    if car_model is None:
        errors.setdefault("car_model", []).append(_("Choose the model ordered."))
    amount = _money(price, "price", errors)
    if amount is None and "price" not in errors:
        errors.setdefault("price", []).append(_("Enter the price agreed."))
    elif amount is not None and amount <= 0:
        errors.setdefault("price", []).append(_("The price must be more than zero."))
    deposit_amount = _money(deposit, "deposit", errors)
    if deposit_amount is None:
        deposit_amount = Decimal("0.00")
    if deposit_amount < 0:
        errors.setdefault("deposit", []).append(_("The deposit cannot be negative."))
    elif amount is not None and amount > 0 and deposit_amount > amount:
        errors.setdefault("deposit", []).append(
            _("The deposit (¥%(deposit)s) cannot be more than the price (¥%(price)s).")
            % {"deposit": deposit_amount, "price": amount}
        )
    if ordered_on > today:
        errors.setdefault("ordered_on", []).append(_("The order date cannot be in the future."))
    if promised_delivery_on is None:
        errors.setdefault("promised_delivery_on", []).append(
            _("Enter the delivery date promised to the customer.")
        )
    elif promised_delivery_on < today:
        errors.setdefault("promised_delivery_on", []).append(
            _("The promised delivery date %(date)s is in the past.")
            % {"date": promised_delivery_on.isoformat()}
        )
    elif promised_delivery_on < ordered_on:
        errors.setdefault("promised_delivery_on", []).append(
            _("The promised delivery date cannot be before the order date.")
        )
    if deposit_paid_on is not None and deposit_paid_on > today:
        errors.setdefault("deposit_paid_on", []).append(
            _("The deposit cannot have been paid in the future.")
        )
    if vehicle is not None:
        vehicle = Vehicle.objects.select_for_update().filter(pk=vehicle.pk).first()
        if vehicle is None or vehicle.dealer_id != dealer_id:
            errors.setdefault("vehicle", []).append(_("Choose a vehicle of this dealer."))
        else:
            sold = _vehicle_sold_error(vehicle)
            if sold:
                errors.setdefault("vehicle", []).append(sold)
    unknown_stages = set(expected_dates or {}) - set(_STAGE_INDEX)
    if unknown_stages:
        errors.setdefault("expected_dates", []).append(
            _("Unknown stages: %(stages)s.") % {"stages": ", ".join(sorted(unknown_stages))}
        )
    if errors:
        raise ValidationError(errors)
    assert promised_delivery_on is not None and amount is not None and car_model is not None

    expected = spread_expected_dates(ordered_on, promised_delivery_on)
    expected.update({k: v for k, v in (expected_dates or {}).items() if v is not None})
    now = timezone.now()
    order = Order(
        dealer_id=dealer_id,
        lead=lead,
        customer_id=lead.customer_id,
        quote=quote,
        car_model=car_model,
        colour=(colour or "").strip()[:30],
        vehicle=vehicle,
        ordered_on=ordered_on,
        price=amount,
        deposit=deposit_amount,
        deposit_paid_on=deposit_paid_on or (ordered_on if deposit_amount > 0 else None),
        promised_delivery_on=promised_delivery_on,
        expected_delivery_on=expected[OrderStage.DELIVERED],
        stage=OrderStage.ORDERED,
        tracking_token=secrets.token_urlsafe(TRACKING_TOKEN_BYTES),
        created_by=actor if actor is not None and actor.is_authenticated else None,
        created_at=now,
        updated_at=now,
    )
    for _attempt in range(_NUMBER_ATTEMPTS):
        order.number = _next_number(dealer_id, ordered_on)
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError as exc:
            # Another order took this number (or this vehicle) meanwhile: which one was it?
            if vehicle is not None and _vehicle_sold_error(vehicle):
                raise ValidationError({"vehicle": [_vehicle_sold_error(vehicle)]}) from exc
            if not Order.objects.filter(dealer_id=dealer_id, number=order.number).exists():
                raise
            order.pk = None
            continue
        break
    else:  # pragma: no cover — eight clashes in a row
        raise ValidationError({"number": [_("No free order number; try again.")]})

    OrderMilestone.objects.bulk_create(
        [
            OrderMilestone(
                dealer_id=dealer_id,
                order=order,
                stage=stage.value,
                expected_on=expected[stage.value],
                reached_on=ordered_on if stage == OrderStage.ORDERED else None,
                updated_at=now,
            )
            for stage in ORDER_STAGE_SEQUENCE
        ]
    )
    if quote is not None:
        Quote.objects.filter(pk=quote.pk).update(status=Quote.Status.ACCEPTED)
    _advance_lead(actor=actor, lead=lead, stage=LeadStage.ORDER, at=now)
    _lifecycle_to(
        actor=actor,
        customer_id=lead.customer_id,
        stage=LifecycleStage.IN_ORDER,
        only_from=(LifecycleStage.PROSPECT, LifecycleStage.LOST),
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=order,
        changes={
            "lead": lead.pk,
            "price": str(amount),
            "deposit": str(deposit_amount),
            "promised_delivery_on": promised_delivery_on.isoformat(),
            "vehicle": vehicle.pk if vehicle is not None else None,
        },
        request=request,
    )
    if order.expected_delivery_on > order.promised_delivery_on:
        _detect_delay_of(order, now=now)
    return order


# --- progress and delays ----------------------------------------------------------------------


def _check_open(order: Order) -> None:
    if order.stage == OrderStage.DELIVERED:
        raise ValidationError({"stage": _("This order is delivered; its progress is final.")})
    if order.stage == OrderStage.CANCELLED:
        raise ValidationError({"stage": _("This order is cancelled.")})


@transaction.atomic
def order_milestone_set(
    *,
    actor: User | None,
    order: Order,
    stage: str,
    expected_on: datetime.date | None = None,
    reached_on: datetime.date | None = None,
    request: HttpRequest | None = None,
) -> Order:
    """Set a stage's expected and/or reached date (None: keep). Reaching a stage moves the order
    forward to it; the "delivered" stage's expected date is the order's forecast, and a forecast
    past the promise starts the delay rule. Delivery itself is `order_deliver`."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    _check_open(order)
    errors: dict[str, list[str]] = {}
    today = dealer_today(order.dealer_id)
    if stage not in _STAGE_INDEX:
        errors.setdefault("stage", []).append(_("Choose a stage of the order's progress."))
    elif stage == OrderStage.DELIVERED and reached_on is not None:
        errors.setdefault("reached_on", []).append(
            _("Record the delivery with the delivery form: it registers the car to the customer.")
        )
    elif stage == OrderStage.ORDERED and reached_on is not None and reached_on != order.ordered_on:
        errors.setdefault("reached_on", []).append(_("The order was placed on the order date."))
    if expected_on is not None and expected_on < order.ordered_on:
        errors.setdefault("expected_on", []).append(
            _("The expected date cannot be before the order date (%(date)s).")
            % {"date": order.ordered_on.isoformat()}
        )
    if reached_on is not None:
        if reached_on > today:
            errors.setdefault("reached_on", []).append(
                _("A stage cannot be reached in the future.")
            )
        elif reached_on < order.ordered_on:
            errors.setdefault("reached_on", []).append(
                _("A stage cannot be reached before the order date (%(date)s).")
                % {"date": order.ordered_on.isoformat()}
            )
    if errors:
        raise ValidationError(errors)
    if expected_on is None and reached_on is None:
        return order

    now = timezone.now()
    milestone, _created = OrderMilestone.objects.get_or_create(
        dealer_id=order.dealer_id, order=order, stage=stage, defaults={"updated_at": now}
    )
    before = {"expected_on": milestone.expected_on, "reached_on": milestone.reached_on}
    if expected_on is not None:
        milestone.expected_on = expected_on
    if reached_on is not None:
        milestone.reached_on = reached_on
    milestone.updated_at = now
    milestone.save(update_fields=["expected_on", "reached_on", "updated_at"])

    fields = ["updated_at"]
    order.updated_at = now
    if reached_on is not None and _STAGE_INDEX[stage] > _STAGE_INDEX.get(order.stage, 0):
        order.stage = stage
        fields.append("stage")
    if stage == OrderStage.DELIVERED and expected_on is not None:
        order.expected_delivery_on = expected_on
        fields.append("expected_delivery_on")
    order.save(update_fields=fields)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=order,
        changes={
            f"{stage}.{name}": [
                value.isoformat() if value else None,
                getattr(milestone, name).isoformat() if getattr(milestone, name) else None,
            ]
            for name, value in before.items()
            if value != getattr(milestone, name)
        },
        request=request,
    )
    if order.expected_delivery_on > order.promised_delivery_on:
        _detect_delay_of(order, now=now)
    return order


def _delay_task_rows(rows: list[dict[str, Any]], now: datetime.datetime) -> list[Task]:
    """One "tell the customer" task per order row, due by today's closing time at its dealer."""
    dealer_ids = {row["dealer_id"] for row in rows}
    zones = dict(Dealer.objects.filter(pk__in=dealer_ids).values_list("pk", "time_zone"))
    closing = dict(
        SalesPolicy.objects.filter(dealer_id__in=dealer_ids).values_list("dealer_id", "closes_at")
    )
    tasks = []
    for row in rows:
        tz = zones.get(row["dealer_id"], "")
        today = timezone.localtime(now, _zone(tz)).date()
        due = _local_datetime(today, closing.get(row["dealer_id"]) or datetime.time(18, 0), tz)
        tasks.append(
            Task(
                dealer_id=row["dealer_id"],
                customer_id=row["customer_id"],
                assignee_id=row["lead__consultant_id"],
                kind=TaskKind.CALL,
                title=_("Tell the customer about the delivery delay (order %(number)s)")
                % {"number": row["number"]},
                body=_(
                    "The delivery promised for %(promised)s is now expected on %(expected)s. "
                    "Call the customer before the promised date, explain why and give the new "
                    "date. Completing this task with the customer reached records that they "
                    "were told."
                )
                % {
                    "promised": row["promised_delivery_on"].isoformat(),
                    "expected": row["expected_delivery_on"].isoformat(),
                },
                due_at=max(due, now),
                source_kind=TASK_SOURCE_KIND,
                source_id=f"{row['pk']}:{DELAY_TASK_SUFFIX}",
                created_at=now,
            )
        )
    return tasks


_DELAY_ROW_FIELDS = (
    "pk",
    "dealer_id",
    "customer_id",
    "lead__consultant_id",
    "number",
    "promised_delivery_on",
    "expected_delivery_on",
)


def _record_delays(order_ids: list[int], now: datetime.datetime) -> int:
    """Stamp `delay_detected_at` on the orders not stamped yet and give each one task.

    Set-based: one read, one UPDATE, one read of the existing tasks, one INSERT. An order that
    already has its delay task (a second run, a race) gets no second one.
    """
    if not order_ids:
        return 0
    candidates = Order.objects.filter(pk__in=order_ids, delay_detected_at__isnull=True)
    rows = list(candidates.select_for_update(of=("self",)).values(*_DELAY_ROW_FIELDS))
    if not rows:
        return 0
    ids = [row["pk"] for row in rows]
    Order.objects.filter(pk__in=ids, delay_detected_at__isnull=True).update(
        delay_detected_at=now, updated_at=now
    )
    existing = set(
        Task.objects.filter(
            source_kind=TASK_SOURCE_KIND,
            source_id__in=[f"{pk}:{DELAY_TASK_SUFFIX}" for pk in ids],
        ).values_list("source_id", flat=True)
    )
    new = [row for row in rows if f"{row['pk']}:{DELAY_TASK_SUFFIX}" not in existing]
    Task.objects.bulk_create(_delay_task_rows(new, now))
    return len(rows)


def _detect_delay_of(order: Order, *, now: datetime.datetime) -> None:
    if order.delay_detected_at is not None or order.stage in (
        OrderStage.DELIVERED,
        OrderStage.CANCELLED,
    ):
        return
    if _record_delays([order.pk], now):
        order.delay_detected_at = now


@transaction.atomic
def order_delays_detect(*, today: datetime.date | None = None) -> int:
    """Catch up, set-based, on every open order of the scope whose forecast is past its promise
    and whose delay is not recorded yet (the daily job; milestone changes check at once).

    Also settles `told_in_time = False` for delayed orders whose promised date passed with the
    customer untold. Returns how many delays were newly recorded. Runs twice without harm.
    """
    now = timezone.now()
    ids = list(
        Order.objects.open()
        .filter(delay_detected_at__isnull=True, expected_delivery_on__gt=F("promised_delivery_on"))
        .values_list("pk", flat=True)
    )
    found = _record_delays(ids, now)
    # A promise broken without a word: decided, not told in time. `today` defaults to the
    # server's date, which is the dealer's for the dealers of one time zone (China).
    cutoff = today or timezone.localdate(now)
    Order.objects.filter(
        delay_detected_at__isnull=False,
        customer_told_at__isnull=True,
        told_in_time__isnull=True,
        promised_delivery_on__lt=cutoff,
    ).exclude(stage=OrderStage.CANCELLED).exclude(
        # Handed over by the promised date after all: the customer saw no delay.
        delivered_on__isnull=False,
        delivered_on__lte=F("promised_delivery_on"),
    ).update(told_in_time=False, updated_at=now)
    return found


@transaction.atomic
def order_customer_told(
    *,
    actor: User | None,
    order: Order,
    at: datetime.datetime | None = None,
    how: str = "",
    request: HttpRequest | None = None,
) -> Order:
    """Record that the customer was told about the delay (once: the first time counts), whether
    in time (before the promised date, in the dealer's time zone), and close the open delay
    task as done."""
    order = Order.objects.select_for_update(of=("self",)).select_related("dealer").get(pk=order.pk)
    if order.delay_detected_at is None:
        raise ValidationError(
            {"customer_told_at": _("This order has no delay to tell the customer about.")}
        )
    if order.customer_told_at is not None:
        return order
    at = at or timezone.now()
    if at > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationError({"customer_told_at": _("This cannot be in the future.")})
    order.customer_told_at = at
    order.told_in_time = told_in_time(
        told_at=at, promised_on=order.promised_delivery_on, time_zone=order.dealer.time_zone
    )
    order.updated_at = timezone.now()
    order.save(update_fields=["customer_told_at", "told_in_time", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=order,
        changes={
            "customer_told_at": [None, at.isoformat()],
            "told_in_time": [None, order.told_in_time],
            "how": how,
        },
        request=request,
    )
    open_task = Task.objects.filter(
        dealer_id=order.dealer_id,
        source_kind=TASK_SOURCE_KIND,
        source_id=f"{order.pk}:{DELAY_TASK_SUFFIX}",
        status=TaskStatus.OPEN,
    ).first()
    if open_task is not None and actor is not None:
        from dealercrm.worklist.services import task_complete

        # Its hook finds the customer told already and does nothing more.
        task_complete(actor=actor, task=open_task, outcome=f"done: {how}" if how else "done")
    return order


def default_delay_message(order: Order) -> str:
    """The delay notice's text: the new expected date is the {{ delivery_date }} variable."""
    return _(
        "{{ salutation }}, we are sorry: the delivery of your %(model)s (order %(number)s) will "
        "be later than promised. It is now expected on {{ delivery_date }}. Your consultant will "
        "keep you informed. {{ dealer_name }}"
    ) % {"model": order.car_model, "number": order.number}


@transaction.atomic
def order_delay_message_send(
    *,
    actor: User | None,
    order: Order,
    channel: str,
    body: str = "",
    request: HttpRequest | None = None,
) -> Any:
    """Send the delay notice (a service message: no marketing consent needed) and record the
    customer as told. Once per order and channel: sending again returns the first message."""
    from dealercrm.messaging.models import Message, Purpose
    from dealercrm.messaging.services import message_send

    order = Order.objects.select_related("customer", "car_model").get(pk=order.pk)
    if order.delay_detected_at is None:
        raise ValidationError({"body": _("This order has no delay to tell the customer about.")})
    message = message_send(
        actor=actor,
        customer=order.customer,
        channel=channel,
        purpose=Purpose.DELIVERY_DELAY,
        body=body or default_delay_message(order),
        source_kind=Message.SourceKind.SALES,
        source_id=f"order:{order.pk}:delay",
        extra={"delivery_date": order.expected_delivery_on.isoformat()},
        request=request,
    )
    order_customer_told(
        actor=actor, order=order, at=message.created_at, how=_("delay message"), request=request
    )
    return message


def order_task_closed(task: Task) -> None:
    """Worklist hook: the delay task done with the customer reached → told (when it was done)."""
    order_id, _sep, suffix = task.source_id.partition(":")
    if task.source_kind != TASK_SOURCE_KIND or suffix != DELAY_TASK_SUFFIX:
        return
    if task.status != TaskStatus.DONE or not order_id.isdigit():
        return
    from dealercrm.worklist.outcomes import split_outcome

    result, _note = split_outcome(task.outcome)
    if result not in _TOLD_RESULTS:
        return  # no answer, busy, wrong number: the customer does not know yet
    order = Order.objects.filter(dealer_id=task.dealer_id, pk=int(order_id)).first()
    if order is None or order.customer_told_at is not None or order.delay_detected_at is None:
        return
    order_customer_told(
        actor=None, order=order, at=task.completed_at or timezone.now(), how=_("call task")
    )


def register_task_hooks() -> None:
    """Registers this topic's worklist completion hooks."""
    from dealercrm.worklist.services import register_task_completion_hook

    register_task_completion_hook(TASK_SOURCE_KIND, order_task_closed)


# --- delivery ---------------------------------------------------------------------------------

_VEHICLE_ERROR_FIELDS = {
    "on": "delivered_on",
    "purchase_date": "delivered_on",
    "delivery_date": "delivered_on",
    "new_owner": "vin",
    "owner": "vin",
    "car_model": "vin",
}


def _vehicle_errors(exc: ValidationError) -> ValidationError:
    if not hasattr(exc, "error_dict"):
        return ValidationError({"vin": exc.messages})
    errors: dict[str, list[str]] = {}
    for name, messages in exc.message_dict.items():
        errors.setdefault(_VEHICLE_ERROR_FIELDS.get(name, name), []).extend(messages)
    return ValidationError(errors)


@transaction.atomic
def order_deliver(
    *,
    actor: User | None,
    order: Order,
    vin: str,
    plate: str = "",
    delivered_on: datetime.date | None = None,
    request: HttpRequest | None = None,
) -> Order:
    """Hand the car over: the vehicle (found by VIN in the dealer's stock, else created; the
    VIN is checked by the vehicles service) is registered to the customer from `delivered_on`,
    the order and lead become delivered, the customer an owner, and the consultant gets a
    follow-up call due within 3 days. Refuses a VIN of a car owned by someone else or on
    another live order."""
    from dealercrm.vehicles.services import vehicle_create, vehicle_transfer, vehicle_update
    from dealercrm.vehicles.validators import normalise_vin

    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "car_model", "lead", "dealer")
        .get(pk=order.pk)
    )
    _check_open(order)
    today = dealer_today(order.dealer_id)
    delivered_on = delivered_on or today
    errors: dict[str, list[str]] = {}
    if delivered_on > today:
        errors.setdefault("delivered_on", []).append(
            _("The delivery date cannot be in the future.")
        )
    elif delivered_on < order.ordered_on:
        errors.setdefault("delivered_on", []).append(
            _("The delivery date cannot be before the order date (%(date)s).")
            % {"date": order.ordered_on.isoformat()}
        )
    wanted_vin = normalise_vin(vin or "")
    if not wanted_vin:
        errors.setdefault("vin", []).append(_("Enter the VIN of the car handed over."))
    customer = order.customer
    vehicle = None
    if wanted_vin:
        vehicle = (
            Vehicle.objects.select_for_update()
            .filter(dealer_id=order.dealer_id, vin=wanted_vin)
            .first()
        )
    if vehicle is not None:
        if vehicle.owner_id is not None and vehicle.owner_id != customer.pk:
            errors.setdefault("vin", []).append(
                _("The car with this VIN is registered to another customer.")
            )
        else:
            other = (
                Order.objects.filter(dealer_id=order.dealer_id, vehicle_id=vehicle.pk)
                .exclude(pk=order.pk)
                .exclude(stage=OrderStage.CANCELLED)
                .values_list("number", flat=True)
                .first()
            )
            if other:
                errors.setdefault("vin", []).append(
                    _("The car with this VIN is on another order (%(number)s).") % {"number": other}
                )
    if errors:
        raise ValidationError(errors)

    try:
        if vehicle is None:
            vehicle = vehicle_create(
                actor=actor,
                owner=customer,
                vin=wanted_vin,
                car_model=order.car_model,
                plate=plate,
                colour=order.colour,
                purchase_date=delivered_on,
                delivery_date=delivered_on,
                request=request,
            )
        else:
            if vehicle.owner_id != customer.pk:
                vehicle = vehicle_transfer(
                    actor=actor,
                    vehicle=vehicle,
                    new_owner=customer,
                    on=delivered_on,
                    request=request,
                )
            changes: dict[str, Any] = {"purchase_date": delivered_on, "delivery_date": delivered_on}
            if plate:
                changes["plate"] = plate
            if vehicle.car_model_id is None:
                changes["car_model"] = order.car_model
            if not vehicle.colour and order.colour:
                changes["colour"] = order.colour
            vehicle = vehicle_update(
                actor=actor, vehicle=vehicle, version=vehicle.version, request=request, **changes
            )
    except ValidationError as exc:
        raise _vehicle_errors(exc) from exc

    now = timezone.now()
    order.vehicle = vehicle
    order.stage = OrderStage.DELIVERED
    order.delivered_on = delivered_on
    order.updated_at = now
    try:
        with transaction.atomic():
            order.save(update_fields=["vehicle", "stage", "delivered_on", "updated_at"])
    except IntegrityError as exc:
        raise ValidationError({"vin": [_("The car with this VIN is on another order.")]}) from exc
    OrderMilestone.objects.update_or_create(
        dealer_id=order.dealer_id,
        order=order,
        stage=OrderStage.DELIVERED,
        defaults={"reached_on": delivered_on, "updated_at": now},
    )
    # The lead's stage time: now for a delivery today, midday of the day for one recorded late.
    delivered_at = (
        now
        if delivered_on == today
        else _local_datetime(delivered_on, datetime.time(12, 0), order.dealer.time_zone)
    )
    _advance_lead(actor=actor, lead=order.lead, stage=LeadStage.DELIVERED, at=delivered_at)
    _lifecycle_to(
        actor=actor,
        customer_id=customer.pk,
        stage=LifecycleStage.OWNER,
        only_from=(
            LifecycleStage.PROSPECT,
            LifecycleStage.IN_ORDER,
            LifecycleStage.LOST,
            LifecycleStage.AT_RISK,
        ),
    )
    _followup_task(order, delivered_on=delivered_on, now=now)
    _close_delay_task(actor, order, _("The car was delivered."))
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=order,
        changes={
            "stage": [None, OrderStage.DELIVERED],
            "delivered_on": delivered_on.isoformat(),
            "vin": vehicle.vin,
        },
        request=request,
    )
    return order


def _close_delay_task(actor: User | None, order: Order, why: str) -> None:
    """Cancel the open "tell the customer" task of an order that no longer needs it (its hook
    sees it cancelled: the customer does not count as told)."""
    if actor is None:
        return
    from dealercrm.worklist.services import task_cancel

    for task in Task.objects.filter(
        dealer_id=order.dealer_id,
        source_kind=TASK_SOURCE_KIND,
        source_id=f"{order.pk}:{DELAY_TASK_SUFFIX}",
        status=TaskStatus.OPEN,
    ):  # at most one
        task_cancel(actor=actor, task=task, outcome=why)


def _followup_task(order: Order, *, delivered_on: datetime.date, now: datetime.datetime) -> None:
    """The follow-up call within 3 days of delivery (交车后3天回访), once per order."""
    from dealercrm.sales.selectors.policy import sales_policy_for
    from dealercrm.worklist.services import task_create

    source_id = f"{order.pk}:{FOLLOWUP_TASK_SUFFIX}"
    if Task.objects.filter(
        dealer_id=order.dealer_id, source_kind=TASK_SOURCE_KIND, source_id=source_id
    ).exists():
        return
    policy = sales_policy_for(order.dealer_id)
    day = delivered_on + datetime.timedelta(days=FOLLOWUP_DAYS)
    due = _local_datetime(day, policy.opens_at, order.dealer.time_zone)
    task_create(
        dealer_id=order.dealer_id,
        customer_id=order.customer_id,
        kind=TaskKind.FOLLOW_UP,
        title=_("Follow-up call %(days)s days after delivery (order %(number)s)")
        % {"days": FOLLOWUP_DAYS, "number": order.number},
        body=_(
            "The %(model)s was delivered on %(date)s. Ask how the car is, whether everything "
            "was explained at the handover, and remind them of the first maintenance."
        )
        % {"model": order.car_model, "date": delivered_on.isoformat()},
        assignee_id=order.lead.consultant_id,
        due_at=max(due, now),
        source_kind=TASK_SOURCE_KIND,
        source_id=source_id,
    )


@transaction.atomic
def order_cancel(
    *, actor: User | None, order: Order, reason: str, request: HttpRequest | None = None
) -> Order:
    """Cancel an order that is not delivered (its car is free for another order again)."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    _check_open(order)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"cancelled_reason": _("Say why the order is cancelled.")})
    order.stage = OrderStage.CANCELLED
    order.cancelled_reason = reason[:200]
    order.updated_at = timezone.now()
    order.save(update_fields=["stage", "cancelled_reason", "updated_at"])
    _close_delay_task(actor, order, _("The order was cancelled."))
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=order,
        changes={"stage": [None, OrderStage.CANCELLED], "reason": order.cancelled_reason},
        request=request,
    )
    return order
