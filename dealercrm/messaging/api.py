"""The messaging API (mounted at /api/messaging/): templates and their preview, sending one
message, the outbox and a message's status, campaigns.

Scoped like the pages: templates, messages and campaigns of another dealer answer 404, and a user
who sees only their own customers (a sales consultant) sees only those customers' messages.
Writes go through the same services as the pages, so consent, quiet hours, the frequency cap and
idempotency hold here exactly as there. Phone numbers are masked in every answer.

Delivery receipts and inbound replies are not operations of this API: the gateways post them to
plain, token-checked URLs (see the API description in config/api.py).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import visible_dealers
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.selectors import get_customer_for_user, visible_customers

from . import selectors, services
from .models import Campaign, Channel, Language, Message, MessageTemplate, is_marketing_purpose
from .rendering import VariableMissing, customer_contexts, render, validate_template
from .sms_length import sms_length, sms_text

router = Router(tags=["messaging"])


# --- schemas ------------------------------------------------------------------------------------


class StaffOut(Schema):
    id: int
    name: str


class TemplateOut(Schema):
    id: int
    dealer_id: int
    name: str
    purpose: str
    is_marketing: bool = Field(description="Marketing needs consent and counts against the cap")
    channel: str
    language: str
    subject: str
    body: str
    provider_template_code: str
    is_active: bool
    updated_at: datetime.datetime


class TemplateListQuery(Schema):
    purpose: str = ""
    channel: str = ""
    language: str = ""
    kind: str = Field(default="", description='"service" or "marketing"')


class TemplateIn(Schema):
    name: str
    purpose: str
    channel: str
    language: str = Language.ZH_HANS
    subject: str = ""
    body: str = Field(description="Text with {{ variables }} from the catalogue")
    provider_template_code: str = ""
    is_active: bool = True
    dealer_id: int | None = Field(
        default=None, description="Only for users without a dealer of their own"
    )


class TemplatePatch(Schema):
    name: str | None = None
    purpose: str | None = None
    channel: str | None = None
    language: str | None = None
    subject: str | None = None
    body: str | None = None
    provider_template_code: str | None = None
    is_active: bool | None = None


class PreviewIn(Schema):
    customer_id: int
    extra: dict[str, str] = Field(
        default={}, description="Values of caller variables: date, time, link, festival …"
    )


class DraftPreviewIn(PreviewIn):
    channel: str
    purpose: str
    body: str
    subject: str = ""
    language: str = Language.ZH_HANS


class SmsLengthOut(Schema):
    chars: int
    segments: int
    limit: int
    label: str = Field(description='"45/70", "2 segments (134)"')


class MissingVariableOut(Schema):
    customer_id: int
    customer_name: str
    variable: str


class PreviewOut(Schema):
    ok: bool = Field(description="False: a variable has no value for this customer")
    customer_id: int
    is_marketing: bool
    subject: str
    body: str = Field(description="The full text as it would be sent (SMS with 【signature】)")
    sms: SmsLengthOut | None = Field(description="SMS only: length as the gateway counts it")
    missing_variable: MissingVariableOut | None


class MessageIn(Schema):
    customer_id: int
    channel: str = Field(description="sms, email, wechat, phone, mail")
    purpose: str = "personal"
    template_id: int | None = Field(default=None, description="Or a literal body")
    body: str = ""
    subject: str = ""
    source_id: str = Field(
        default="",
        max_length=64,
        description="Your token for this submission: the same one again returns the first "
        "message instead of sending twice (default: a new one each call)",
    )
    extra: dict[str, str] = Field(default={}, description="Values of caller variables")


class MessageOut(Schema):
    id: int
    dealer_id: int
    customer_id: int | None
    customer_name: str
    direction: str
    channel: str
    purpose: str
    is_marketing: bool
    template_id: int | None
    campaign_id: int | None
    language: str
    to_address: str = Field(description="Phone numbers masked")
    from_address: str = Field(description="Phone numbers masked")
    subject: str
    body: str
    segments: int
    source_kind: str
    source_id: str
    status: str
    status_label: str
    status_reason: str
    not_before: datetime.datetime = Field(description="Not sent before (quiet hours, retry)")
    attempts: int
    provider: str
    provider_message_id: str
    in_reply_to_id: int | None
    created_by: StaffOut | None
    created_at: datetime.datetime
    sent_at: datetime.datetime | None
    delivered_at: datetime.datetime | None
    status_changed_at: datetime.datetime


class MessageListQuery(Schema):
    status: str = ""
    channel: str = ""
    purpose: str = ""
    direction: str = Field(default="", description='"out" or "in"')
    campaign: int | None = None
    customer: int | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    mine: bool = Field(default=False, description="Only messages I sent")
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class MessageListOut(Schema):
    count: int
    items: list[MessageOut]


class AudienceIn(Schema):
    tags: list[str] = Field(default=[], description="Tag names (or ids): any of them")
    lifecycle_stages: list[str] = []
    customer_ids: list[int] = []


class CampaignIn(Schema):
    name: str
    template_id: int
    audience: AudienceIn
    dealer_id: int | None = Field(
        default=None, description="Only for users without a dealer of their own"
    )


class CampaignOut(Schema):
    id: int
    dealer_id: int
    name: str
    template_id: int
    template_name: str
    audience: dict[str, Any]
    status: str
    progress: int = Field(description="Customers handled so far while queueing")
    total: int
    report: dict[str, Any] = Field(description="What queueing did, by outcome")
    messages: dict[str, int] = Field(description="The campaign's messages now, by status")
    created_by: StaffOut | None
    created_at: datetime.datetime
    queued_at: datetime.datetime | None


class CampaignListQuery(Schema):
    limit: int = Field(default=25, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class CampaignListOut(Schema):
    count: int
    items: list[CampaignOut]


# --- helpers ------------------------------------------------------------------------------------


def _staff(user: Any) -> dict[str, Any] | None:
    return {"id": user.pk, "name": str(user)} if user is not None else None


def _address(address: str) -> str:
    # Phones are shown masked everywhere; e-mail, WeChat ids and postal addresses as the
    # customer record shows them.
    return mask_phone(address) if address.startswith("+") else address


def _message_out(message: Message) -> dict[str, Any]:
    customer = message.customer
    return {
        "id": message.pk,
        "dealer_id": message.dealer_id,
        "customer_id": message.customer_id,
        "customer_name": customer.name if customer is not None else "",
        "direction": message.direction,
        "channel": message.channel,
        "purpose": message.purpose,
        "is_marketing": message.is_marketing,
        "template_id": message.template_id,
        "campaign_id": message.campaign_id,
        "language": message.language,
        "to_address": _address(message.to_address),
        "from_address": _address(message.from_address),
        "subject": message.subject,
        "body": message.body,
        "segments": message.segments,
        "source_kind": message.source_kind,
        "source_id": message.source_id,
        "status": message.status,
        "status_label": str(message.get_status_display()),
        "status_reason": message.status_reason,
        "not_before": message.not_before,
        "attempts": message.attempts,
        "provider": message.provider,
        "provider_message_id": message.provider_message_id,
        "in_reply_to_id": message.in_reply_to_id,
        "created_by": _staff(message.created_by),
        "created_at": message.created_at,
        "sent_at": message.sent_at,
        "delivered_at": message.delivered_at,
        "status_changed_at": message.status_changed_at,
    }


def _campaign_out(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.pk,
        "dealer_id": campaign.dealer_id,
        "name": campaign.name,
        "template_id": campaign.template_id,
        "template_name": campaign.template.name,
        "audience": campaign.audience,
        "status": campaign.status,
        "progress": campaign.progress,
        "total": campaign.total,
        "report": campaign.report,
        "messages": selectors.campaign_status_counts(campaign),
        "created_by": _staff(campaign.created_by),
        "created_at": campaign.created_at,
        "queued_at": campaign.queued_at,
    }


def _dealer_id_for(request: HttpRequest, asked: int | None) -> int:
    """The user's own dealer; a user without one (system administrator) names a dealer they see."""
    user = request.user
    if user.dealer_id:
        return user.dealer_id
    if asked and visible_dealers(user).filter(pk=asked).exists():
        return asked
    raise ValidationError({"dealer_id": _("Choose the dealer this belongs to.")})


