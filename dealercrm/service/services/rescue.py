"""Roadside rescue (道路救援): take the call, dispatch, arrive, finish with an outcome.

Every step is timestamped and comes in order — call → dispatched → arrived → done; a step out
of order is refused with a message saying which step comes first. A customer may cancel at any
step before done. Finishing creates the follow-up call for the next day (once: the rescue keeps
its task), and, when the car was towed to the workshop, may open its repair order.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import require_scope
from dealercrm.customers.models import Customer
from dealercrm.customers.validators import normalise_phone
from dealercrm.vehicles.models import Vehicle

from ..models import RepairKind, RescueCall, RescueOutcome, RescueProblem, RescueStatus

TASK_SOURCE_KIND = "service.rescue"
OPEN_STATUSES = (RescueStatus.CALLED, RescueStatus.DISPATCHED, RescueStatus.ARRIVED)


def _check_dealer(dealer_id: int) -> None:
    if not require_scope().allows(dealer_id):
        raise PermissionDenied(_("You may not act for this dealer."))


@transaction.atomic
def rescue_create(
    *,
    actor: User | None,
    dealer_id: int,
    caller_phone: str,
    location: str,
    problem: str,
    caller_name: str = "",
    description: str = "",
    customer: Customer | None = None,
    vehicle: Vehicle | None = None,
    called_at: datetime.datetime | None = None,
) -> RescueCall:
    """Log a rescue call. The customer and car are optional (a caller the dealer does not know);
    when a car is given without its owner, the owner is taken."""
    _check_dealer(dealer_id)
    errors: dict[str, list[str]] = {}
    phone = ""
    try:
        phone = normalise_phone(caller_phone)
    except ValidationError as exc:
        errors["caller_phone"] = list(exc.messages)
    if not (location or "").strip():
        errors["location"] = [_("Say where the car is.")]
    if problem not in RescueProblem.values:
        errors["problem"] = [_("Choose what the problem is.")]
    if customer is not None and customer.dealer_id != dealer_id:
        errors["customer"] = [_("Choose a customer of this dealer.")]
    if vehicle is not None:
        if vehicle.dealer_id != dealer_id:
            errors["vehicle"] = [_("Choose a car of this dealer.")]
        elif customer is not None and vehicle.owner_id not in (None, customer.pk):
            errors["vehicle"] = [_("This car belongs to another customer.")]
    now = timezone.now()
    if called_at is not None and called_at > now:
        errors["called_at"] = [_("The call cannot be in the future.")]
    if errors:
        raise ValidationError(errors)
    if customer is None and vehicle is not None and vehicle.owner_id:
        customer = vehicle.owner
    return RescueCall.objects.create(
        dealer_id=dealer_id,
        customer=customer,
        vehicle=vehicle,
        caller_name=(caller_name or (customer.name if customer else "")).strip()[:50],
        caller_phone=phone,
        location=location.strip()[:300],
        problem=problem,
        description=(description or "").strip(),
        called_at=called_at or now,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )


def _locked(rescue: RescueCall) -> RescueCall:
    return RescueCall.objects.select_for_update().get(pk=rescue.pk, dealer_id=rescue.dealer_id)


def _step_time(
    at: datetime.datetime | None, previous: datetime.datetime | None
) -> datetime.datetime:
    now = timezone.now()
    at = at or now
    if at > now:
        raise ValidationError({"at": _("A step cannot be recorded in the future.")})
    if previous is not None and at < previous:
        raise ValidationError(
            {
                "at": _("A step cannot come before the one it follows (%(time)s).")
                % {"time": timezone.localtime(previous).strftime("%Y-%m-%d %H:%M")}
            }
        )
    return at


def _refuse_out_of_order(rescue: RescueCall, expected: str) -> None:
    if rescue.status == expected:
        return
    if rescue.status in (RescueStatus.DONE, RescueStatus.CANCELLED):
        raise ValidationError({"status": _("This rescue is finished.")})
    first: dict[str, str] = {
        RescueStatus.CALLED: _("Dispatch someone first."),
        RescueStatus.DISPATCHED: _("Record the arrival on site first."),
    }
    if expected == RescueStatus.CALLED:
        raise ValidationError({"status": _("Someone has been dispatched already.")})
    if expected == RescueStatus.DISPATCHED and rescue.status == RescueStatus.ARRIVED:
        raise ValidationError({"status": _("The arrival has been recorded already.")})
    raise ValidationError({"status": first.get(rescue.status, _("This step is out of order."))})


@transaction.atomic
def rescue_dispatch(
    *,
    actor: User | None,
    rescue: RescueCall,
    responder: User | None = None,
    partner: str = "",
    at: datetime.datetime | None = None,
) -> RescueCall:
    """Send a technician of the dealer, or a partner's truck (its name)."""
    rescue = _locked(rescue)
    _refuse_out_of_order(rescue, RescueStatus.CALLED)
    partner = (partner or "").strip()
    if responder is None and not partner:
        raise ValidationError(
            {"responder": _("Choose the technician who goes, or name the partner.")}
        )
    if responder is not None and responder.dealer_id != rescue.dealer_id:
        raise ValidationError({"responder": _("Choose someone of this dealer.")})
    rescue.dispatched_at = _step_time(at, rescue.called_at)
    rescue.responder = responder
    rescue.dispatched_to = partner[:100] if partner else str(responder)[:100]
    rescue.status = RescueStatus.DISPATCHED
    rescue.save(update_fields=["dispatched_at", "responder", "dispatched_to", "status"])
    return rescue


