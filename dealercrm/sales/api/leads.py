"""API: leads — list, get, create, change; follow-ups; assignment; stage moves; the loss
request and the manager's decision. Every write goes through the same services as the pages;
phones are masked unless the user's role may see them."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import visible_dealers
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.selectors import get_customer_for_user

from ..models import Activity, Lead
from ..selectors import leads as selectors
from ..services.activities import activity_log
from ..services.assignment import lead_assign
from ..services.leads import lead_create, lead_matches, lead_stage_advance, lead_update
from ..services.loss import lead_loss_approve, lead_loss_request, lead_loss_return

router = Router(tags=["sales"])
MAX_LIMIT = 200


class StaffOut(Schema):
    id: int
    name: str


class LeadOut(Schema):
    id: int
    dealer_id: int
    customer_id: int
    customer_name: str
    phone: str = Field(description="Masked unless the role may see full contacts")
    channel: str
    campaign: str
    stage: str
    consultant: StaffOut | None
    car_model_id: int | None
    budget_min: Decimal | None
    budget_max: Decimal | None
    purchase_timeframe: str
    trade_in_description: str
    spin_situation: str
    spin_problem: str
    spin_implication: str
    spin_need_payoff: str
    scenario_tags: list[str]
    notes: str
    next_action: str
    next_action_due: datetime.date | None
    first_response_due_at: datetime.datetime | None
    first_contacted_at: datetime.datetime | None
    response_flagged_at: datetime.datetime | None
    loss_pending: bool
    loss_reason: str
    loss_competitor: str
    created_at: datetime.datetime
    updated_at: datetime.datetime


class LeadPage(Schema):
    count: int
    results: list[LeadOut]


class LeadListQuery(Schema):
    stage: str = Field(default="", description='A stage, or "open"')
    channel: str = ""
    consultant: str = Field(default="", description='A user id, or "none"')
    overdue: bool = False
    q: str = Field(default="", description="Part of the customer's name")
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    offset: int = Field(default=0, ge=0)


class InterestIn(Schema):
    car_model_id: int | None = None
    other_model_ids: list[int] = []
    budget_min: Decimal | None = None
    budget_max: Decimal | None = None
    purchase_timeframe: str = "undecided"
    trade_in_description: str = ""
    trade_in_year: int | None = None
    trade_in_mileage_km: int | None = None
    spin_situation: str = ""
    spin_problem: str = ""
    spin_implication: str = ""
    spin_need_payoff: str = ""
    scenario_tags: list[str] = []
    notes: str = ""


class LeadIn(InterestIn):
    channel: str
    customer_id: int | None = Field(default=None, description="Attach to this customer")
    name: str = Field(default="", description="A new prospect's name (without customer_id)")
    phone: str = ""
    wechat_id: str = ""
    consultant_id: int | None = Field(
        default=None, description="Assign to; empty: the dealer's rule"
    )
    referrer_id: int | None = None
    campaign: str = ""
    dealer_id: int | None = Field(
        default=None, description="Only for users without a dealer of their own"
    )


class LeadPatch(Schema):
    car_model_id: int | None = None
    other_model_ids: list[int] | None = None
    budget_min: Decimal | None = None
    budget_max: Decimal | None = None
    purchase_timeframe: str | None = None
    trade_in_description: str | None = None
    trade_in_year: int | None = None
    trade_in_mileage_km: int | None = None
    spin_situation: str | None = None
    spin_problem: str | None = None
    spin_implication: str | None = None
    spin_need_payoff: str | None = None
    scenario_tags: list[str] | None = None
    notes: str | None = None
    campaign: str | None = None
    referrer_id: int | None = None


class ActivityIn(Schema):
    kind: str = Field(description="call, visit, wechat, sms")
    result: str
    note: str = ""
    next_action: str = ""
    next_action_due: datetime.date | None = None
    occurred_at: datetime.datetime | None = None


class ActivityOut(Schema):
    id: int
    lead_id: int
    kind: str
    result: str
    note: str
    next_action: str
    next_action_due: datetime.date | None
    occurred_at: datetime.datetime
    author: StaffOut | None


class AssignIn(Schema):
    consultant_id: int
    note: str = ""


class StageIn(Schema):
    stage: str


class LossRequestIn(Schema):
    reason: str
    competitor: str = ""
    note: str = ""


class LossDecisionIn(Schema):
    decision: str = Field(description='"approve" or "return"')
    note: str = ""
    reassign_to: int | None = None


class MatchQuery(Schema):
    name: str = ""
    phone: str = ""
    wechat_id: str = ""
    dealer_id: int | None = Field(
        default=None, description="Only for users without a dealer of their own"
    )


class MatchOut(Schema):
    customer_id: int
    name: str
    phones: list[str] = Field(description="Masked")
    reasons: list[str] = Field(description="phone, similar_phone, name_wechat, wechat")
    open_lead_ids: list[int] = Field(
        description="Open leads of this customer you may open (others are not listed)"
    )


def _staff(user: Any) -> dict[str, Any] | None:
    return {"id": user.pk, "name": str(user)} if user is not None else None


def _phone(lead: Lead, user: User) -> str:
    numbers = [p.number for p in lead.customer.phones.all()]
    primary = next((p.number for p in lead.customer.phones.all() if p.is_primary), None)
    number = primary or (numbers[0] if numbers else "")
    if not number:
        return ""
    # Masked in every answer, like the customers API (POST /customers/{id}/reveal is audit-logged).
    return mask_phone(number)


def lead_out(lead: Lead, user: User) -> dict[str, Any]:
    return {
        **{
            name: getattr(lead, name)
            for name in (
                "id",
                "dealer_id",
                "customer_id",
                "channel",
                "campaign",
                "stage",
                "car_model_id",
                "budget_min",
                "budget_max",
                "purchase_timeframe",
                "trade_in_description",
                "spin_situation",
                "spin_problem",
                "spin_implication",
                "spin_need_payoff",
                "scenario_tags",
                "notes",
                "next_action",
                "next_action_due",
                "first_response_due_at",
                "first_contacted_at",
                "response_flagged_at",
                "loss_pending",
                "loss_reason",
                "loss_competitor",
                "created_at",
                "updated_at",
            )
        },
        "customer_name": lead.customer.name,
        "phone": _phone(lead, user),
        "consultant": _staff(lead.consultant),
    }


def _activity_out(activity: Activity) -> dict[str, Any]:
    return {
        "id": activity.pk,
        "lead_id": activity.lead_id,
        "kind": activity.kind,
        "result": activity.result,
        "note": activity.note,
        "next_action": activity.next_action,
        "next_action_due": activity.next_action_due,
        "occurred_at": activity.occurred_at,
        "author": _staff(activity.author),
    }


def _reloaded(request: HttpRequest, lead_id: int) -> dict[str, Any]:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    return lead_out(lead, request.user)


def _dealer_id_for(request: HttpRequest, asked: int | None) -> int:
    user = request.user
    if user.dealer_id:
        return user.dealer_id
    if asked and visible_dealers(user).filter(pk=asked).exists():
        return asked
    raise ValidationError({"dealer_id": _("Choose the dealer this belongs to.")})


def _colleague(lead: Lead, user_id: int | None, field: str) -> User | None:
    if user_id is None:
        return None
    user = next((u for u in selectors.sales_staff(lead.dealer_id) if u.pk == user_id), None)
    if user is None:
        raise ValidationError({field: _("Choose an active consultant of this dealer.")})
    return user


@router.get("/leads", response=LeadPage, summary="List leads")
@api_permission(Perm.VIEW_LEADS)
def leads_list(request: HttpRequest, params: Query[LeadListQuery]) -> dict[str, Any]:
    values = params.dict()
    limit, offset = values.pop("limit"), values.pop("offset")
    values["overdue"] = "1" if values["overdue"] else ""
    qs = selectors.lead_list_queryset(request.user, selectors.LeadFilters.from_params(values))
    rows = list(qs.prefetch_related("customer__phones")[offset : offset + limit])
    return {"count": qs.count(), "results": [lead_out(lead, request.user) for lead in rows]}


@router.get(
    "/leads/matches",
    response=list[MatchOut],
    summary="Customers and open leads that look like this person (before creating a lead)",
)
@api_permission(Perm.WORK_LEADS)
def lead_matches_get(request: HttpRequest, params: Query[MatchQuery]) -> list[dict[str, Any]]:
    if not (params.name or params.phone or params.wechat_id):
        return []
    dealer_id = _dealer_id_for(request, params.dealer_id)
    matches = lead_matches(
        dealer_id=dealer_id, name=params.name, phone=params.phone, wechat_id=params.wechat_id
    )
    visible = set(
        selectors.visible_leads(request.user)
        .filter(pk__in=[lead.pk for lead in matches.open_leads])
        .values_list("pk", flat=True)
    )
    return [
        {
            "customer_id": match.customer.pk,
            "name": match.customer.name,
            "phones": match.masked_phones,
            "reasons": match.codes,
            "open_lead_ids": [lead.pk for lead in match.open_leads if lead.pk in visible],
        }
        for match in matches.customers
    ]


@router.get("/leads/{lead_id}", response=LeadOut, summary="Get a lead")
@api_permission(Perm.VIEW_LEADS)
def lead_get(request: HttpRequest, lead_id: int) -> dict[str, Any]:
    return _reloaded(request, lead_id)


@router.post("/leads", response={201: LeadOut}, summary="Create a lead")
@api_permission(Perm.WORK_LEADS)
def lead_post(request: HttpRequest, payload: LeadIn) -> Status:
    values = payload.dict()
    dealer_id = _dealer_id_for(request, values.pop("dealer_id"))
    customer_id = values.pop("customer_id")
    customer = None
    if customer_id is not None:
        try:
            customer = get_customer_for_user(request.user, customer_id)
        except Exception as exc:  # Http404 → a field error (the same for missing and others')
            raise ValidationError({"customer_id": _("There is no such customer.")}) from exc
        dealer_id = customer.dealer_id
    if not request.user.has_perm(Perm.MANAGE_LEADS) and values["consultant_id"] is None:
        # A consultant's own lead is theirs, unless they ask the dealer's rule explicitly.
        values["consultant_id"] = request.user.pk if request.user.dealer_id else None
    lead = lead_create(actor=request.user, dealer_id=dealer_id, customer=customer, **values)
    return Status(201, _reloaded(request, lead.pk))


@router.patch("/leads/{lead_id}", response=LeadOut, summary="Change a lead's interest and notes")
@api_permission(Perm.WORK_LEADS)
def lead_patch(request: HttpRequest, lead_id: int, payload: LeadPatch) -> dict[str, Any]:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    lead_update(actor=request.user, lead=lead, **payload.dict(exclude_unset=True))
    return _reloaded(request, lead_id)


@router.get("/leads/{lead_id}/activities", response=list[ActivityOut], summary="Follow-ups")
@api_permission(Perm.VIEW_LEADS)
def lead_activities(request: HttpRequest, lead_id: int) -> list[dict[str, Any]]:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    return [_activity_out(a) for a in selectors.lead_activities(lead)]


@router.post("/leads/{lead_id}/activities", response={201: ActivityOut}, summary="Log a follow-up")
@api_permission(Perm.WORK_LEADS)
def lead_activity_post(request: HttpRequest, lead_id: int, payload: ActivityIn) -> Status:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    activity = activity_log(actor=request.user, lead=lead, **payload.dict())
    return Status(201, _activity_out(activity))


@router.post("/leads/{lead_id}/assign", response=LeadOut, summary="Assign to a consultant")
@api_permission(Perm.MANAGE_LEADS)
def lead_assign_post(request: HttpRequest, lead_id: int, payload: AssignIn) -> dict[str, Any]:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    consultant = _colleague(lead, payload.consultant_id, "consultant_id")
    lead_assign(actor=request.user, lead=lead, consultant=consultant, note=payload.note)
    return _reloaded(request, lead_id)


@router.post("/leads/{lead_id}/stage", response=LeadOut, summary="Move forward to a stage")
@api_permission(Perm.WORK_LEADS)
def lead_stage_post(request: HttpRequest, lead_id: int, payload: StageIn) -> dict[str, Any]:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    lead_stage_advance(actor=request.user, lead=lead, stage=payload.stage)
    return _reloaded(request, lead_id)


@router.post(
    "/leads/{lead_id}/loss-request", response=LeadOut, summary="Ask to declare the lead lost"
)
@api_permission(Perm.WORK_LEADS)
def lead_loss_request_post(
    request: HttpRequest, lead_id: int, payload: LossRequestIn
) -> dict[str, Any]:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    lead_loss_request(actor=request.user, lead=lead, **payload.dict())
    return _reloaded(request, lead_id)


@router.post(
    "/leads/{lead_id}/loss-decision",
    response=LeadOut,
    summary="Approve a loss, or send the lead back",
)
@api_permission(Perm.MANAGE_LEADS)
def lead_loss_decision_post(
    request: HttpRequest, lead_id: int, payload: LossDecisionIn
) -> dict[str, Any]:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    if payload.decision == "approve":
        lead_loss_approve(actor=request.user, lead=lead)
    elif payload.decision == "return":
        reassign = _colleague(lead, payload.reassign_to, "reassign_to")
        lead_loss_return(actor=request.user, lead=lead, note=payload.note, reassign_to=reassign)
    else:
        raise ValidationError({"decision": _('Say "approve" or "return".')})
    return _reloaded(request, lead_id)
