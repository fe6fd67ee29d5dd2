"""The customers API (mounted at /api/customers/): the same selectors and services as the pages.

Phones and ID numbers are masked in every response; POST …/reveal returns them in full to a
user with the permission, and logs it. An update carries the version it read: a stale one
answers 409 and writes nothing. Bad input answers 422 naming the field.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm

from . import selectors, services
from .models import Customer, Interaction
from .selectors import Customer360, CustomerFilters
from .timeline import TimelineEntry

router = Router(tags=["customers"])


# --- schemas ------------------------------------------------------------------------------------


class PhoneOut(Schema):
    number: str = Field(description="Masked: 138****1234")
    label: str
    is_primary: bool


class ConsentOut(Schema):
    channel: str
    granted: bool | None = Field(description="None: never asked")
    changed_at: datetime.datetime | None
    source: str


class StaffOut(Schema):
    id: int
    name: str


class CustomerOut(Schema):
    id: int
    dealer_id: int
    kind: str
    name: str
    latin_name: str
    contact_person: str
    gender: str
    birthday: datetime.date | None
    lunar_birthday_month: int | None
    lunar_birthday_day: int | None
    lunar_birthday_leap: bool
    id_number_masked: str
    phones: list[PhoneOut]
    email: str
    wechat_id: str
    province: str
    city: str
    district: str
    street: str
    occupation: str
    education: str
    income_band: str
    marital_status: str
    children_birth_years: list[int]
    interests: list[str]
    lifestyle: list[str]
    source_channel: str
    lifecycle_stage: str
    assigned_consultant: StaffOut | None
    tags: list[str]
    consents: list[ConsentOut]
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class CustomerCreatedOut(CustomerOut):
    same_phone_customer_ids: list[int] = Field(
        description="Other customers of the dealer with one of the same phone numbers"
    )


class CustomerListItem(Schema):
    id: int
    dealer_id: int
    kind: str
    name: str
    latin_name: str
    phone: str = Field(description="The primary phone, masked")
    lifecycle_stage: str
    source_channel: str
    assigned_consultant: StaffOut | None
    tags: list[str]
    version: int
    updated_at: datetime.datetime


class CustomerListOut(Schema):
    count: int
    items: list[CustomerListItem]


class CustomerListQuery(Schema):
    stage: str = ""
    consultant: int | None = None
    tag: str = ""
    source: str = ""
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class ProfileIn(Schema):
    kind: str | None = None
    latin_name: str | None = None
    contact_person: str | None = None
    gender: str | None = None
    birthday: datetime.date | None = None
    lunar_birthday_month: int | None = None
    lunar_birthday_day: int | None = None
    lunar_birthday_leap: bool | None = None
    email: str | None = None
    wechat_id: str | None = None
    province: str | None = None
    city: str | None = None
    district: str | None = None
    street: str | None = None
    occupation: str | None = None
    education: str | None = None
    income_band: str | None = None
    marital_status: str | None = None
    children_birth_years: list[int] | None = None
    interests: list[str] | None = None
    lifestyle: list[str] | None = None
    source_channel: str | None = None
    assigned_consultant_id: int | None = None
    lifecycle_stage: str | None = None
    tags: list[str] | None = None
    consents: dict[str, bool] | None = Field(
        default=None, description="Channel (sms, phone, email, wechat, mail) → granted"
    )
    consent_source: str = ""


class CustomerIn(ProfileIn):
    name: str
    phones: list[str] = Field(default=[], description="Any format; the first is primary")
    id_number: str = ""
    dealer_id: int | None = Field(
        default=None, description="Only for users without a dealer of their own"
    )


class CustomerPatch(ProfileIn):
    version: int = Field(description="The version you read; a stale one answers 409")
    name: str | None = None
    phones: list[str] | None = Field(default=None, description="Replaces all phones")
    id_number: str | None = Field(default=None, description='"" removes it')


class ConflictOut(Schema):
    detail: str
    current_version: int | None
    changed_by: str
    changed_at: datetime.datetime | None


class InteractionIn(Schema):
    kind: str = Field(description="note, call, visit, sms, email, wechat")
    body: str = ""
    subject: str = ""
    direction: str = Interaction.Direction.INTERNAL
    outcome: str = Field(default="", description="For calls: reached, no_answer, busy, …")
    duration_seconds: int | None = None
    occurred_at: datetime.datetime | None = None


class TimelineEntryOut(Schema):
    occurred_at: datetime.datetime
    kind: str
    icon: str
    title: str
    body: str
    actor: str
    url: str
    source: str


class RevealOut(Schema):
    phones: list[str]
    id_number: str
    email: str


class TimelineQuery(Schema):
    limit: int = Field(default=50, ge=1, le=200)
    before: datetime.datetime | None = None


# --- helpers ------------------------------------------------------------------------------------


def _staff(user: Any) -> dict[str, Any] | None:
    return {"id": user.pk, "name": str(user)} if user is not None else None


def _customer_out(data: Customer360) -> dict[str, Any]:
    c = data.customer
    out = {
        name: getattr(c, name)
        for name in CustomerOut.model_fields
        if name not in ("phones", "assigned_consultant", "tags", "consents")
    }
    out["phones"] = [
        {"number": str(phone), "label": phone.label, "is_primary": phone.is_primary}
        for phone in data.phones
    ]
    out["assigned_consultant"] = _staff(c.assigned_consultant)
    out["tags"] = data.tag_names
    out["consents"] = [
        {
            "channel": row.channel,
            "granted": row.granted,
            "changed_at": row.changed_at,
            "source": row.source,
        }
        for row in data.consents
    ]
    return out


def _entry_out(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "occurred_at": entry.occurred_at,
        "kind": entry.kind,
        "icon": entry.icon,
        "title": entry.title,
        "body": entry.body,
        "actor": entry.actor,
        "url": entry.url,
        "source": entry.source,
    }


def _profile_kwargs(payload: ProfileIn, *, only_set: bool) -> dict[str, Any]:
    values = payload.model_dump(exclude_unset=only_set)
    for name in ("dealer_id", "version"):
        values.pop(name, None)
    if not only_set:
        # On create, absent fields take the model's defaults rather than None.
        values = {k: v for k, v in values.items() if v is not None}
    return values


# --- operations ---------------------------------------------------------------------------------


@router.get("/", response=CustomerListOut, summary="List customers")
@api_permission(Perm.VIEW_CUSTOMER)
def customer_list(request: HttpRequest, params: Query[CustomerListQuery]) -> dict[str, Any]:
    filters = CustomerFilters.from_params(
        {
            "stage": params.stage,
            "consultant": params.consultant,
            "tag": params.tag,
            "source": params.source,
        }
    )
    qs = selectors.customer_list_queryset(request.user, filters)
    items = []
    for c in qs[params.offset : params.offset + params.limit]:
        phones = list(c.phones.all())
        items.append(
            {
                "id": c.pk,
                "dealer_id": c.dealer_id,
                "kind": c.kind,
                "name": c.name,
                "latin_name": c.latin_name,
                "phone": str(phones[0]) if phones else "",
                "lifecycle_stage": c.lifecycle_stage,
                "source_channel": c.source_channel,
                "assigned_consultant": _staff(c.assigned_consultant),
                "tags": [tag.name for tag in c.tags.all()],
                "version": c.version,
                "updated_at": c.updated_at,
            }
        )
    return {"count": qs.count(), "items": items}


@router.get("/{customer_id}", response=CustomerOut, summary="Get a customer")
@api_permission(Perm.VIEW_CUSTOMER)
def customer_get(request: HttpRequest, customer_id: int) -> dict[str, Any]:
    return _customer_out(selectors.customer_360(request.user, customer_id, timeline_limit=0))


@router.post("/", response={201: CustomerCreatedOut}, summary="Create a customer")
@api_permission(Perm.ADD_CUSTOMER)
def customer_create(request: HttpRequest, payload: CustomerIn) -> Status:
    user = request.user
    dealer_id = user.dealer_id or payload.dealer_id
    if not dealer_id:
        raise ValidationError({"dealer_id": _("Choose the dealer the customer belongs to.")})
    values = _profile_kwargs(payload, only_set=False)
    if not values.get("assigned_consultant_id") and not user.has_perm(
        Perm.VIEW_ALL_DEALER_CUSTOMERS
    ):
        # A consultant sees only their own customers: what they create is theirs.
        values["assigned_consultant_id"] = user.pk
    result = services.customer_create(actor=user, dealer_id=dealer_id, request=request, **values)
    out = _customer_out(
        selectors.customer_360(user, result.customer.pk, timeline_limit=0)
        if selectors.visible_customers(user).filter(pk=result.customer.pk).exists()
        else _unlisted(result.customer)
    )
    out["same_phone_customer_ids"] = [c.pk for c in result.same_phone_customers]
    return Status(201, out)


def _unlisted(customer: Customer) -> Customer360:
    """A new customer the creator cannot see afterwards (assigned to someone else)."""
    return Customer360(
        customer=customer,
        phones=selectors.customer_phones(customer),
        vehicles=[],
        tags=selectors.customer_tags(customer),
        consents=selectors.customer_consents(customer),
        timeline=[],
        timeline_has_more=False,
    )


@router.patch(
    "/{customer_id}", response={200: CustomerOut, 409: ConflictOut}, summary="Change a customer"
)
@api_permission(Perm.CHANGE_CUSTOMER)
def customer_update(request: HttpRequest, customer_id: int, payload: CustomerPatch) -> Any:
    customer = selectors.get_customer_for_user(request.user, customer_id)
    values = _profile_kwargs(payload, only_set=True)
    try:
        services.customer_update(
            actor=request.user,
            customer=customer,
            version=payload.version,
            request=request,
            **values,
        )
    except services.ConcurrentEdit as exc:
        return Status(
            409,
            {
                "detail": exc.messages[0],
                "current_version": exc.current_version,
                "changed_by": exc.changed_by,
                "changed_at": exc.changed_at,
            },
        )
    if not selectors.visible_customers(request.user).filter(pk=customer.pk).exists():
        return Status(200, _customer_out(_unlisted(customer)))
    return Status(
        200, _customer_out(selectors.customer_360(request.user, customer.pk, timeline_limit=0))
    )


@router.delete("/{customer_id}", response={204: None}, summary="Delete a customer")
@api_permission(Perm.DELETE_CUSTOMER)
def customer_delete(request: HttpRequest, customer_id: int) -> Status:
    customer = selectors.get_customer_for_user(request.user, customer_id)
    services.customer_delete(actor=request.user, customer=customer, request=request)
    return Status(204, None)


@router.post(
    "/{customer_id}/interactions",
    response={201: TimelineEntryOut},
    summary="Add a note, call, visit or message",
)
@api_permission(Perm.ADD_INTERACTION)
def interaction_add(request: HttpRequest, customer_id: int, payload: InteractionIn) -> Status:
    customer = selectors.get_customer_for_user(request.user, customer_id)
    interaction = services.interaction_add(
        actor=request.user, customer=customer, request=request, **payload.model_dump()
    )
    return Status(201, _entry_out(selectors.interaction_entry(interaction)))


@router.get(
    "/{customer_id}/timeline",
    response=list[TimelineEntryOut],
    summary="The customer's timeline, newest first",
)
@api_permission(Perm.VIEW_CUSTOMER)
def customer_timeline(
    request: HttpRequest, customer_id: int, params: Query[TimelineQuery]
) -> list[dict[str, Any]]:
    customer = selectors.get_customer_for_user(request.user, customer_id)
    entries = selectors.customer_timeline(customer, limit=params.limit, before=params.before)
    return [_entry_out(entry) for entry in entries]


@router.post("/{customer_id}/reveal", response=RevealOut, summary="Full phones and ID number")
@api_permission(Perm.VIEW_FULL_CONTACT)
def customer_reveal(request: HttpRequest, customer_id: int) -> dict[str, Any]:
    customer = selectors.get_customer_for_user(request.user, customer_id)
    revealed = services.customer_contact_reveal(
        actor=request.user, customer=customer, request=request
    )
    return {"phones": revealed.phones, "id_number": revealed.id_number, "email": revealed.email}