@transaction.atomic
def rescue_arrive(
    *, actor: User | None, rescue: RescueCall, at: datetime.datetime | None = None
) -> RescueCall:
    rescue = _locked(rescue)
    _refuse_out_of_order(rescue, RescueStatus.DISPATCHED)
    rescue.arrived_at = _step_time(at, rescue.dispatched_at)
    rescue.status = RescueStatus.ARRIVED
    rescue.save(update_fields=["arrived_at", "status"])
    return rescue


def _follow_up_assignee(rescue: RescueCall) -> int | None:
    """The dealer's care specialist with the fewest open tasks, else whoever took the call."""
    from django.db.models import Count

    from dealercrm.worklist.models import Task, TaskStatus

    specialists = list(
        User.objects.filter(dealer_id=rescue.dealer_id, role=Role.CARE_SPECIALIST, is_active=True)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if not specialists:
        return rescue.created_by_id
    loads = dict(
        Task.objects.filter(
            dealer_id=rescue.dealer_id, status=TaskStatus.OPEN, assignee_id__in=specialists
        )
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    )
    return min(specialists, key=lambda user_id: (loads.get(user_id, 0), user_id))


def _create_follow_up(rescue: RescueCall, done_at: datetime.datetime) -> None:
    from dealercrm.bookings.services import dealer_time_zone
    from dealercrm.worklist.models import TaskKind
    from dealercrm.worklist.services import task_create

    if rescue.customer_id is None or rescue.follow_up_task_id is not None:
        return
    tz = dealer_time_zone(rescue.dealer_id)
    next_day = done_at.astimezone(tz).date() + datetime.timedelta(days=1)
    due = datetime.datetime.combine(next_day, datetime.time(10, 0), tzinfo=tz)
    with translation.override("zh-hans"):
        title = _("Call after the roadside rescue (%(problem)s)") % {
            "problem": RescueProblem(rescue.problem).label
        }
        body = _(
            "Ask how the customer and the car are after the rescue on %(date)s at %(location)s "
            "(%(outcome)s), and whether anything else is needed."
        ) % {
            "date": done_at.astimezone(tz).strftime("%Y-%m-%d"),
            "location": rescue.location,
            "outcome": RescueOutcome(rescue.outcome).label,
        }
    task = task_create(
        dealer_id=rescue.dealer_id,
        customer_id=rescue.customer_id,
        kind=TaskKind.CALL,
        title=str(title),
        body=str(body),
        assignee_id=_follow_up_assignee(rescue),
        due_at=due,
        source_kind=TASK_SOURCE_KIND,
        source_id=str(rescue.pk),
    )
    rescue.follow_up_task = task


def _open_repair_order(actor: User | None, rescue: RescueCall, at: datetime.datetime) -> None:
    from . import repair_orders

    vehicle = rescue.vehicle
    if vehicle is None:
        raise ValidationError(
            {"open_repair_order": _("Link the rescue to a car first: a repair order needs one.")}
        )
    kind = RepairKind.ACCIDENT if rescue.problem == RescueProblem.ACCIDENT else RepairKind.REPAIR
    with translation.override("zh-hans"):
        concern = _("Towed in by roadside rescue: %(problem)s. %(details)s") % {
            "problem": RescueProblem(rescue.problem).label,
            "details": rescue.description,
        }
    order = repair_orders.repair_order_open(
        actor=actor,
        dealer_id=rescue.dealer_id,
        vin=vehicle.vin,
        kind=kind,
        customer_concern=str(concern).strip(),
    )
    rescue.repair_order = order


@transaction.atomic
def rescue_finish(
    *,
    actor: User | None,
    rescue: RescueCall,
    outcome: str,
    note: str = "",
    open_repair_order: bool = False,
    at: datetime.datetime | None = None,
) -> RescueCall:
    """Done with an outcome (after the arrival), or cancelled (at any step before done). Creates
    the follow-up call for the next day, and on request the repair order of a car towed to the
    workshop."""
    rescue = _locked(rescue)
    previous: datetime.datetime | None
    if outcome not in RescueOutcome.values:
        raise ValidationError({"outcome": _("Choose how the rescue ended.")})
    if outcome == RescueOutcome.CANCELLED:
        if rescue.status not in OPEN_STATUSES:
            raise ValidationError({"status": _("This rescue is finished.")})
        previous = rescue.arrived_at or rescue.dispatched_at or rescue.called_at
        status = RescueStatus.CANCELLED
    else:
        _refuse_out_of_order(rescue, RescueStatus.ARRIVED)
        previous = rescue.arrived_at
        status = RescueStatus.DONE
    if open_repair_order and outcome != RescueOutcome.TOWED_TO_DEALER:
        raise ValidationError(
            {"open_repair_order": _("Only a car towed to our workshop gets a repair order here.")}
        )
    rescue.done_at = _step_time(at, previous)
    rescue.status = status
    rescue.outcome = outcome
    rescue.outcome_note = (note or "").strip()
    if open_repair_order:
        _open_repair_order(actor, rescue, rescue.done_at)
    if status == RescueStatus.DONE:
        _create_follow_up(rescue, rescue.done_at)
    rescue.save(
        update_fields=[
            "done_at",
            "status",
            "outcome",
            "outcome_note",
            "repair_order",
            "follow_up_task",
        ]
    )
    return rescue
