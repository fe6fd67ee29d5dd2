"""Reads: orders — the list with its filters, one order, the customer's tracking page, the
delay-notice rate per dealer (the documents' 47.1%), and the orders on the 360 timeline."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.timeline import ProviderQuery, TimelineEntry

from ..models import Order, OrderMilestone, OrderStage
from ..models.orders import ORDER_STAGE_SEQUENCE, OrderQuerySet

# The documents' survey: of the customers whose delivery was late, 47.1% were told in advance.
DOCUMENTS_DELAY_NOTICE_RATE = Decimal("0.471")
ORDER_PAGE_SIZE = 50


def visible_orders(user: User) -> OrderQuerySet:
    """The scope's orders this user may see: all of them with VIEW_ALL_LEADS, else only the
    orders of the user's own leads (a consultant)."""
    qs: OrderQuerySet = Order.objects.all()
    if not user.is_authenticated or not user.has_perm(Perm.VIEW_LEADS):
        return qs.none()
    if user.has_perm(Perm.VIEW_ALL_LEADS):
        return qs
    return qs.filter(lead__consultant_id=user.pk)


def get_order_for_user(user: User, order_id: int | str) -> Order:
    """The order with what its page shows, or Http404 alike for missing and another dealer's."""
    try:
        return (
            visible_orders(user)
            .select_related(
                "dealer", "customer", "car_model", "lead", "lead__consultant", "vehicle", "quote"
            )
            .get(pk=int(order_id))
        )
    except (Order.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


@dataclass(frozen=True)
class MilestoneRow:
    """One stage of the way, as the pages show it."""

    stage: str
    label: str
    expected_on: datetime.date | None
    reached_on: datetime.date | None
    done: bool  # reached, or passed by a later stage
    current: bool
    late: bool  # expected date passed and not reached

    @property
    def slip_days(self) -> int | None:
        """Reached how many days after it was expected (negative: early)."""
        if self.expected_on and self.reached_on:
            return (self.reached_on - self.expected_on).days
        return None


def order_milestones(order: Order, *, today: datetime.date | None = None) -> list[MilestoneRow]:
    """Every stage of ORDER_STAGE_SEQUENCE in order, with its dates (one query)."""
    today = today or timezone.localdate()
    by_stage = {
        m.stage: m
        for m in OrderMilestone.objects.filter(dealer_id=order.dealer_id, order_id=order.pk)
    }
    stages = [s.value for s in ORDER_STAGE_SEQUENCE]
    current_index = stages.index(order.stage) if order.stage in stages else -1
    rows = []
    for index, stage in enumerate(ORDER_STAGE_SEQUENCE):
        milestone = by_stage.get(stage.value)
        expected = milestone.expected_on if milestone else None
        reached = milestone.reached_on if milestone else None
        if stage == OrderStage.DELIVERED and expected is None:
            expected = order.expected_delivery_on
        done = reached is not None or index <= current_index
        rows.append(
            MilestoneRow(
                stage=stage.value,
                label=str(stage.label),
                expected_on=expected,
                reached_on=reached,
                done=done,
                current=index == current_index,
                late=not done and expected is not None and expected < today,
            )
        )
    return rows


@dataclass(frozen=True)
class OrderFilters:
    """What the order list can be narrowed by. Empty values mean "any"."""

    stage: str = ""
    delayed: bool = False
    not_told: bool = False
    open_only: bool = False
    q: str = ""

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> OrderFilters:
        stage = params.get("stage", "")
        return cls(
            stage=stage if stage in OrderStage.values else "",
            delayed=params.get("delayed") in ("1", "true", "on"),
            not_told=params.get("not_told") in ("1", "true", "on"),
            open_only=params.get("open") in ("1", "true", "on"),
            q=(params.get("q") or "").strip()[:40],
        )


def order_list(user: User, filters: OrderFilters) -> OrderQuerySet:
    """The orders the user may see, filtered, newest first, with what the list shows."""
    qs = visible_orders(user)
    if filters.stage:
        qs = qs.filter(stage=filters.stage)
    if filters.open_only:
        qs = qs.open()
    if filters.delayed:
        qs = qs.delayed()
    if filters.not_told:
        qs = qs.delayed().filter(customer_told_at__isnull=True)
    if filters.q:
        qs = qs.filter(Q(number__icontains=filters.q) | Q(customer__name__icontains=filters.q))
    return qs.select_related("customer", "car_model", "lead__consultant", "dealer").order_by(
        "-ordered_on", "-id"
    )


# --- the delay-notice rate --------------------------------------------------------------------


@dataclass(frozen=True)
class DelayNoticeRate:
    """One dealer's delayed orders and how many of their customers were told in time.

    `decided` counts the delayed orders whose outcome is known: the customer was told, or the
    promised date passed. `rate` = told_in_time / decided (None without decided orders).
    """

    dealer_id: int
    delayed: int
    decided: int
    told: int
    told_in_time: int
    pending: int  # not told yet, promised date still ahead: can still be told in time

    @property
    def rate(self) -> Decimal | None:
        if not self.decided:
            return None
        return (Decimal(self.told_in_time) / Decimal(self.decided)).quantize(
            Decimal("0.001"), rounding=ROUND_HALF_UP
        )

    @property
    def percent(self) -> Decimal | None:
        rate = self.rate
        return None if rate is None else (rate * 100).quantize(Decimal("0.1"))


def delay_notice_rate(
    dealer_ids: Iterable[int] | None,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    *,
    today: datetime.date | None = None,
) -> dict[int, DelayNoticeRate]:
    """Per dealer: delayed orders (promised delivery date within [since, until]), how many of
    their customers were told before the promised date, and the rate. One query (grouped by
    dealer). `dealer_ids` None: every dealer of the active scope. Cancelled orders, and orders
    delivered by the promised date after all without a word, do not count."""
    today = today or timezone.localdate()
    # A forecast that slipped but a car handed over by the promised date after all is no late
    # delivery for the customer: unless they were told anyway, it is not counted.
    qs = (
        Order.objects.delayed()
        .exclude(stage=OrderStage.CANCELLED)
        .exclude(
            delivered_on__isnull=False,
            delivered_on__lte=F("promised_delivery_on"),
            customer_told_at__isnull=True,
        )
    )
    if dealer_ids is not None:
        qs = qs.filter(dealer_id__in=list(dealer_ids))
    if since is not None:
        qs = qs.filter(promised_delivery_on__gte=since)
    if until is not None:
        qs = qs.filter(promised_delivery_on__lte=until)
    told = Q(customer_told_at__isnull=False)
    decided = told | Q(promised_delivery_on__lt=today) | Q(told_in_time__isnull=False)
    rows = (
        qs.order_by()
        .values("dealer_id")
        .annotate(
            delayed=Count("id"),
            decided=Count("id", filter=decided),
            told=Count("id", filter=told),
            told_in_time=Count("id", filter=Q(told_in_time=True)),
        )
    )
    return {
        row["dealer_id"]: DelayNoticeRate(
            dealer_id=row["dealer_id"],
            delayed=row["delayed"],
            decided=row["decided"],
            told=row["told"],
            told_in_time=row["told_in_time"],
            pending=row["delayed"] - row["decided"],
        )
        for row in rows
    }


def delay_notice_total(rates: Iterable[DelayNoticeRate]) -> DelayNoticeRate:
    """The rates of several dealers added up (dealer_id 0)."""
    rates = list(rates)
    return DelayNoticeRate(
        dealer_id=0,
        delayed=sum(r.delayed for r in rates),
        decided=sum(r.decided for r in rates),
        told=sum(r.told for r in rates),
        told_in_time=sum(r.told_in_time for r in rates),
        pending=sum(r.pending for r in rates),
    )


# --- the customer's tracking page -------------------------------------------------------------


def order_for_tracking(tracking_token: str) -> Order:
    """The order of an unguessable tracking link, with only what the public page shows; Http404
    for anything else. The link is the proof: the lookup crosses dealers by the token alone."""
    token = (tracking_token or "").strip()
    if not (32 <= len(token) <= 64):
        raise Http404
    with dealer_scope(None):
        order = (
            Order.objects.unscoped()
            .select_related("dealer", "car_model", "lead__consultant")
            .filter(tracking_token=token)
            .exclude(stage=OrderStage.CANCELLED)
            .first()
        )
    if order is None:
        raise Http404
    return order


# --- the customer 360 timeline ----------------------------------------------------------------


def _orders(dealer_id: int, customer_id: int, before: datetime.datetime | None) -> QuerySet:
    qs = Order.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    return qs.order_by("-created_at", "-id").values(
        "id",
        "number",
        "stage",
        "created_at",
        "ordered_on",
        "delivered_on",
        "promised_delivery_on",
        "expected_delivery_on",
        "car_model__series",
        "car_model__name",
        "colour",
        "created_by__display_name",
        "created_by__username",
    )


_ORDERS = ProviderQuery(_orders)


def order_timeline(
    customer,  # noqa: ANN001 — a customers.Customer
    *,
    limit: int,
    before: datetime.datetime | None,
) -> list[TimelineEntry]:
    """Timeline provider: the customer's orders (placed, or delivered), one query."""
    entries = []
    for row in _ORDERS(customer, limit=limit, before=before):
        stage = OrderStage(row["stage"])
        if stage == OrderStage.DELIVERED and row["delivered_on"]:
            body = _("Delivered on %(date)s.") % {"date": row["delivered_on"].isoformat()}
        else:
            body = _("Promised for %(promised)s, expected %(expected)s.") % {
                "promised": row["promised_delivery_on"].isoformat(),
                "expected": row["expected_delivery_on"].isoformat(),
            }
        model = " ".join(
            p for p in (row["car_model__series"], row["car_model__name"], row["colour"]) if p
        )
        entries.append(
            TimelineEntry(
                occurred_at=row["created_at"],
                kind="sales_order",
                icon="file-invoice",
                title=_("Order %(number)s · %(model)s · %(stage)s")
                % {"number": row["number"], "model": model, "stage": stage.label},
                body=body,
                actor=row["created_by__display_name"] or row["created_by__username"] or "",
                url=reverse("sales:order", args=[row["id"]]),
                source="sales",
            )
        )
    return entries
