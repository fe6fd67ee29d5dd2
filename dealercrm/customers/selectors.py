"""Reads of customers: by id for a user (404 otherwise), the filtered list, the 360 page's data,
and the interactions' part of the timeline.

Every read starts from `visible_customers(user)`: the active dealer scope, narrowed again to what
the user may reach (their dealer, their brand's dealers, or only the customers assigned to them
for a sales consultant), so a selector stays safe even where a wider scope is active.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.permissions import DEALER_ROLES, Perm, Role
from dealercrm.core.prepared import PreparedQuery
from dealercrm.vehicles.models import Vehicle

from .lunar_birthdays import lunar_birthday_in_chinese, next_lunar_birthday
from .models import (
    CallOutcome,
    Consent,
    ConsentChannel,
    Customer,
    CustomerPhone,
    CustomerQuerySet,
    CustomerTag,
    Interaction,
    LifecycleStage,
    SourceChannel,
    Tag,
)
from .timeline import ProviderQuery, TimelineEntry, customer_timeline

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
# The first screen of the timeline; "show older" loads the next page (HTMX).
TIMELINE_PAGE = 20


def with_customer_phone(qs: QuerySet) -> QuerySet:
    """Annotate `customer_phone`, the primary phone of each row's customer (rows with
    `dealer_id` and `customer_id`: test drives, appointments …), as one subquery, not a query
    per row."""
    phones = CustomerPhone.objects.filter(
        dealer_id=OuterRef("dealer_id"), customer_id=OuterRef("customer_id")
    ).order_by("-is_primary", "id")
    return qs.annotate(customer_phone=Subquery(phones.values("number")[:1]))


def visible_customers(user: User) -> CustomerQuerySet:
    """The customers (not deleted) this user may see, within the active dealer scope."""
    qs: CustomerQuerySet = Customer.objects.active()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.role == Role.SYSTEM_ADMIN:
        pass
    elif user.has_perm(Perm.VIEW_NETWORK) and user.brand_id:
        qs = qs.filter(dealer__brand_id=user.brand_id)
    elif user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    else:
        return qs.none()
    return qs.visible_to(user)


def get_customer_for_user(user: User, customer_id: int | str) -> Customer:
    """The customer, or Http404 alike for missing, deleted, another dealer's or not visible."""
    try:
        pk = int(customer_id)
    except (TypeError, ValueError) as exc:
        raise Http404 from exc
    if _of_one_dealer(user):
        # Every page of a customer starts here: a dealer's staff take the prepared way, the
        # same filters as visible_customers() (and the scope checked by the prepared query).
        kwargs = {"dealer_id": user.dealer_id, "customer_id": pk}
        if not user.has_perm(Perm.VIEW_ALL_DEALER_CUSTOMERS):
            kwargs["consultant_id"] = user.pk
        try:
            found = _DEALERS_CUSTOMER(**kwargs)
        except PermissionDenied as exc:
            raise Http404 from exc
        if not found:
            raise Http404
        return found[0]
    try:
        return visible_customers(user).select_related("assigned_consultant", "dealer").get(pk=pk)
    except Customer.DoesNotExist as exc:
        raise Http404 from exc


def _of_one_dealer(user: User) -> bool:
    """visible_customers() limits this user to their own dealer's customers."""
    return (
        user.is_authenticated
        and user.is_active
        and user.role != Role.SYSTEM_ADMIN
        and not (user.has_perm(Perm.VIEW_NETWORK) and user.brand_id)
        and bool(user.dealer_id)
    )


def _dealers_customer(
    dealer_id: int, customer_id: int, consultant_id: int | None = None
) -> QuerySet:
    rows = Customer.objects.active().filter(dealer_id=dealer_id, pk=customer_id)
    if consultant_id is not None:
        rows = rows.filter(assigned_consultant_id=consultant_id)
    return rows.select_related("assigned_consultant", "dealer")


_DEALERS_CUSTOMER = PreparedQuery(
    _dealers_customer, params={"dealer_id": int, "customer_id": int, "consultant_id": int}
)


# --- the list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerFilters:
    """What the customer list can be narrowed by. Empty values mean "any"."""

    stage: str = ""
    consultant_id: int | None = None
    tag: str = ""  # a tag name (the same name at every dealer an OEM user sees)
    source: str = ""

    @classmethod
    def from_params(cls, params) -> CustomerFilters:  # noqa: ANN001 — a QueryDict or a dict
        """From query parameters; unknown or malformed values are ignored, not errors."""
        stage = params.get("stage") or ""
        source = params.get("source") or ""
        try:
            consultant_id = int(params.get("consultant") or 0) or None
        except (TypeError, ValueError):
            consultant_id = None
        return cls(
            stage=stage if stage in LifecycleStage.values else "",
            consultant_id=consultant_id,
            tag=(params.get("tag") or "").strip()[:40],
            source=source if source in SourceChannel.values else "",
        )

    @property
    def is_empty(self) -> bool:
        return not (self.stage or self.consultant_id or self.tag or self.source)


