"""Reads of bookings: the resources a user sees, and their bookings in a time range.

The dealer scope (middleware, API auth) already limits every query to the user's dealer, or
to the network for network roles; look-ups by id answer 404 alike for a missing row and
another dealer's.
"""

from __future__ import annotations

import datetime

from django.http import Http404

from dealercrm.core.models import User

from .models import Booking, Resource, ResourceKind, ResourceQuerySet


def visible_resources(user: User) -> ResourceQuerySet:
    qs = Resource.objects.all()
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    return qs


def resource_list(
    user: User, *, kind: str = "", active_only: bool = False, dealer_id: int | None = None
) -> ResourceQuerySet:
    qs = visible_resources(user).select_related("car_model", "dealer")
    if kind in ResourceKind.values:
        qs = qs.filter(kind=kind)
    if active_only:
        qs = qs.active()
    if dealer_id is not None:
        qs = qs.filter(dealer_id=dealer_id)
    return qs.order_by("dealer_id", "kind", "name", "id")


def get_resource_for_user(user: User, resource_id: int | str) -> Resource:
    try:
        return (
            visible_resources(user).select_related("car_model", "dealer").get(pk=int(resource_id))
        )
    except (Resource.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def get_booking_for_user(user: User, booking_id: int | str) -> Booking:
    qs = Booking.objects.select_related("resource")
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    try:
        return qs.get(pk=int(booking_id))
    except (Booking.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def bookings_between(
    *,
    dealer_id: int,
    start: datetime.datetime,
    end: datetime.datetime,
    resource_ids: list[int] | None = None,
    include_cancelled: bool = False,
) -> list[Booking]:
    """The bookings that share any instant with [start, end), by resource and time (one query,
    through the (dealer, resource, starts_at) index of active bookings)."""
    qs = Booking.objects.filter(dealer_id=dealer_id).overlapping(start, end)
    if not include_cancelled:
        qs = qs.active()
    if resource_ids is not None:
        qs = qs.filter(resource_id__in=resource_ids)
    return list(qs.select_related("resource").order_by("resource_id", "starts_at", "id"))