def _template_of_dealer(request: HttpRequest, template_id: int, dealer_id: int) -> MessageTemplate:
    """A template the user sees, of the given dealer; otherwise a field error (the same answer for
    a missing template and another dealer's)."""
    template = selectors.visible_templates(request.user).filter(pk=template_id).first()
    if template is None or template.dealer_id != dealer_id:
        raise ValidationError({"template_id": _("There is no such template.")})
    return template


def preview(
    *,
    customer: Any,
    channel: str,
    purpose: str,
    body: str,
    subject: str,
    language: str,
    extra: dict[str, str],
) -> dict[str, Any]:
    """What a message would say to this customer, exactly as it would be sent, or the variable
    that has no value for them. Reads only: nothing is queued."""
    marketing = is_marketing_purpose(purpose)
    missing = None
    rendered_subject = rendered_body = ""
    contexts = customer_contexts(
        customer.dealer_id, [customer.pk], language, extra_by_customer={customer.pk: extra}
    )
    try:
        context = contexts[customer.pk]
        rendered_subject = render(subject, context)
        rendered_body = render(body, context)
    except VariableMissing as exc:
        missing = {
            "customer_id": customer.pk,
            "customer_name": customer.name,
            "variable": exc.variable,
        }
    sms = None
    if channel == Channel.SMS and missing is None:
        policy = selectors.policy_of(customer.dealer_id)
        signature = policy.sms_signature if policy is not None else ""
        length = sms_length(rendered_body, signature=signature, marketing=marketing)
        rendered_body = sms_text(rendered_body, signature=signature, marketing=marketing)
        sms = {
            "chars": length.chars,
            "segments": length.segments,
            "limit": length.limit,
            "label": length.label,
        }
    return {
        "ok": missing is None,
        "customer_id": customer.pk,
        "is_marketing": marketing,
        "subject": rendered_subject,
        "body": rendered_body,
        "sms": sms,
        "missing_variable": missing,
    }


