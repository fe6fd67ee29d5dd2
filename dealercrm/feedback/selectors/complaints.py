"""Reads of complaints: the list with its filters, one complaint by id (404 alike for a missing
complaint and another dealer's: the scoped manager sees only the request's dealers), its steps,
and the choices the handling forms offer.

A user without Perm.VIEW_ALL_DEALER_CUSTOMERS (a sales consultant) sees the complaints of the
customers assigned to them and those they handle, as they see only their own customers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm, Role
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.selectors import with_customer_phone

from ..models import (
    ACTIVE_STATUSES,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintEvent,
    ComplaintSeverity,
    ComplaintStatus,
    EscalationLevel,
)

PAGE_SIZE = 50
MINE = "mine"
UNASSIGNED = "none"


def _flag(value: object) -> bool:
    return str(value or "").lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ComplaintFilters:
    """What the list can be narrowed by. Empty values mean "any"."""

    status: str = ""
    channel: str = ""
    category: str = ""
    severity: str = ""
    handler: str = ""  # "mine", "none" or a user id
    escalated: bool = False
    overdue: bool = False
    dealer: int | None = None  # network users: one dealer of the brand
    customer: int | None = None
    q: str = ""

    @classmethod
    def from_params(cls, params) -> ComplaintFilters:  # noqa: ANN001
        def choice(name: str, values: list[str]) -> str:
            value = params.get(name) or ""
            return value if value in values else ""

        def number(name: str) -> int | None:
            value = str(params.get(name) or "")
            return int(value) if value.isdigit() else None

        handler = str(params.get("handler") or "")
        if handler not in (MINE, UNASSIGNED) and not handler.isdigit():
            handler = ""
        return cls(
            status=choice("status", ComplaintStatus.values),
            channel=choice("channel", ComplaintChannel.values),
            category=choice("category", ComplaintCategory.values),
            severity=choice("severity", ComplaintSeverity.values),
            handler=handler,
            escalated=_flag(params.get("escalated")),
            overdue=_flag(params.get("overdue")),
            dealer=number("dealer"),
            customer=number("customer"),
            q=(params.get("q") or "").strip()[:50],
        )


def visible_complaints(user: User) -> QuerySet:
    """The complaints this user may see, within the active dealer scope."""
    if not user.is_authenticated or not user.is_active:
        return Complaint.objects.none()
    qs = Complaint.objects.all()
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    elif user.is_network_user and user.role != Role.SYSTEM_ADMIN:
        qs = qs.filter(dealer__brand_id=user.brand_id)
    if not user.has_perm(Perm.VIEW_ALL_DEALER_CUSTOMERS):
        qs = qs.filter(Q(customer__assigned_consultant_id=user.pk) | Q(handler_id=user.pk))
    return qs


def overdue_q(now: datetime.datetime) -> Q:
    """A running clock past its deadline: no first response by its due time, or no accepted
    solution by its due time."""
    response = Q(
        status=ComplaintStatus.OPEN, first_response_at__isnull=True, response_due_at__lt=now
    )
    solution = Q(status__in=ACTIVE_STATUSES, solved_at__isnull=True, solution_due_at__lt=now)
    return response | solution


def filtered_complaints(
    user: User, filters: ComplaintFilters, *, now: datetime.datetime | None = None
) -> QuerySet:
    qs = visible_complaints(user)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.category:
        qs = qs.filter(category=filters.category)
    if filters.severity:
        qs = qs.filter(severity=filters.severity)
    if filters.handler == MINE:
        qs = qs.filter(handler_id=user.pk)
    elif filters.handler == UNASSIGNED:
        qs = qs.filter(handler__isnull=True)
    elif filters.handler:
        qs = qs.filter(handler_id=int(filters.handler))
    if filters.escalated:
        qs = qs.filter(escalation_level__gt=EscalationLevel.NONE)
    if filters.overdue:
        qs = qs.filter(overdue_q(now or timezone.now()))
    if filters.dealer and not user.dealer_id:
        qs = qs.filter(dealer_id=filters.dealer)
    if filters.customer:
        qs = qs.filter(customer_id=filters.customer)
    if filters.q:
        qs = qs.filter(
            Q(customer__name__icontains=filters.q)
            | Q(description__icontains=filters.q)
            | Q(oem_reference__icontains=filters.q)
        )
    return qs


def complaint_page(user: User, filters: ComplaintFilters, *, page: int | str = 1) -> Page:
    """A page of the list, newest first: a fixed number of queries whatever the page holds
    (the customer's primary phone is a subquery, masked here)."""
    qs = with_customer_phone(
        filtered_complaints(user, filters).select_related(
            "customer", "vehicle", "created_by", "dealer", "handler", "car_model"
        )
    )
    result = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(page)
    for complaint in result.object_list:
        complaint.masked_phone = (
            mask_phone(complaint.customer_phone or "") if complaint.customer_phone else ""
        )
    return result


def get_complaint_for_user(user: User, complaint_id: int | str) -> Complaint:
    try:
        complaint = (
            with_customer_phone(visible_complaints(user))
            .select_related(
                "customer",
                "vehicle",
                "vehicle__car_model",
                "created_by",
                "dealer",
                "repair_order",
                "order",
                "staff",
                "handler",
                "car_model",
            )
            .get(pk=int(complaint_id))
        )
    except (Complaint.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc
    complaint.masked_phone = (
        mask_phone(complaint.customer_phone) if complaint.customer_phone else ""
    )
    return complaint


def complaint_events(complaint: Complaint) -> list[ComplaintEvent]:
    """The steps in the order they happened, with who took them (one query)."""
    events = list(
        ComplaintEvent.objects.filter(dealer_id=complaint.dealer_id, complaint_id=complaint.pk)
        .select_related("actor")
        .order_by("at", "id")
    )
    labels = dict(ComplaintChannel.choices)
    for event in events:
        event.channel_label = str(labels.get(event.channel, event.channel))
    return events