def _primary_first_phones() -> Prefetch:
    return Prefetch("phones", queryset=CustomerPhone.objects.order_by("-is_primary", "id"))


def customer_list_queryset(user: User, filters: CustomerFilters | None = None) -> CustomerQuerySet:
    """The user's customers, filtered, newest change first, with what a list row shows."""
    filters = filters or CustomerFilters()
    qs = visible_customers(user)
    if filters.stage:
        qs = qs.filter(lifecycle_stage=filters.stage)
    if filters.consultant_id:
        qs = qs.filter(assigned_consultant_id=filters.consultant_id)
    if filters.source:
        qs = qs.filter(source_channel=filters.source)
    if filters.tag:
        qs = qs.filter(
            pk__in=CustomerTag.objects.filter(tag__name=filters.tag).values("customer_id")
        )
    return (
        qs.select_related("assigned_consultant")
        .prefetch_related(_primary_first_phones(), Prefetch("tags", queryset=Tag.objects.all()))
        .order_by("-updated_at", "-id")
    )


def customer_list(
    user: User,
    filters: CustomerFilters | None = None,
    *,
    page: int | str = 1,
    per_page: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """One page of the list: a count, the rows, their phones and tags — four queries."""
    per_page = max(1, min(per_page, MAX_PAGE_SIZE))
    return Paginator(customer_list_queryset(user, filters), per_page).get_page(page)


def consultant_choices(user: User, *, dealer_id: int | None = None) -> list[User]:
    """Staff a customer of the user's dealer can be assigned to."""
    dealer_id = dealer_id or user.dealer_id
    if not dealer_id:
        return []
    return list(
        User.objects.filter(
            dealer_id=dealer_id,
            is_active=True,
            role__in=[r.value for r in DEALER_ROLES if r != Role.DEALER_ADMIN],
        ).order_by("role", "display_name", "username")
    )


def tag_names(user: User) -> list[str]:
    """Tag names in use at the dealers the user sees, for the list's filter."""
    qs = Tag.objects.all()
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    return list(qs.order_by("name").values_list("name", flat=True).distinct()[:200])


# --- the timeline's interactions ----------------------------------------------------------------

_INTERACTION_ICONS: dict[str, str] = {
    Interaction.Kind.NOTE: "note",
    Interaction.Kind.CALL: "phone-call",
    Interaction.Kind.VISIT: "building-store",
    Interaction.Kind.SMS: "message",
    Interaction.Kind.EMAIL: "mail",
    Interaction.Kind.WECHAT: "brand-wechat",
}


def format_duration(seconds: int) -> str:
    minutes, seconds = divmod(seconds, 60)
    if minutes and seconds:
        return _("%(minutes)d min %(seconds)d s") % {"minutes": minutes, "seconds": seconds}
    if minutes:
        return _("%(minutes)d min") % {"minutes": minutes}
    return _("%(seconds)d s") % {"seconds": seconds}


def interaction_entry(interaction: Interaction) -> TimelineEntry:
    """The timeline entry of one interaction (author selected with it)."""
    parts = [interaction.get_kind_display()]
    if interaction.kind == Interaction.Kind.CALL:
        if interaction.direction == Interaction.Direction.INBOUND:
            parts.append(_("inbound"))
        if interaction.outcome in CallOutcome.values:
            parts.append(str(CallOutcome(interaction.outcome).label))
        elif interaction.outcome:
            parts.append(interaction.outcome)
        if interaction.duration_seconds:
            parts.append(format_duration(interaction.duration_seconds))
    if interaction.subject:
        parts.append(interaction.subject)
    return TimelineEntry(
        occurred_at=interaction.occurred_at,
        kind=interaction.kind,
        icon=_INTERACTION_ICONS.get(interaction.kind, "point"),
        title=" · ".join(parts),
        body=interaction.body,
        actor=str(interaction.author) if interaction.author_id else "",
        url="",
        source="customers",
    )


def _interactions(dealer_id: int, customer_id: int, before: datetime.datetime | None) -> QuerySet:
    rows = (
        Interaction.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
        .select_related("author")
        .order_by("-occurred_at", "-id")
    )
    return rows if before is None else rows.filter(occurred_at__lt=before)


_INTERACTIONS = ProviderQuery(_interactions)


def interaction_timeline(
    customer: Customer, *, limit: int, before: datetime.datetime | None = None
) -> list[TimelineEntry]:
    """Timeline provider of the customers app: notes, calls, visits, messages. One query."""
    return [
        interaction_entry(interaction)
        for interaction in _INTERACTIONS(customer, limit=limit, before=before)
    ]


# --- the 360 page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentRow:
    channel: str
    label: str
    granted: bool | None  # None: never asked
    changed_at: datetime.datetime | None
    source: str


@dataclass
class Customer360:
    """Everything the customer 360 page shows, read in a fixed number of queries."""

    customer: Customer
    phones: list[CustomerPhone]
    vehicles: list[Vehicle]
    tags: list[Tag]
    consents: list[ConsentRow]
    timeline: list[TimelineEntry]
    timeline_has_more: bool
    age: int | None = None
    lunar_birthday: str = ""
    next_lunar_birthday: datetime.date | None = None
    children_ages: list[int] = field(default_factory=list)

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags]