# --- templates ----------------------------------------------------------------------------------


@router.get("/templates", response=list[TemplateOut], summary="List templates")
@api_permission(Perm.VIEW_MESSAGES)
def template_list(request: HttpRequest, params: Query[TemplateListQuery]) -> list[MessageTemplate]:
    filters = selectors.TemplateFilters.from_params(params.dict())
    return selectors.template_list(request.user, filters)


@router.get("/templates/{template_id}", response=TemplateOut, summary="Get a template")
@api_permission(Perm.VIEW_MESSAGES)
def template_get(request: HttpRequest, template_id: int) -> MessageTemplate:
    return selectors.get_template_for_user(request.user, template_id)


@router.post("/templates", response={201: TemplateOut}, summary="Create a template")
@api_permission(Perm.MANAGE_TEMPLATES)
def template_create(request: HttpRequest, payload: TemplateIn) -> Status:
    values = payload.dict()
    dealer_id = _dealer_id_for(request, values.pop("dealer_id"))
    template = services.template_create(actor=request.user, dealer_id=dealer_id, **values)
    return Status(201, template)


@router.patch("/templates/{template_id}", response=TemplateOut, summary="Change a template")
@api_permission(Perm.MANAGE_TEMPLATES)
def template_update(
    request: HttpRequest, template_id: int, payload: TemplatePatch
) -> MessageTemplate:
    template = selectors.get_template_for_user(request.user, template_id)
    values = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    return services.template_update(actor=request.user, template=template, **values)


@router.post(
    "/templates/{template_id}/preview",
    response=PreviewOut,
    summary="Render a template for a customer",
)
@api_permission(Perm.SEND_MESSAGE)
def template_preview(request: HttpRequest, template_id: int, payload: PreviewIn) -> dict[str, Any]:
    """The text exactly as this customer would get it (SMS: with the 【signature】 and, for
    marketing, " 回T退订"; its length as the gateway counts it), or the variable that has no
    value for them. Nothing is sent."""
    template = selectors.get_template_for_user(request.user, template_id)
    customer = get_customer_for_user(request.user, payload.customer_id)
    if customer.dealer_id != template.dealer_id:
        raise ValidationError({"customer_id": _("The customer is not a customer of this dealer.")})
    return preview(
        customer=customer,
        channel=template.channel,
        purpose=template.purpose,
        body=template.body,
        subject=template.subject,
        language=template.language,
        extra=payload.extra,
    )


@router.post("/preview", response=PreviewOut, summary="Render an unsaved text for a customer")
@api_permission(Perm.SEND_MESSAGE)
def draft_preview(request: HttpRequest, payload: DraftPreviewIn) -> dict[str, Any]:
    """As the template preview, for a text being written (unknown variables answer 422)."""
    validate_template(payload.body, payload.subject)
    customer = get_customer_for_user(request.user, payload.customer_id)
    return preview(
        customer=customer,
        channel=payload.channel,
        purpose=payload.purpose,
        body=payload.body,
        subject=payload.subject,
        language=payload.language,
        extra=payload.extra,
    )


# --- messages -----------------------------------------------------------------------------------


@router.post("/messages", response={201: MessageOut}, summary="Send a message to a customer")
@api_permission(Perm.SEND_MESSAGE)
def message_send(request: HttpRequest, payload: MessageIn) -> Status:
    """Queue one message, with every rule the pages apply: a marketing message needs the
    channel's consent (422 otherwise), the frequency cap holds it back (status "held"), quiet
    hours delay it (`not_before`), a variable without a value answers 422 naming it. Poll
    GET /messages/{id} for its status."""
    customer = get_customer_for_user(request.user, payload.customer_id)
    template = None
    if payload.template_id is not None:
        template = _template_of_dealer(request, payload.template_id, customer.dealer_id)
    message = services.message_send(
        actor=request.user,
        customer=customer,
        channel=payload.channel,
        purpose=payload.purpose,
        template=template,
        body=payload.body,
        subject=payload.subject,
        source_kind=Message.SourceKind.MANUAL,
        source_id=payload.source_id or f"api-{uuid.uuid4().hex}",
        extra=payload.extra,
        request=request,
    )
    return Status(201, _message_out(selectors.get_message_for_user(request.user, message.pk)))


@router.get("/messages", response=MessageListOut, summary="List messages, newest first")
@api_permission(Perm.VIEW_MESSAGES)
def message_list(request: HttpRequest, params: Query[MessageListQuery]) -> dict[str, Any]:
    filters = selectors.MessageFilters(
        status=params.status,
        channel=params.channel,
        purpose=params.purpose,
        direction=params.direction,
        campaign_id=params.campaign,
        date_from=params.date_from,
        date_to=params.date_to,
        mine=params.mine,
    )
    qs = selectors.message_list_queryset(request.user, filters)
    if params.customer:
        qs = qs.filter(customer_id=params.customer)
    items = [_message_out(m) for m in qs[params.offset : params.offset + params.limit]]
    return {"count": qs.count(), "items": items}


@router.get("/messages/{message_id}", response=MessageOut, summary="A message and its status")
@api_permission(Perm.VIEW_MESSAGES)
def message_get(request: HttpRequest, message_id: int) -> dict[str, Any]:
    return _message_out(selectors.get_message_for_user(request.user, message_id))


