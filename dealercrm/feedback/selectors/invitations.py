"""Reads of survey invitations: the list with its filters (phone invitations to call among
them), one invitation by id (404 alike for a missing one and another dealer's), the message it
went out with, and the audience of an ad-hoc list."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Max, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from dealercrm.core.models import User
from dealercrm.core.permissions import Role
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.models import Customer
from dealercrm.customers.selectors import with_customer_phone

from ..models import InvitationStatus, SurveyChannel, SurveyInvitation, SurveyKind

PAGE_SIZE = 50
TO_CALL = "to_call"


@dataclass(frozen=True)
class InvitationFilters:
    kind: str = ""
    status: str = ""
    channel: str = ""
    # "to_call": phone invitations whose time has come, not answered, link still valid.
    show: str = ""
    dealer: int | None = None
    customer: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> InvitationFilters:
        def choice(name: str, allowed: Sequence[str]) -> str:
            value = params.get(name) or ""
            return value if value in allowed else ""

        def number(name: str) -> int | None:
            value = str(params.get(name) or "")
            return int(value) if value.isdigit() else None

        return cls(
            kind=choice("kind", SurveyKind.values),
            status=choice("status", InvitationStatus.values),
            channel=choice("channel", SurveyChannel.values),
            show=choice("show", (TO_CALL,)),
            dealer=number("dealer"),
            customer=number("customer"),
        )


def visible_invitations(user: User) -> QuerySet:
    """The invitations this user may see, within the active dealer scope: their dealer's, or
    for a brand's network user the brand's dealers'."""
    if not user.is_authenticated or not user.is_active:
        return SurveyInvitation.objects.none()
    qs = SurveyInvitation.objects.all()
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    elif user.is_network_user and user.role != Role.SYSTEM_ADMIN:
        qs = qs.filter(dealer__brand_id=user.brand_id)
    return qs


def to_call_q(now: datetime.datetime) -> Q:
    return Q(
        channel=SurveyChannel.PHONE,
        status__in=(InvitationStatus.SCHEDULED, InvitationStatus.NOT_SENT),
        send_at__lte=now,
        expires_at__gt=now,
    )


def filtered_invitations(
    user: User, filters: InvitationFilters, *, now: datetime.datetime | None = None
) -> QuerySet:
    qs = visible_invitations(user)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.show == TO_CALL:
        qs = qs.filter(to_call_q(now or timezone.now()))
    if filters.dealer and not user.dealer_id:
        qs = qs.filter(dealer_id=filters.dealer)
    if filters.customer:
        qs = qs.filter(customer_id=filters.customer)
    return qs


def _mask(invitation: SurveyInvitation) -> None:
    phone = getattr(invitation, "customer_phone", None)
    invitation.masked_phone = mask_phone(phone) if phone else ""


def invitation_page(user: User, filters: InvitationFilters, *, page: int | str = 1) -> Page:
    """A page of the list, newest first, in a fixed number of queries (the primary phone is a
    subquery; the response id comes with the join)."""
    qs = with_customer_phone(
        filtered_invitations(user, filters).select_related(
            "customer", "dealer", "version__questionnaire", "response"
        )
    )
    order = ("send_at", "id") if filters.show == TO_CALL else ("-send_at", "-id")
    result = Paginator(qs.order_by(*order), PAGE_SIZE).get_page(page)
    for invitation in result.object_list:
        _mask(invitation)
    return result


def get_invitation_for_user(user: User, invitation_id: int | str) -> SurveyInvitation:
    try:
        invitation = (
            with_customer_phone(visible_invitations(user))
            .select_related(
                "customer",
                "dealer",
                "vehicle",
                "car_model",
                "consultant",
                "advisor",
                "created_by",
                "version__questionnaire",
                "response",
            )
            .get(pk=int(invitation_id))
        )
    except (SurveyInvitation.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc
    _mask(invitation)
    return invitation


def invitation_message(invitation: SurveyInvitation) -> Any:
    """The messaging.Message the invitation went out with, or None (one query when sent)."""
    if not invitation.message_id:
        return None
    from dealercrm.messaging.models import Message

    return Message.objects.filter(dealer_id=invitation.dealer_id, pk=invitation.message_id).first()


def invitation_response_id(invitation: SurveyInvitation) -> int | None:
    try:
        return invitation.response.pk
    except SurveyInvitation.response.RelatedObjectDoesNotExist:
        return None


def survey_audience_ids(
    dealer_id: int,
    *,
    tags: Sequence[str] = (),
    lifecycle_stages: Sequence[str] = (),
    serviced_from: datetime.date | None = None,
    serviced_to: datetime.date | None = None,
) -> list[int]:
    """The dealer's customers an ad-hoc list describes: messaging's campaign audience (tags,
    lifecycle stages) and, when given, whose last closed repair order fell between the dates.
    Every given criterion must hold; none given is nobody. Two queries at most."""
    from dealercrm.messaging.selectors import audience_customer_ids
    from dealercrm.service.models import RepairOrder, RepairOrderStatus

    by_audience: list[int] | None = None
    if tags or lifecycle_stages:
        by_audience = audience_customer_ids(
            dealer_id, {"tags": list(tags), "lifecycle_stages": list(lifecycle_stages)}
        )
    if serviced_from is None and serviced_to is None:
        return by_audience or []
    last = (
        RepairOrder.objects.filter(
            dealer_id=dealer_id,
            status=RepairOrderStatus.CLOSED,
            customer__isnull=False,
            customer__is_deleted=False,
        )
        .values("customer_id")
        .annotate(last=Max("closed_at"))
    )
    if serviced_from is not None:
        start = datetime.datetime.combine(serviced_from, datetime.time.min)
        last = last.filter(last__gte=timezone.make_aware(start))
    if serviced_to is not None:
        end = datetime.datetime.combine(serviced_to + datetime.timedelta(days=1), datetime.time.min)
        last = last.filter(last__lt=timezone.make_aware(end))
    serviced = {row["customer_id"] for row in last}
    if by_audience is None:
        return sorted(serviced)
    return [pk for pk in by_audience if pk in serviced]


def customers_named(dealer_id: int, ids: Sequence[int], limit: int = 20) -> list[Customer]:
    """The first few customers of a list, for the page's preview."""
    return list(Customer.objects.filter(dealer_id=dealer_id, pk__in=list(ids)[:limit]))