def years_between(born: datetime.date, today: datetime.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


# The 360 page's own queries, prepared (compiled once; see dealercrm.core.prepared): the ORM's
# building of each cost more than the database's answer.
_OF_A_CUSTOMER = {"dealer_id": int, "customer_id": int}
_CONSENTS = PreparedQuery(
    lambda dealer_id, customer_id: Consent.objects.filter(
        dealer_id=dealer_id, customer_id=customer_id
    ),
    params=_OF_A_CUSTOMER,
)
_TAGS = PreparedQuery(
    lambda dealer_id, customer_id: (
        CustomerTag.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
        .select_related("tag")
        .order_by("tag__name")
    ),
    params=_OF_A_CUSTOMER,
)
_PHONES = PreparedQuery(
    lambda dealer_id, customer_id: CustomerPhone.objects.filter(
        dealer_id=dealer_id, customer_id=customer_id
    ).order_by("-is_primary", "id"),
    params=_OF_A_CUSTOMER,
)
_VEHICLES = PreparedQuery(
    lambda dealer_id, customer_id: (
        Vehicle.objects.filter(dealer_id=dealer_id, owner_id=customer_id)
        .select_related("car_model")
        .order_by("-purchase_date", "-id")
    ),
    params=_OF_A_CUSTOMER,
)


def customer_consents(customer: Customer) -> list[ConsentRow]:
    """One row per channel, in the channels' order, "never asked" where nothing is recorded."""
    recorded = {
        consent.channel: consent
        for consent in _CONSENTS(dealer_id=customer.dealer_id, customer_id=customer.pk)
    }
    rows = []
    for channel in ConsentChannel:
        consent = recorded.get(channel.value)
        rows.append(
            ConsentRow(
                channel=channel.value,
                label=str(channel.label),
                granted=consent.granted if consent else None,
                changed_at=consent.changed_at if consent else None,
                source=consent.source if consent else "",
            )
        )
    return rows


def customer_tags(customer: Customer) -> list[Tag]:
    return [link.tag for link in _TAGS(dealer_id=customer.dealer_id, customer_id=customer.pk)]


def customer_phones(customer: Customer) -> list[CustomerPhone]:
    return _PHONES(dealer_id=customer.dealer_id, customer_id=customer.pk)


def customer_360(
    user: User,
    customer_id: int | str,
    *,
    timeline_limit: int = TIMELINE_PAGE,
    today: datetime.date | None = None,
) -> Customer360:
    """The 360 page's data: 5 queries plus the timeline's (at most one per provider, and one
    more), whatever the history."""
    customer = get_customer_for_user(user, customer_id)
    today = today or timezone.localdate()
    vehicles = _VEHICLES(dealer_id=customer.dealer_id, customer_id=customer.pk)
    # timeline_limit=0: the parts of the page that do not show the timeline skip its queries.
    timeline = customer_timeline(customer, limit=timeline_limit + 1) if timeline_limit else []
    data = Customer360(
        customer=customer,
        phones=customer_phones(customer),
        vehicles=vehicles,
        tags=customer_tags(customer),
        consents=customer_consents(customer),
        timeline=timeline[:timeline_limit],
        timeline_has_more=len(timeline) > timeline_limit,
        children_ages=sorted(
            (max(today.year - year, 0) for year in customer.children_birth_years or []),
            reverse=True,
        ),
    )
    if customer.birthday:
        data.age = years_between(customer.birthday, today)
    if customer.lunar_birthday_month and customer.lunar_birthday_day:
        data.lunar_birthday = lunar_birthday_in_chinese(
            customer.lunar_birthday_month,
            customer.lunar_birthday_day,
            leap=customer.lunar_birthday_leap,
        )
        data.next_lunar_birthday = next_lunar_birthday(
            customer.lunar_birthday_month,
            customer.lunar_birthday_day,
            leap=customer.lunar_birthday_leap,
            today=today,
        )
    return data