@router.post(
    "/messages/{message_id}/cancel", response=MessageOut, summary="Cancel a queued or held message"
)
@api_permission(Perm.SEND_MESSAGE)
def message_cancel(request: HttpRequest, message_id: int) -> dict[str, Any]:
    message = selectors.get_message_for_user(request.user, message_id)
    services.message_cancel(actor=request.user, message=message, request=request)
    return _message_out(selectors.get_message_for_user(request.user, message_id))


@router.post(
    "/messages/{message_id}/release",
    response=MessageOut,
    summary="Queue a held or blocked message again",
)
@api_permission(Perm.SEND_MESSAGE)
def message_release(request: HttpRequest, message_id: int) -> dict[str, Any]:
    """Consent and the frequency cap are checked again now."""
    message = selectors.get_message_for_user(request.user, message_id)
    services.message_release(actor=request.user, message=message, request=request)
    return _message_out(selectors.get_message_for_user(request.user, message_id))


# --- campaigns ----------------------------------------------------------------------------------


@router.get("/campaigns", response=CampaignListOut, summary="List campaigns, newest first")
@api_permission(Perm.RUN_CAMPAIGNS)
def campaign_list(request: HttpRequest, params: Query[CampaignListQuery]) -> dict[str, Any]:
    qs = (
        selectors.visible_campaigns(request.user)
        .select_related("template", "created_by")
        .order_by("-created_at", "-id")
    )
    items = [_campaign_out(c) for c in qs[params.offset : params.offset + params.limit]]
    return {"count": qs.count(), "items": items}


@router.post("/campaigns", response={201: CampaignOut}, summary="Create a campaign (a draft)")
@api_permission(Perm.RUN_CAMPAIGNS)
def campaign_create(request: HttpRequest, payload: CampaignIn) -> Status:
    dealer_id = _dealer_id_for(request, payload.dealer_id)
    template = _template_of_dealer(request, payload.template_id, dealer_id)
    audience = payload.audience.dict()
    if audience["customer_ids"]:
        # Only customers the user may see, of this dealer; the same answer for missing ones.
        listed = set(audience["customer_ids"])
        found = set(
            visible_customers(request.user)
            .filter(dealer_id=dealer_id, pk__in=listed)
            .values_list("pk", flat=True)
        )
        if found != listed:
            raise ValidationError(
                {
                    "audience": _("Unknown customers: %(ids)s.")
                    % {"ids": ", ".join(str(i) for i in sorted(listed - found))}
                }
            )
    campaign = services.campaign_create(
        actor=request.user,
        dealer_id=dealer_id,
        name=payload.name,
        template=template,
        audience=audience,
    )
    return Status(201, _campaign_out(selectors.get_campaign_for_user(request.user, campaign.pk)))


@router.get("/campaigns/{campaign_id}", response=CampaignOut, summary="A campaign's progress")
@api_permission(Perm.RUN_CAMPAIGNS)
def campaign_get(request: HttpRequest, campaign_id: int) -> dict[str, Any]:
    """Status, progress while queueing (`progress` of `total`), the queueing report and the
    messages by status now."""
    return _campaign_out(selectors.get_campaign_for_user(request.user, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/queue",
    response={202: CampaignOut},
    summary="Queue a campaign's messages (in the background)",
)
@api_permission(Perm.RUN_CAMPAIGNS)
def campaign_queue(request: HttpRequest, campaign_id: int) -> Status:
    """Starts the job that queues the messages; poll GET /campaigns/{id} for progress and the
    report. Only a draft can be queued (422 otherwise)."""
    campaign = selectors.get_campaign_for_user(request.user, campaign_id)
    # The service marks the draft "queueing" only if it still is a draft, so two calls never
    # start two jobs; it enqueues the job once that is committed.
    if not services.campaign_start(actor=request.user, campaign=campaign, request=request):
        raise ValidationError({"status": _("This campaign has already been queued.")})
    return Status(202, _campaign_out(selectors.get_campaign_for_user(request.user, campaign_id)))
