"""Feedback API: survey invitations (list, one, an ad-hoc list to send) and the dealer's survey
settings (get, put). Bad input answers 422 keyed by field; nothing is written in that case."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer

from ..models import SurveyInvitation
from ..selectors import invitations as selectors
from ..services.invitations import survey_list_send
from ..services.survey_settings import EDITABLE, settings_for_dealer, survey_settings_update

router = Router(tags=["feedback"])


class InvitationOut(Schema):
    id: int
    dealer_id: int
    customer_id: int
    customer_name: str
    customer_phone: str = Field(description="Masked")
    kind: str
    questionnaire_title: str
    version_id: int
    channel: str
    status: str
    source_kind: str
    source_id: str
    send_at: datetime.datetime
    sent_at: datetime.datetime | None
    expires_at: datetime.datetime
    answered_at: datetime.datetime | None
    failure: str
    message_id: int | None
    response_id: int | None
    vehicle_id: int | None
    car_model_id: int | None
    consultant_id: int | None
    advisor_id: int | None

    @staticmethod
    def resolve_customer_name(obj: SurveyInvitation) -> str:
        return obj.customer.name

    @staticmethod
    def resolve_customer_phone(obj: SurveyInvitation) -> str:
        return getattr(obj, "masked_phone", "")

    @staticmethod
    def resolve_questionnaire_title(obj: SurveyInvitation) -> str:
        return obj.version.questionnaire.title

    @staticmethod
    def resolve_response_id(obj: SurveyInvitation) -> int | None:
        return selectors.invitation_response_id(obj)


class InvitationDetailOut(InvitationOut):
    message_status: str = Field(default="", description="The message's status in messaging")
    message_status_reason: str = ""


class InvitationQuery(Schema):
    kind: str = ""
    status: str = ""
    channel: str = ""
    show: str = Field(default="", description="'to_call': phone invitations waiting for a call")
    dealer: int | None = Field(default=None, description="Network users: one dealer")
    customer: int | None = None
    page: int = 1


class SurveyListIn(Schema):
    dealer_id: int | None = Field(default=None, description="Network users: the dealer")
    customer_ids: list[int]
    channel: str = Field(description="sms, wechat, email or phone")
    questionnaire_version_id: int | None = Field(
        default=None, description="A published version; or give `kind`"
    )
    kind: str | None = Field(
        default=None, description="Use the dealer's questionnaire of this kind (delivery, …)"
    )


class SurveyListOut(Schema):
    batch: str
    requested: int
    created: int
    fatigue_skipped: int
    unknown: int
    sent: int
    not_sent: int
    phone: int
    invitation_ids: list[int]


class SurveySettingsSchema(Schema):
    after_delivery: bool
    delivery_delay_hours: int
    after_service: bool
    service_delay_hours: int
    after_complaint: bool
    complaint_delay_hours: int
    channel: str
    link_valid_days: int
    low_rating5: int
    low_rating10: int
    low_nps: int
    low_action: str


class SurveySettingsOut(SurveySettingsSchema):
    dealer_id: int


class SurveySettingsIn(Schema):
    """Only the settings to change."""

    after_delivery: bool | None = None
    delivery_delay_hours: int | None = None
    after_service: bool | None = None
    service_delay_hours: int | None = None
    after_complaint: bool | None = None
    complaint_delay_hours: int | None = None
    channel: str | None = None
    link_valid_days: int | None = None
    low_rating5: int | None = None
    low_rating10: int | None = None
    low_nps: int | None = None
    low_action: str | None = None


def _dealer_id(request: HttpRequest) -> int:
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    return dealer.pk


@router.get("/survey-invitations", response=list[InvitationOut])
@api_permission(Perm.SEND_SURVEYS)
def survey_invitations_list(request: HttpRequest, query: Query[InvitationQuery]):  # noqa: ANN201
    filters = selectors.InvitationFilters.from_params(query.dict())
    return list(selectors.invitation_page(request.user, filters, page=query.page).object_list)


@router.get("/survey-invitations/{invitation_id}", response=InvitationDetailOut)
@api_permission(Perm.SEND_SURVEYS)
def survey_invitation_get(request: HttpRequest, invitation_id: int):  # noqa: ANN201
    invitation = selectors.get_invitation_for_user(request.user, invitation_id)
    message = selectors.invitation_message(invitation)
    invitation.message_status = message.status if message is not None else ""
    invitation.message_status_reason = message.status_reason if message is not None else ""
    return invitation


@router.post("/survey-invitations", response={201: SurveyListOut})
@api_permission(Perm.SEND_SURVEYS)
def survey_list_send_api(request: HttpRequest, payload: SurveyListIn):  # noqa: ANN201
    user = request.user
    if user.dealer_id:
        dealer_id = user.dealer_id
    elif payload.dealer_id:
        from dealercrm.core.scoping import get_dealer_for_user

        dealer_id = get_dealer_for_user(user, payload.dealer_id).pk
    else:
        raise ValidationError({"dealer_id": [_("Choose the dealer the survey is for.")]})
    report = survey_list_send(
        actor=user,
        dealer_id=dealer_id,
        customer_ids=payload.customer_ids,
        channel=payload.channel,
        questionnaire_version_id=payload.questionnaire_version_id,
        kind=payload.kind,
    )
    return Status(201, report.as_dict())


def _settings_out(dealer_id: int) -> dict[str, Any]:
    row = settings_for_dealer(dealer_id)
    return {"dealer_id": dealer_id, **{name: getattr(row, name) for name in EDITABLE}}


@router.get("/survey-settings", response=SurveySettingsOut)
@api_permission(Perm.MANAGE_SURVEYS)
def survey_settings_get(request: HttpRequest):  # noqa: ANN201
    return _settings_out(_dealer_id(request))


@router.put("/survey-settings", response=SurveySettingsOut)
@api_permission(Perm.MANAGE_SURVEYS)
def survey_settings_put(request: HttpRequest, payload: SurveySettingsIn):  # noqa: ANN201
    dealer_id = _dealer_id(request)
    survey_settings_update(
        actor=request.user, dealer_id=dealer_id, data=payload.dict(exclude_none=True)
    )
    return _settings_out(dealer_id)
