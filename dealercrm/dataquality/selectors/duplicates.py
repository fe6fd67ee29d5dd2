"""Reads of the duplicate review queue: the pairs a user may review, one pair (404 alike for a
missing pair and one the user may not see), and the two customers side by side.

A dealer's staff see their dealer's own pairs, never a pair across dealers (it would show them
another dealer's customer). The OEM's roles see the pairs across their brand's dealers, and the
dealers' own pairs read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, QuerySet
from django.http import Http404

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.customers.contact_masking import mask_email, mask_phone
from dealercrm.customers.models import Customer, CustomerPhone
from dealercrm.vehicles.models import Vehicle

from ..models import DuplicateCandidate, DuplicateStatus

PAGE_SIZE = 50
WITHIN = "within"
ACROSS = "across"


def is_network(user: User) -> bool:
    return not user.dealer_id and user.is_network_user


@dataclass(frozen=True)
class DuplicateFilters:
    """The queue's filters: status (default: to review), a minimum score, and for the OEM the tab
    (pairs across dealers, or within dealers) and one dealer."""

    status: str = DuplicateStatus.OPEN
    min_score: float | None = None
    tab: str = WITHIN
    dealer: int | None = None

    @classmethod
    def from_params(cls, params: Any, *, network: bool) -> DuplicateFilters:
        status = str(params.get("status", DuplicateStatus.OPEN) or "")
        if status not in DuplicateStatus.values and status != "all":
            status = DuplicateStatus.OPEN
        min_score: float | None = None
        try:
            given = float(params.get("min_score") or "")
        except ValueError:
            pass
        else:
            if given == given:  # not NaN
                min_score = min(max(given, 0.0), 1.0)
        tab = str(params.get("tab") or (ACROSS if network else WITHIN))
        if not network or tab not in (WITHIN, ACROSS):
            tab = ACROSS if network else WITHIN
        dealer = str(params.get("dealer") or "")
        return cls(
            status=status,
            min_score=min_score,
            tab=tab,
            dealer=int(dealer) if network and dealer.isdigit() else None,
        )


def visible_candidates(user: User) -> QuerySet[DuplicateCandidate]:
    """The pairs this user may see, within the active dealer scope."""
    qs = DuplicateCandidate.objects.all()
    if not user.is_authenticated or not user.has_perm(Perm.REVIEW_DUPLICATES):
        return qs.none()
    if is_network(user):
        return qs
    if user.dealer_id:
        return qs.filter(dealer_id=user.dealer_id, cross_dealer=False)
    return qs.none()


def duplicate_queue(user: User, filters: DuplicateFilters) -> QuerySet[DuplicateCandidate]:
    qs = visible_candidates(user).filter(cross_dealer=filters.tab == ACROSS)
    if filters.status != "all":
        qs = qs.filter(status=filters.status)
    if filters.min_score is not None:
        qs = qs.filter(score__gte=filters.min_score)
    if filters.dealer is not None:
        qs = qs.filter(dealer_id=filters.dealer)
    return qs.select_related("customer_a", "customer_b", "dealer", "other_dealer").order_by(
        "-score", "id"
    )


def duplicate_page(user: User, filters: DuplicateFilters, *, page: Any = 1) -> Page:
    return Paginator(duplicate_queue(user, filters), PAGE_SIZE).get_page(page)


def status_counts(user: User, filters: DuplicateFilters) -> dict[str, int]:
    """Pairs per status in the current tab, for the filter's badges: one query."""
    qs = visible_candidates(user).filter(cross_dealer=filters.tab == ACROSS)
    if filters.dealer is not None:
        qs = qs.filter(dealer_id=filters.dealer)
    return dict(qs.values_list("status").annotate(n=Count("id")).order_by())


def get_candidate_for_user(user: User, candidate_id: int | str) -> DuplicateCandidate:
    try:
        return (
            visible_candidates(user)
            .select_related("customer_a", "customer_b", "dealer", "other_dealer", "decided_by")
            .get(pk=int(candidate_id))
        )
    except (DuplicateCandidate.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


# --- the two records side by side --------------------------------------------------------------


@dataclass
class CustomerSide:
    """One customer of the pair as the review page shows it (contact details masked unless
    revealed)."""

    customer: Customer
    phones: list[str]
    id_number: str
    email: str
    vehicles: list[Vehicle]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def address(self) -> str:
        c = self.customer
        return "".join(part for part in (c.province, c.city, c.district, c.street) if part)


def _history_counts(customer_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per customer: leads, orders, repair orders, messages, complaints (one query each)."""
    from dealercrm.feedback.models import Complaint
    from dealercrm.messaging.models import Message
    from dealercrm.sales.models import Lead, Order
    from dealercrm.service.models import RepairOrder

    counts: dict[int, dict[str, int]] = {pk: {} for pk in customer_ids}
    for label, model in (
        ("leads", Lead),
        ("orders", Order),
        ("repair_orders", RepairOrder),
        ("messages", Message),
        ("complaints", Complaint),
    ):
        rows = dict(
            model.objects.filter(customer_id__in=customer_ids)
            .values_list("customer_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        for pk in customer_ids:
            counts[pk][label] = rows.get(pk, 0)
    return counts


def customer_sides(
    candidate: DuplicateCandidate, *, revealed: dict[int, Any] | None = None
) -> tuple[CustomerSide, CustomerSide]:
    """Both customers with their phones, vehicles and history counts, in a fixed number of
    queries. `revealed` maps a customer id to its RevealedContact (full phones and ID number,
    already audit-logged by the caller)."""
    revealed = revealed or {}
    a, b = candidate.customer_a, candidate.customer_b
    ids = [a.pk, b.pk]
    phones: dict[int, list[str]] = {pk: [] for pk in ids}
    for customer_id, number in (
        CustomerPhone.objects.filter(customer_id__in=ids)
        .order_by("-is_primary", "id")
        .values_list("customer_id", "number")
    ):
        phones[customer_id].append(number)
    vehicles: dict[int, list[Vehicle]] = {pk: [] for pk in ids}
    for vehicle in (
        Vehicle.objects.filter(owner_id__in=ids).select_related("car_model").order_by("id")
    ):
        vehicles[vehicle.owner_id].append(vehicle)
    counts = _history_counts(ids)
    sides = []
    for customer in (a, b):
        full = revealed.get(customer.pk)
        sides.append(
            CustomerSide(
                customer=customer,
                phones=list(full.phones) if full else [mask_phone(n) for n in phones[customer.pk]],
                id_number=(full.id_number if full else customer.id_number_masked) or "",
                email=customer.email
                if full
                else mask_email(customer.email)
                if customer.email
                else "",
                vehicles=vehicles[customer.pk],
                counts=counts[customer.pk],
            )
        )
    return sides[0], sides[1]
