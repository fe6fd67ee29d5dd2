"""API: the inbound lead endpoint for website forms and auto-show tablets.

`POST /api/sales/inbound/leads` with a token (`Authorization: Bearer …`) of a user holding
`sales.submit_lead`. A client-supplied key (`Idempotency-Key` header, or `idempotency_key` in
the body) makes a retried post safe: the same key at the same dealer answers the lead the
first post made, with 200 instead of 201, never a second lead — also when two posts race
(the unique constraint `lead_unique_idempotency_key` decides, and the loser reads the winner's
lead). Invalid input answers 422 with one clear message per field, naming it.

A prospect the dealer already knows by this phone number is not copied: the lead is attached
to that customer; if they already have an open lead, that lead is answered (200) and its
consultant is told the prospect asked again.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.models import Dealer
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import visible_dealers
from dealercrm.customers.validators import normalise_phone
from dealercrm.vehicles.models import CarModel
from dealercrm.worklist.services import notice_create

from ..models import Lead, LeadChannel
from ..services.assignment import NOTICE_SOURCE, lead_url
from ..services.leads import lead_create, lead_matches

router = Router(tags=["sales"])

INBOUND_CHANNELS = (
    LeadChannel.WEBSITE,
    LeadChannel.AUTO_SHOW,
    LeadChannel.DOUYIN,
    LeadChannel.WECHAT,
    LeadChannel.PHONE,
)


class InboundLeadIn(Schema):
    dealer: str = Field(default="", description="Dealer code; required for brand (network) tokens")
    name: str = ""
    phone: str = ""
    wechat_id: str = ""
    model_id: Any = Field(default=None, description="Catalogue id of the model of interest")
    channel: str = Field(default=LeadChannel.WEBSITE, description=", ".join(INBOUND_CHANNELS))
    campaign: str = ""
    message: str = Field(default="", description="What the prospect wrote")
    idempotency_key: str = Field(
        default="", description="Or the Idempotency-Key header (the header wins)"
    )


class InboundLeadOut(Schema):
    id: int
    dealer: str
    stage: str
    created: bool = Field(description="False: a retry, or the prospect's open lead")
    duplicate_of_open_lead: bool = False


def _dealer(request: HttpRequest, code: str) -> tuple[Dealer | None, dict[str, list[str]]]:
    user = request.user
    code = (code or "").strip()
    if user.dealer_id and not code:
        return user.dealer, {}
    if not code:
        return None, {"dealer": [_("Give the dealer's code.")]}
    dealer = visible_dealers(user).filter(code=code).first()
    if dealer is None or (user.dealer_id and dealer.pk != user.dealer_id):
        return None, {"dealer": [_("There is no dealer with this code you may post to.")]}
    return dealer, {}


def _clean(request: HttpRequest, payload: InboundLeadIn) -> tuple[dict[str, Any], Dealer]:
    """The lead's values, or a ValidationError with one message per bad field."""
    dealer, errors = _dealer(request, payload.dealer)
    key = (request.headers.get("Idempotency-Key") or payload.idempotency_key or "").strip()
    if not key:
        errors["idempotency_key"] = [
            _("Send an Idempotency-Key header (or idempotency_key): a retry must not add a lead.")
        ]
    elif len(key) > 64:
        errors["idempotency_key"] = [_("An idempotency key has at most 64 characters.")]
    name = payload.name.strip()
    if not name:
        errors["name"] = [_("Give the prospect's name.")]
    elif len(name) > 100:
        errors["name"] = [_("A name has at most 100 characters.")]
    if not payload.phone.strip():
        errors["phone"] = [_("Give the prospect's mobile number.")]
    else:
        try:
            normalise_phone(payload.phone)
        except ValidationError as exc:
            errors["phone"] = exc.messages[:1]
    if payload.channel not in INBOUND_CHANNELS:
        errors["channel"] = [
            _("“%(value)s” is not an inbound channel; use one of: %(choices)s.")
            % {"value": payload.channel, "choices": ", ".join(INBOUND_CHANNELS)}
        ]
    model_id = None
    if payload.model_id not in (None, ""):
        try:
            model_id = int(payload.model_id)
        except (TypeError, ValueError):
            model_id = 0
        if not CarModel.objects.filter(pk=model_id).exists():
            errors["model_id"] = [_("There is no model with this id in the catalogue.")]
    if len(payload.campaign.strip()) > 100:
        errors["campaign"] = [_("A campaign name has at most 100 characters.")]
    if len(payload.wechat_id.strip()) > 64:
        errors["wechat_id"] = [_("A WeChat ID has at most 64 characters.")]
    if errors:
        raise ValidationError(errors)
    assert dealer is not None
    return {
        "name": name,
        "phone": payload.phone.strip(),
        "wechat_id": payload.wechat_id.strip(),
        "car_model_id": model_id,
        "channel": payload.channel,
        "campaign": payload.campaign.strip(),
        "notes": payload.message.strip(),
        "idempotency_key": key,
    }, dealer


def _out(lead: Lead, dealer: Dealer, *, created: bool, duplicate: bool = False) -> dict:
    return {
        "id": lead.pk,
        "dealer": dealer.code,
        "stage": lead.stage,
        "created": created,
        "duplicate_of_open_lead": duplicate,
    }


@router.post(
    "/inbound/leads",
    response={200: InboundLeadOut, 201: InboundLeadOut},
    summary="Post a lead from a website form or an auto-show tablet (idempotent)",
)
@api_permission(Perm.SUBMIT_LEADS)
def inbound_lead(request: HttpRequest, payload: InboundLeadIn) -> Status:
    values, dealer = _clean(request, payload)
    existing = Lead.objects.filter(
        dealer_id=dealer.pk, idempotency_key=values["idempotency_key"]
    ).first()
    if existing is not None:
        return Status(200, _out(existing, dealer, created=False))
    customer = None
    matches = lead_matches(dealer_id=dealer.pk, name=values["name"], phone=values["phone"])
    same_phone = [m for m in matches.customers if m.same_phone]
    if same_phone:
        match = same_phone[0]
        if match.open_leads:
            lead = match.open_leads[0]
            if lead.consultant_id:
                notice_create(
                    dealer_id=dealer.pk,
                    recipient_ids=[lead.consultant_id],
                    title=_("%(name)s asked again (%(channel)s)")
                    % {"name": lead.customer.name, "channel": LeadChannel(values["channel"]).label},
                    body=values["notes"],
                    link=lead_url(lead.pk),
                    source_kind=NOTICE_SOURCE,
                    source_id=str(lead.pk),
                    reason=f"again:{values['idempotency_key']}"[:40],
                )
            return Status(200, _out(lead, dealer, created=False, duplicate=True))
        customer = match.customer
    lead = lead_create(
        actor=request.user,
        dealer_id=dealer.pk,
        customer=customer,
        **(
            {k: v for k, v in values.items() if k not in ("name", "phone", "wechat_id")}
            if customer is not None
            else values
        ),
    )
    created = getattr(lead, "was_created", True)
    return Status(201 if created else 200, _out(lead, dealer, created=created))
