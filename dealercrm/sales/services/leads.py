"""Leads: intake (with the duplicate check), edits, and the moves through the stages.

CONTRACT (other topics call these; keep the signatures):

- `lead_matches(*, dealer_id, name, phone="", wechat_id="") -> LeadMatches`
  existing customers and open leads of the dealer that look like the same person: same phone;
  or the same name with a similar phone (same last 8 digits / one digit off) or the same WeChat id.
- `lead_create(*, actor, dealer_id, channel, customer=None, name="", phone="", wechat_id="",
   gender="", consultant_id=None, assign=True, referrer_id=None, campaign="",
   idempotency_key="", created_at=None, **interest) -> Lead`
  `customer` attaches the lead to that existing customer; otherwise a prospect customer is made
  from name/phone/wechat_id (customers.services.customer_create). `consultant_id` assigns
  manually; None with assign=True applies the dealer's assignment rule
  (services.assignment.lead_assign_auto). Sets first_response_due_at from the policy. Same
  non-empty idempotency_key at the dealer → the existing lead, nothing new.
  `**interest`: car_model_id, other_model_ids, budget_min, budget_max, purchase_timeframe,
  trade_in_description, trade_in_year, trade_in_mileage_km, spin_situation, spin_problem,
  spin_implication, spin_need_payoff, scenario_tags, notes.
- `lead_update(*, actor, lead, **fields) -> Lead`   (interest, SPIN, tags, notes, campaign)
- `lead_stage_advance(*, actor, lead, stage, at=None) -> Lead`
  moves forward only (a later call with an earlier stage does nothing), stamps every stage
  reached on the way (contacted → first_contacted_at too), writes a LeadEvent; refuses a closed
  lead. Other topics call it: test drive done → "test_drive"; quote → "negotiation";
  order → "order"; delivery → "delivered".
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.tenancy import require_scope
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.models import Customer, CustomerPhone, LifecycleStage, SourceChannel
from dealercrm.customers.services import customer_create
from dealercrm.customers.validators import normalise_phone
from dealercrm.vehicles.models import CarModel

from ..models import (
    Lead,
    LeadChannel,
    LeadEvent,
    LeadStage,
    PurchaseTimeframe,
    ScenarioTag,
)
from ..models.leads import STAGE_ORDER
from ..selectors.policy import sales_policy_for

# The lead's channel as the customer record's source channel.
CUSTOMER_SOURCE: dict[str, str] = {
    LeadChannel.WALK_IN: SourceChannel.WALK_IN,
    LeadChannel.PHONE: SourceChannel.PHONE,
    LeadChannel.WEBSITE: SourceChannel.WEBSITE,
    LeadChannel.AUTO_SHOW: SourceChannel.AUTO_SHOW,
    LeadChannel.REFERRAL: SourceChannel.REFERRAL,
    LeadChannel.DOUYIN: SourceChannel.SOCIAL_MEDIA,
    LeadChannel.WECHAT: SourceChannel.SOCIAL_MEDIA,
    LeadChannel.OEM_DISPATCH: SourceChannel.OEM_DISPATCH,
    LeadChannel.IMPORT: SourceChannel.IMPORT,
}

INTEREST_FIELDS = (
    "car_model_id",
    "other_model_ids",
    "budget_min",
    "budget_max",
    "purchase_timeframe",
    "trade_in_description",
    "trade_in_year",
    "trade_in_mileage_km",
    "spin_situation",
    "spin_problem",
    "spin_implication",
    "spin_need_payoff",
    "scenario_tags",
    "notes",
)
UPDATE_FIELDS = (*INTEREST_FIELDS, "campaign", "referrer_id")
_TEXT_LIMITS = {"trade_in_description": 200, "campaign": 100}
_LONG_TEXT = ("spin_situation", "spin_problem", "spin_implication", "spin_need_payoff", "notes")
MATCH_LIMIT = 10

# The timestamp each stage stamps when first reached.
STAGE_STAMPS: dict[str, str] = {
    LeadStage.CONTACTED: "first_contacted_at",
    LeadStage.TEST_DRIVE: "test_drive_at",
    LeadStage.NEGOTIATION: "negotiation_at",
    LeadStage.ORDER: "ordered_at",
    LeadStage.DELIVERED: "delivered_at",
}


# --- duplicates at intake -----------------------------------------------------------------------


@dataclass
class CustomerMatch:
    """An existing customer who may be the person being entered, and why."""

    customer: Customer
    reasons: list[str]
    masked_phones: list[str]
    open_leads: list[Lead] = field(default_factory=list)
    # Machine-readable reasons: "phone", "similar_phone", "name_wechat", "wechat".
    codes: list[str] = field(default_factory=list)

    @property
    def same_phone(self) -> bool:
        return "phone" in self.codes


@dataclass
class LeadMatches:
    customers: list[CustomerMatch] = field(default_factory=list)

    @property
    def open_leads(self) -> list[Lead]:
        return [lead for match in self.customers for lead in match.open_leads]

    def __bool__(self) -> bool:
        return bool(self.customers)


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


def phones_similar(a: str, b: str) -> bool:
    """Same last 8 digits, or the same length with exactly one digit different (a typo)."""
    da, db = _digits(a), _digits(b)
    if not da or not db:
        return False
    if len(da) >= 8 and len(db) >= 8 and da[-8:] == db[-8:]:
        return True
    if len(da) == len(db):
        return sum(1 for x, y in zip(da, db, strict=True) if x != y) == 1
    return False


def _phone_or_blank(phone: str) -> str:
    try:
        return normalise_phone(phone) if (phone or "").strip() else ""
    except ValidationError:
        return ""


def lead_matches(*, dealer_id: int, name: str, phone: str = "", wechat_id: str = "") -> LeadMatches:
    """Customers (and their open leads) of the dealer that look like the person being entered.

    Same phone; or the same name with a similar phone (same last 8 digits, one digit off) or
    the same WeChat id. Four queries at most.
    """
    name = (name or "").strip()
    number = _phone_or_blank(phone)
    wechat_id = (wechat_id or "").strip()
    reasons: dict[int, list[str]] = {}
    codes: dict[int, list[str]] = {}

    def add(customer_id: int, reason: str, code: str) -> None:
        found = reasons.setdefault(customer_id, [])
        if reason not in found:
            found.append(reason)
            codes.setdefault(customer_id, []).append(code)

    if number:
        for customer_id in CustomerPhone.objects.filter(
            dealer_id=dealer_id, number=number, customer__is_deleted=False
        ).values_list("customer_id", flat=True)[:MATCH_LIMIT]:
            add(customer_id, _("same phone"), "phone")
    if name and (number or wechat_id):
        same_name = Customer.objects.filter(dealer_id=dealer_id, name=name, is_deleted=False)
        rows = CustomerPhone.objects.filter(
            dealer_id=dealer_id, customer__in=same_name.values("id")
        ).values_list("customer_id", "number")[:500]
        for customer_id, other in rows:
            if number and other != number and phones_similar(number, other):
                add(customer_id, _("same name, similar phone"), "similar_phone")
        if wechat_id:
            for customer_id in same_name.filter(wechat_id=wechat_id).values_list("id", flat=True)[
                :MATCH_LIMIT
            ]:
                add(customer_id, _("same name and WeChat ID"), "name_wechat")
    if wechat_id:
        for customer_id in Customer.objects.filter(
            dealer_id=dealer_id, wechat_id=wechat_id, is_deleted=False
        ).values_list("id", flat=True)[:MATCH_LIMIT]:
            add(customer_id, _("same WeChat ID"), "wechat")
    if not reasons:
        return LeadMatches()
    ids = list(reasons)[:MATCH_LIMIT]
    customers = {
        c.pk: c
        for c in Customer.objects.filter(dealer_id=dealer_id, pk__in=ids)
        .select_related("assigned_consultant")
        .prefetch_related("phones")
    }
    leads: dict[int, list[Lead]] = {}
    for lead in (
        Lead.objects.open()
        .filter(dealer_id=dealer_id, customer_id__in=ids)
        .select_related("consultant", "car_model")
        .order_by("-created_at")
    ):
        leads.setdefault(lead.customer_id, []).append(lead)
    return LeadMatches(
        customers=[
            CustomerMatch(
                customer=customers[cid],
                reasons=reasons[cid],
                masked_phones=[mask_phone(p.number) for p in customers[cid].phones.all()],
                open_leads=leads.get(cid, []),
                codes=codes[cid],
            )
            for cid in ids
            if cid in customers
        ]
    )


# --- cleaning -----------------------------------------------------------------------------------


def _clean_interest(values: dict[str, Any], *, dealer_id: int) -> dict[str, Any]:
    """Normalised interest/SPIN/campaign fields, or a ValidationError naming every bad field."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def error(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name, value in values.items():
        if name == "car_model_id":
            if value in (None, ""):
                cleaned[name] = None
            elif not CarModel.objects.filter(pk=_int_or_zero(value)).exists():
                error(name, _("There is no such model in the catalogue."))
            else:
                cleaned[name] = int(value)
        elif name == "other_model_ids":
            ids = sorted({_int_or_zero(v) for v in (value or [])} - {0})
            if ids and CarModel.objects.filter(pk__in=ids).count() != len(ids):
                error(name, _("One of the other models is not in the catalogue."))
            cleaned[name] = ids
        elif name in ("budget_min", "budget_max"):
            if value in (None, ""):
                cleaned[name] = None
                continue
            try:
                amount = Decimal(str(value))
            except (InvalidOperation, ValueError):
                error(name, _("Enter an amount in yuan."))
                continue
            if amount < 0:
                error(name, _("A budget cannot be negative."))
            elif amount >= Decimal("10000000000"):
                error(name, _("This budget is too large."))
            cleaned[name] = amount
        elif name == "purchase_timeframe":
            value = value or PurchaseTimeframe.UNDECIDED
            if value not in PurchaseTimeframe.values:
                error(name, _("“%(value)s” is not one of the choices.") % {"value": value})
            cleaned[name] = value
        elif name == "trade_in_year":
            if value in (None, ""):
                cleaned[name] = None
                continue
            year = _int_or_zero(value)
            if not 1980 <= year <= timezone.localdate().year + 1:
                error(name, _("%(year)s is not a plausible year.") % {"year": value})
            cleaned[name] = year
        elif name == "trade_in_mileage_km":
            if value in (None, ""):
                cleaned[name] = None
                continue
            km = _int_or_zero(value) if str(value).strip().isdigit() else -1
            if not 0 <= km <= 2_000_000:
                error(name, _("Enter the mileage in kilometres (0–2,000,000)."))
            cleaned[name] = km
        elif name == "scenario_tags":
            tags: list[str] = []
            for tag in value or []:
                if tag not in ScenarioTag.values:
                    error(name, _("“%(value)s” is not one of the scenarios.") % {"value": tag})
                elif tag not in tags:
                    tags.append(tag)
            cleaned[name] = tags
        elif name in _TEXT_LIMITS:
            text = (value or "").strip()
            if len(text) > _TEXT_LIMITS[name]:
                error(
                    name,
                    _("At most %(max)d characters; this has %(count)d.")
                    % {"max": _TEXT_LIMITS[name], "count": len(text)},
                )
            cleaned[name] = text
        elif name in _LONG_TEXT:
            cleaned[name] = (value or "").strip()
        elif name == "referrer_id":
            if value in (None, ""):
                cleaned[name] = None
            elif not Customer.objects.filter(
                dealer_id=dealer_id, pk=_int_or_zero(value), is_deleted=False
            ).exists():
                error(name, _("Choose the referring customer among this dealer's customers."))
            else:
                cleaned[name] = int(value)
        else:
            raise TypeError(f"Unknown lead field: {name}")
    low, high = cleaned.get("budget_min"), cleaned.get("budget_max")
    if low is not None and high is not None and low > high and "budget_max" not in errors:
        error("budget_max", _("The upper budget is below the lower one."))
    if errors:
        raise ValidationError(errors)
    return cleaned


def _int_or_zero(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def lead_working_staff(dealer_id: int) -> Any:
    """Staff a lead of the dealer may be given to: its active consultants and managers."""
    from dealercrm.core.permissions import Role

    return User.objects.filter(
        dealer_id=dealer_id,
        is_active=True,
        role__in=[Role.SALES_CONSULTANT, Role.DEALER_MANAGER],
    )


def _event(lead: Lead, kind: str, *, actor: User | None, at: datetime.datetime, **kw: Any) -> None:
    LeadEvent.objects.create(
        dealer_id=lead.dealer_id,
        lead=lead,
        kind=kind,
        actor=actor if actor is not None and actor.is_authenticated else None,
        at=at,
        **kw,
    )


def _existing_by_key(dealer_id: int, key: str) -> Lead | None:
    return (
        Lead.objects.filter(dealer_id=dealer_id, idempotency_key=key)
        .select_related("customer", "consultant")
        .first()
    )


# --- services -----------------------------------------------------------------------------------


def lead_create(
    *,
    actor: User | None,
    dealer_id: int,
    channel: str,
    customer: Customer | None = None,
    name: str = "",
    phone: str = "",
    wechat_id: str = "",
    gender: str = "",
    consultant_id: int | None = None,
    assign: bool = True,
    referrer_id: int | None = None,
    campaign: str = "",
    idempotency_key: str = "",
    created_at: datetime.datetime | None = None,
    **interest: Any,
) -> Lead:
    """A new lead (and a prospect customer unless `customer` is given); see the CONTRACT above.

    A retried call with the same `idempotency_key` answers the first lead, even when the two
    race: the loser's insert hits the unique constraint and it returns the winner's row.
    """
    idempotency_key = (idempotency_key or "").strip()
    if idempotency_key:
        existing = _existing_by_key(dealer_id, idempotency_key)
        if existing is not None:
            existing.was_created = False  # type: ignore[attr-defined]
            return existing
    try:
        lead = _lead_create(
            actor=actor,
            dealer_id=dealer_id,
            channel=channel,
            customer=customer,
            name=name,
            phone=phone,
            wechat_id=wechat_id,
            gender=gender,
            consultant_id=consultant_id,
            assign=assign,
            referrer_id=referrer_id,
            campaign=campaign,
            idempotency_key=idempotency_key,
            created_at=created_at,
            interest=interest,
        )
    except IntegrityError:
        if not idempotency_key:
            raise
        existing = _existing_by_key(dealer_id, idempotency_key)
        if existing is None:
            raise
        existing.was_created = False  # type: ignore[attr-defined]
        return existing
    lead.was_created = True  # type: ignore[attr-defined]
    return lead


@transaction.atomic
def _lead_create(
    *,
    actor: User | None,
    dealer_id: int,
    channel: str,
    customer: Customer | None,
    name: str,
    phone: str,
    wechat_id: str,
    gender: str,
    consultant_id: int | None,
    assign: bool,
    referrer_id: int | None,
    campaign: str,
    idempotency_key: str,
    created_at: datetime.datetime | None,
    interest: dict[str, Any],
) -> Lead:
    if not require_scope().allows(dealer_id):
        raise PermissionDenied(_("You may not add leads to this dealer."))
    unknown = set(interest) - set(INTEREST_FIELDS)
    if unknown:
        raise TypeError(f"Unknown lead fields: {', '.join(sorted(unknown))}")
    errors: dict[str, list[str]] = {}
    if channel not in LeadChannel.values:
        errors["channel"] = [_("“%(value)s” is not one of the channels.") % {"value": channel}]
    if len(idempotency_key) > 64:
        errors["idempotency_key"] = [_("An idempotency key has at most 64 characters.")]
    try:
        cleaned = _clean_interest(
            {**interest, "campaign": campaign, "referrer_id": referrer_id}, dealer_id=dealer_id
        )
    except ValidationError as exc:
        cleaned = {}
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if channel == LeadChannel.REFERRAL and not referrer_id and "referrer_id" not in errors:
        errors["referrer_id"] = [_("A referral needs the customer who referred them.")]
    if customer is not None and customer.dealer_id != dealer_id:
        errors["customer"] = [_("This customer is not a customer of this dealer.")]
    if customer is None and not (name or "").strip():
        errors["name"] = [_("Enter the prospect's name.")]
    if customer is None and (phone or "").strip():
        try:
            normalise_phone(phone)
        except ValidationError as exc:
            errors["phone"] = exc.messages
    consultant = None
    if consultant_id:
        consultant = lead_working_staff(dealer_id).filter(pk=_int_or_zero(consultant_id)).first()
        if consultant is None:
            errors["consultant_id"] = [_("Choose an active consultant of this dealer.")]
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    created_at = created_at or now
    if customer is None:
        profile: dict[str, Any] = {
            "source_channel": CUSTOMER_SOURCE.get(channel, SourceChannel.OTHER),
            "lifecycle_stage": LifecycleStage.PROSPECT,
        }
        if wechat_id:
            profile["wechat_id"] = wechat_id
        if gender:
            profile["gender"] = gender
        if consultant is not None:
            profile["assigned_consultant_id"] = consultant.pk
        try:
            customer = customer_create(
                actor=actor,
                dealer_id=dealer_id,
                name=name,
                phones=[phone] if (phone or "").strip() else [],
                **profile,
            ).customer
        except ValidationError as exc:
            renamed = {"phones": "phone"}
            raise ValidationError(
                {renamed.get(k, k): v for k, v in exc.message_dict.items()}
            ) from exc
    elif consultant is not None:
        _customer_follows(customer, previous_id=None, new_id=consultant.pk, now=now)

    policy = sales_policy_for(dealer_id)
    from .assignment import first_response_deadline

    lead = Lead(
        dealer_id=dealer_id,
        customer=customer,
        channel=channel,
        idempotency_key=idempotency_key,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        created_at=created_at,
        updated_at=now,
        first_response_due_at=first_response_deadline(policy=policy, start=created_at),
        consultant=consultant,
        assigned_at=created_at if consultant is not None else None,
        **cleaned,
    )
    # A savepoint: a racing duplicate key fails only this insert, and lead_create answers
    # the winner's lead.
    with transaction.atomic():
        lead.save(force_insert=True)
    _event(lead, LeadEvent.Kind.CREATED, actor=actor, at=created_at, to_value=channel)
    if consultant is not None:
        _event(lead, LeadEvent.Kind.ASSIGNED, actor=actor, at=created_at, to_value=str(consultant))
    elif assign:
        from .assignment import lead_assign_auto

        lead = lead_assign_auto(lead=lead, actor=actor)
    return lead


def _customer_follows(
    customer: Customer, *, previous_id: int | None, new_id: int | None, now: datetime.datetime
) -> None:
    """The customer's consultant follows the lead's when it had none or had the previous one."""
    from django.db.models import F, Q

    if new_id is None or customer.assigned_consultant_id == new_id:
        return
    condition = Q(assigned_consultant__isnull=True)
    if previous_id is not None:
        condition |= Q(assigned_consultant_id=previous_id)
    updated = Customer.objects.filter(
        condition, dealer_id=customer.dealer_id, pk=customer.pk
    ).update(assigned_consultant_id=new_id, version=F("version") + 1, updated_at=now)
    if updated:
        customer.assigned_consultant_id = new_id


@transaction.atomic
def lead_update(*, actor: User | None, lead: Lead, **fields: Any) -> Lead:
    """Change the interest, SPIN notes, scenarios, notes, campaign or referrer of a lead."""
    unknown = set(fields) - set(UPDATE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown lead fields: {', '.join(sorted(unknown))}")
    cleaned = _clean_interest(fields, dealer_id=lead.dealer_id)
    if (
        lead.channel == LeadChannel.REFERRAL
        and "referrer_id" in cleaned
        and cleaned["referrer_id"] is None
    ):
        raise ValidationError(
            {"referrer_id": [_("A referral needs the customer who referred them.")]}
        )
    changed = [name for name, value in cleaned.items() if getattr(lead, name) != value]
    if not changed:
        return lead
    for name in changed:
        setattr(lead, name, cleaned[name])
    lead.updated_at = timezone.now()
    lead.save(update_fields=[*changed, "updated_at"])
    return lead


def _stage_index(stage: str) -> int:
    return [s.value for s in STAGE_ORDER].index(stage)


@transaction.atomic
def lead_stage_advance(
    *, actor: User | None, lead: Lead, stage: str, at: datetime.datetime | None = None
) -> Lead:
    """Move the lead forward to `stage`, stamping every stage reached on the way.

    An earlier (or the same) stage does nothing; a lost lead is refused. Reaching "order" or
    "delivered" withdraws a pending loss request (the customer bought after all).
    """
    if stage not in [s.value for s in STAGE_ORDER]:
        raise ValidationError({"stage": _("“%(value)s” is not a stage.") % {"value": stage}})
    current = (
        Lead.objects.select_for_update()
        .filter(dealer_id=lead.dealer_id, pk=lead.pk)
        .values("stage", *STAGE_STAMPS.values(), "loss_requested_at")
        .get()
    )
    if current["stage"] == LeadStage.LOST:
        raise ValidationError({"stage": _("This lead is lost; it cannot move on.")})
    if _stage_index(stage) <= _stage_index(current["stage"]):
        return lead
    now = timezone.now()
    at = at or now
    changes: dict[str, Any] = {"stage": stage, "updated_at": now}
    for step in STAGE_ORDER[_stage_index(current["stage"]) + 1 : _stage_index(stage) + 1]:
        stamp = STAGE_STAMPS.get(step)
        if stamp and current[stamp] is None:
            changes[stamp] = at
    if current["loss_requested_at"] and stage in (LeadStage.ORDER, LeadStage.DELIVERED):
        changes.update(
            loss_requested_at=None, loss_requested_by=None, loss_reason="", loss_competitor=""
        )
    for name, value in changes.items():
        setattr(lead, name, value)
    lead.save(update_fields=list(changes))
    _event(
        lead,
        LeadEvent.Kind.STAGE,
        actor=actor,
        at=at,
        from_value=current["stage"],
        to_value=stage,
    )
    return lead
