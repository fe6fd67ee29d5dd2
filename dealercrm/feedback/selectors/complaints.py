"""Reads of complaints: the list with its filters, one complaint by id (404 alike for a missing
complaint and another dealer's: the scoped manager sees only the request's dealers)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404

from dealercrm.core.models import User

from ..models import Complaint, ComplaintChannel, ComplaintStatus

PAGE_SIZE = 50


@dataclass(frozen=True)
class ComplaintFilters:
    status: str = ""
    channel: str = ""
    q: str = ""

    @classmethod
    def from_params(cls, params) -> ComplaintFilters:  # noqa: ANN001
        status = params.get("status") or ""
        channel = params.get("channel") or ""
        return cls(
            status=status if status in ComplaintStatus.values else "",
            channel=channel if channel in ComplaintChannel.values else "",
            q=(params.get("q") or "").strip()[:50],
        )


def visible_complaints(user: User) -> QuerySet:
    if not user.is_authenticated or not user.is_active:
        return Complaint.objects.none()
    qs = Complaint.objects.all()
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    return qs


def complaint_page(user: User, filters: ComplaintFilters, *, page: int | str = 1) -> Page:
    qs = visible_complaints(user).select_related("customer", "vehicle", "created_by", "dealer")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.q:
        qs = qs.filter(Q(customer__name__icontains=filters.q) | Q(description__icontains=filters.q))
    return Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(page)


def get_complaint_for_user(user: User, complaint_id: int | str) -> Complaint:
    try:
        return (
            visible_complaints(user)
            .select_related("customer", "vehicle", "created_by", "dealer", "repair_order")
            .get(pk=int(complaint_id))
        )
    except (Complaint.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc
