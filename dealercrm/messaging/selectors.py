"""Reads of the messaging app.

The first part serves queueing: what a message needs to know of its customers and dealer, read
set-based (a fixed number of queries however many customers), the audience of a campaign, and
the rows already queued under given idempotency keys. Page selectors follow at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.db import connection, models
from django.db.models import Q
from django.db.models.expressions import RawSQL

from dealercrm.core.models import Dealer
from dealercrm.customers.models import Customer, CustomerPhone, CustomerTag
from dealercrm.vehicles.models import VehicleOwnership

from .models import Message, MessagingPolicy


def column_in(model: type[models.Model], field_name: str, values: Sequence[Any]) -> RawSQL:
    """`<table>.<column> IN (…)` as a filter expression, for the long id and key lists of a
    queueing batch (thousands of values).

    The same meaning as `field__in=values`, without the ORM preparing and compiling every value
    one by one, which cost more than the query itself at 5,000 values. On PostgreSQL the list
    is one array parameter (`= ANY(%s)`): psycopg would otherwise parse a statement with 5,000
    placeholders in Python on every call. The model's table must be the query's own table (not
    a joined one), and `values` must not be empty.
    """
    quote = connection.ops.quote_name
    field = cast(models.Field, model._meta.get_field(field_name))
    column = f"{quote(model._meta.db_table)}.{quote(str(field.column))}"
    # Only names from the model and placeholders are in the SQL; the values are parameters.
    if connection.vendor == "postgresql":
        # The array typed as the column: with another element type (psycopg picks int2/int4
        # for small ints) the comparison is cross-type and PostgreSQL tests every row against
        # the whole list instead of hashing it (5 s rather than 50 ms for 90,000 rows).
        array_type = str(field.db_type(connection)).split("(")[0] + "[]"
        return RawSQL(  # noqa: S611
            f"{column} = ANY(%s::{array_type})", [list(values)], output_field=models.BooleanField()
        )
    placeholders = ", ".join(["%s"] * len(values))
    return RawSQL(f"{column} IN ({placeholders})", list(values), output_field=models.BooleanField())  # noqa: S611


@dataclass(frozen=True)
class VehicleFacts:
    """The customer's current car, as messages mention it."""

    model_name: str
    plate: str
    vin: str
    mileage_km: int | None
    insurance_expiry: Any  # datetime.date | None
    warranty_end: Any  # datetime.date | None


@dataclass(frozen=True)
class CustomerFacts:
    """What messaging needs of one customer: how to address them and where to reach them."""

    customer_id: int
    kind: str
    name: str
    latin_name: str
    contact_person: str
    gender: str
    phone: str  # primary phone, E.164; "" when none
    email: str
    wechat_id: str
    postal_address: str  # "" when the street is unknown: a letter cannot go anywhere
    consultant_name: str
    consultant_id: int | None
    vehicle: VehicleFacts | None


@dataclass(frozen=True)
class DealerFacts:
    id: int
    name: str
    phone: str
    address: str
    time_zone: str


def _user_name(
    display_name: str | None, first: str | None, last: str | None, username: str | None
) -> str:
    """As User.__str__: the display name, else the full name, else the user name."""
    if display_name:
        return display_name
    full = f"{first or ''} {last or ''}".strip()
    return full or (username or "")


def postal_address(province: str, city: str, district: str, street: str) -> str:
    """A Chinese postal address, largest unit first; 上海市上海市 (a municipality) written once."""
    if not street.strip():
        return ""
    parts: list[str] = []
    for part in (province, city, district, street):
        part = part.strip()
        if part and part not in parts:
            parts.append(part)
    return "".join(parts)


def dealer_facts(dealer_id: int) -> DealerFacts:
    row = (
        Dealer.objects.filter(pk=dealer_id)
        .values("id", "name", "phone", "province", "city", "address", "time_zone")
        .get()
    )
    address = row["address"]
    if address and not address.startswith(row["province"]):
        address = postal_address(row["province"], row["city"], "", address)
    return DealerFacts(
        id=row["id"],
        name=row["name"],
        phone=row["phone"],
        address=address,
        time_zone=row["time_zone"] or "Asia/Shanghai",
    )


def customer_facts(dealer_id: int, customer_ids: Sequence[int]) -> dict[int, CustomerFacts]:
    """Facts of the given customers of the dealer (deleted ones left out), in three queries:
    customers with their consultant, primary phones, current vehicles."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    customers = list(
        Customer.objects.filter(
            column_in(Customer, "id", ids), dealer_id=dealer_id, is_deleted=False
        ).values_list(
            "id",
            "kind",
            "name",
            "latin_name",
            "contact_person",
            "gender",
            "email",
            "wechat_id",
            "province",
            "city",
            "district",
            "street",
            "assigned_consultant_id",
            "assigned_consultant__display_name",
            "assigned_consultant__first_name",
            "assigned_consultant__last_name",
            "assigned_consultant__username",
        )
    )
    # The primary phone; a customer whose numbers all lack the flag gets the first one added.
    phones: dict[int, str] = {}
    for customer_id, number in (
        CustomerPhone.objects.filter(column_in(CustomerPhone, "customer", ids), dealer_id=dealer_id)
        .order_by("customer_id", "-is_primary", "id")
        .values_list("customer_id", "number")
    ):
        phones.setdefault(customer_id, number)
    # The current car; of several, the one owned most recently.
    vehicles: dict[int, VehicleFacts] = {}
    for (
        customer_id,
        series,
        model,
        manufacturer,
        plate,
        vin,
        km,
        insurance,
        warranty,
    ) in (
        VehicleOwnership.objects.filter(
            column_in(VehicleOwnership, "customer", ids), dealer_id=dealer_id, ended_on__isnull=True
        )
        .order_by("customer_id", "-started_on", "-id")
        .values_list(
            "customer_id",
            "vehicle__car_model__series",
            "vehicle__car_model__name",
            "vehicle__manufacturer",
            "vehicle__plate",
            "vehicle__vin",
            "vehicle__current_mileage_km",
            "vehicle__insurance_expiry",
            "vehicle__warranty_end",
        )
    ):
        if customer_id in vehicles:
            continue
        vehicles[customer_id] = VehicleFacts(
            # A car of another make has no catalogue model: its manufacturer from the VIN.
            model_name=" ".join(part for part in (series, model) if part) or (manufacturer or ""),
            plate=plate or "",
            vin=vin or "",
            mileage_km=km,
            insurance_expiry=insurance,
            warranty_end=warranty,
        )
    facts: dict[int, CustomerFacts] = {}
    for (
        cid,
        kind,
        name,
        latin_name,
        contact_person,
        gender,
        email,
        wechat_id,
        province,
        city,
        district,
        street,
        consultant_id,
        c_display,
        c_first,
        c_last,
        c_username,
    ) in customers:
        facts[cid] = CustomerFacts(
            customer_id=cid,
            kind=kind,
            name=name,
            latin_name=latin_name,
            contact_person=contact_person,
            gender=gender,
            phone=phones.get(cid, ""),
            email=email,
            wechat_id=wechat_id,
            postal_address=postal_address(province, city, district, street),
            consultant_name=_user_name(c_display, c_first, c_last, c_username)
            if consultant_id
            else "",
            consultant_id=consultant_id,
            vehicle=vehicles.get(cid),
        )
    return facts


def address_for(facts: CustomerFacts, channel: str) -> str:
    """Where a message of `channel` goes for this customer ("" when there is nowhere)."""
    if channel in ("sms", "phone"):
        return facts.phone
    if channel == "email":
        return facts.email
    if channel == "wechat":
        return facts.wechat_id
    if channel == "mail":
        return facts.postal_address
    return ""


AUDIENCE_KEYS = ("tags", "lifecycle_stages", "customer_ids")
LISTED_IDS_IN_SQL = 5000


def audience_customer_ids(dealer_id: int, audience: Mapping[str, Any]) -> list[int]:
    """The dealer's (not deleted) customers an audience describes, in id order, in one query.

    Each given criterion must hold (a tag of the list AND a stage of the list AND one of the
    listed ids); within a list any value will do. Tags are given by id or by name. An audience
    with no criterion is nobody: a campaign to everyone is asked for by naming every stage.
    """
    tags = list(audience.get("tags") or [])
    stages = list(audience.get("lifecycle_stages") or [])
    listed = list(audience.get("customer_ids") or [])
    if not (tags or stages or listed):
        return []
    qs = Customer.objects.filter(dealer_id=dealer_id, is_deleted=False)
    if tags:
        tag_ids = [int(t) for t in tags if isinstance(t, int) or str(t).isdigit()]
        tag_names = [str(t) for t in tags if not (isinstance(t, int) or str(t).isdigit())]
        tagged = CustomerTag.objects.filter(dealer_id=dealer_id).filter(
            Q(tag_id__in=tag_ids) | Q(tag__name__in=tag_names)
        )
        qs = qs.filter(pk__in=tagged.values("customer_id"))
    if stages:
        qs = qs.filter(lifecycle_stage__in=stages)
    wanted = sorted({int(i) for i in listed})
    if wanted and len(wanted) <= LISTED_IDS_IN_SQL:
        qs = qs.filter(column_in(Customer, "id", wanted))
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    if len(wanted) > LISTED_IDS_IN_SQL:
        # A list longer than a statement's parameters may be (SQLite: 32,766): intersect here.
        keep = set(wanted)
        ids = [pk for pk in ids if pk in keep]
    return ids


def messages_by_key(dealer_id: int, keys: Iterable[str]) -> dict[str, tuple[int, str]]:
    """{idempotency key: (message id, status)} of the rows already written under these keys."""
    wanted = list(keys)
    if not wanted:
        return {}
    return {
        key: (pk, status)
        for pk, key, status in Message.objects.filter(
            column_in(Message, "idempotency_key", wanted), dealer_id=dealer_id
        )
        # Repeats the partial unique index's condition, so SQLite reads that index.
        .exclude(idempotency_key="")
        .values_list("pk", "idempotency_key", "status")
    }


def policy_of(dealer_id: int) -> MessagingPolicy | None:
    return MessagingPolicy.objects.filter(dealer_id=dealer_id).first()


# --- page selectors (list and detail pages) below -------------------------------------------


# --- pages (helper h4): outbox, message detail, templates, campaigns, direct mail -------------
# Every page read starts from what the user may see: the dealers of their role (as the customers
# app's `visible_customers`), and for a user who sees only their own customers (a sales
# consultant), only the messages of those customers.

import datetime as _dt  # noqa: E402

from django.core.paginator import Page, Paginator  # noqa: E402
from django.db.models import Count, QuerySet  # noqa: E402
from django.http import Http404  # noqa: E402
from django.utils import timezone as _tz  # noqa: E402

from dealercrm.core.models import User  # noqa: E402
from dealercrm.core.permissions import Perm, Role  # noqa: E402

from .models import (  # noqa: E402
    Campaign,
    Channel,
    MessageQuerySet,
    MessageStatus,
    MessageTemplate,
    ProviderConfig,
    Purpose,
)

OUTBOX_PAGE_SIZE = 50
CAMPAIGN_PAGE_SIZE = 25


def _dealer_filter(user: User) -> Q | None:
    """The dealers the user's role reaches, as a filter on dealer_id (None: no dealer at all).

    Within the active scope, like visible_customers: a selector stays safe even where a wider
    scope is active (a job, a test)."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.role == Role.SYSTEM_ADMIN:
        return Q()
    if user.has_perm(Perm.VIEW_NETWORK) and user.brand_id:
        return Q(dealer__brand_id=user.brand_id)
    if user.dealer_id:
        return Q(dealer_id=user.dealer_id)
    return None


def visible_messages(user: User) -> MessageQuerySet:
    """Messages (both directions) this user may see.

    Without the right to see all the dealer's customers, only those of the customers assigned to
    the user; with it, also the replies no customer could be matched to. Messages of deleted
    customers are hidden, as the customers are."""
    qs: MessageQuerySet = Message.objects.all()
    dealers = _dealer_filter(user)
    if dealers is None:
        return qs.none()
    qs = qs.filter(dealers)
    if user.has_perm(Perm.VIEW_ALL_DEALER_CUSTOMERS):
        return qs.filter(Q(customer__isnull=True) | Q(customer__is_deleted=False))
    return qs.filter(customer__assigned_consultant_id=user.pk, customer__is_deleted=False)


def get_message_for_user(user: User, message_id: int | str) -> Message:
    """The message with what its page shows, or Http404 alike for missing and not visible."""
    try:
        return (
            visible_messages(user)
            .select_related("customer", "template", "campaign", "created_by", "in_reply_to")
            .get(pk=int(message_id))
        )
    except (Message.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def _parse_date(value: Any) -> _dt.date | None:
    try:
        return _dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _day_start(day: _dt.date) -> _dt.datetime:
    return _tz.make_aware(_dt.datetime.combine(day, _dt.time.min))


@dataclass(frozen=True)
class MessageFilters:
    """What the outbox can be narrowed by. Empty values mean "any"."""

    status: str = ""
    channel: str = ""
    purpose: str = ""
    direction: str = ""
    campaign_id: int | None = None
    date_from: _dt.date | None = None
    date_to: _dt.date | None = None
    mine: bool = False

    @classmethod
    def from_params(cls, params: Any) -> MessageFilters:
        """From query parameters; unknown or malformed values are ignored, not errors."""

        def pick(name: str, allowed: Iterable[str]) -> str:
            value = params.get(name) or ""
            return value if value in allowed else ""

        try:
            campaign_id = int(params.get("campaign") or 0) or None
        except (TypeError, ValueError):
            campaign_id = None
        return cls(
            status=pick("status", MessageStatus.values),
            channel=pick("channel", Channel.values),
            purpose=pick("purpose", Purpose.values),
            direction=pick("direction", Message.Direction.values),
            campaign_id=campaign_id,
            date_from=_parse_date(params.get("date_from")),
            date_to=_parse_date(params.get("date_to")),
            mine=params.get("mine") in ("1", "on", "true"),
        )

    @property
    def is_empty(self) -> bool:
        return self == MessageFilters()


def message_list_queryset(user: User, filters: MessageFilters | None = None) -> MessageQuerySet:
    filters = filters or MessageFilters()
    qs = visible_messages(user)
    for name in ("status", "channel", "purpose", "direction"):
        if getattr(filters, name):
            qs = qs.filter(**{name: getattr(filters, name)})
    if filters.campaign_id:
        qs = qs.filter(campaign_id=filters.campaign_id)
    # Ranges on the column itself (not its date), so the (dealer, status, created_at) index works.
    if filters.date_from:
        qs = qs.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        qs = qs.filter(created_at__lt=_day_start(filters.date_to + _dt.timedelta(days=1)))
    if filters.mine:
        qs = qs.filter(created_by_id=user.pk)
    return qs.select_related("customer", "created_by", "campaign").order_by("-created_at", "-id")


def message_list(
    user: User,
    filters: MessageFilters | None = None,
    *,
    page: int | str = 1,
    per_page: int = OUTBOX_PAGE_SIZE,
) -> Page:
    """One page of the outbox: a count and the rows with customer, sender and campaign."""
    return Paginator(message_list_queryset(user, filters), per_page).get_page(page)


def unmatched_replies(user: User, *, page: int | str = 1) -> Page:
    """Inbound messages no customer could be matched to, newest first."""
    dealers = _dealer_filter(user)
    qs = Message.objects.none() if dealers is None else Message.objects.filter(dealers)
    qs = qs.filter(
        direction=Message.Direction.INBOUND, status=MessageStatus.RECEIVED, customer__isnull=True
    )
    return Paginator(
        qs.select_related("dealer").order_by("-created_at", "-id"), OUTBOX_PAGE_SIZE
    ).get_page(page)


def campaign_choices(user: User, *, limit: int = 100) -> list[Campaign]:
    """Recent campaigns of the user's dealers, for the outbox's filter."""
    dealers = _dealer_filter(user)
    if dealers is None:
        return []
    return list(
        Campaign.objects.filter(dealers).order_by("-created_at", "-id").only("id", "name")[:limit]
    )


# --- templates --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateFilters:
    purpose: str = ""
    channel: str = ""
    language: str = ""
    kind: str = ""  # "service" or "marketing"

    @classmethod
    def from_params(cls, params: Any) -> TemplateFilters:
        from .models import Language

        def pick(name: str, allowed: Iterable[str]) -> str:
            value = params.get(name) or ""
            return value if value in allowed else ""

        return cls(
            purpose=pick("purpose", Purpose.values),
            channel=pick("channel", Channel.values),
            language=pick("language", Language.values),
            kind=pick("kind", ("service", "marketing")),
        )

    @property
    def is_empty(self) -> bool:
        return self == TemplateFilters()


def visible_templates(user: User) -> QuerySet[MessageTemplate]:
    dealers = _dealer_filter(user)
    if dealers is None:
        return MessageTemplate.objects.none()
    return MessageTemplate.objects.filter(dealers)


def template_list(user: User, filters: TemplateFilters | None = None) -> list[MessageTemplate]:
    """The templates of the user's dealers, by purpose, channel and language. One query."""
    from .models import SERVICE_PURPOSES

    filters = filters or TemplateFilters()
    qs = visible_templates(user)
    if filters.purpose:
        qs = qs.filter(purpose=filters.purpose)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.language:
        qs = qs.filter(language=filters.language)
    if filters.kind == "service":
        qs = qs.filter(purpose__in=sorted(SERVICE_PURPOSES))
    elif filters.kind == "marketing":
        qs = qs.exclude(purpose__in=sorted(SERVICE_PURPOSES))
    return list(
        qs.select_related("dealer").order_by("purpose", "channel", "language", "name", "id")[:1000]
    )


def get_template_for_user(user: User, template_id: int | str) -> MessageTemplate:
    try:
        return visible_templates(user).select_related("dealer").get(pk=int(template_id))
    except (MessageTemplate.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def dealer_templates(dealer_id: int, *, active_only: bool = True) -> list[MessageTemplate]:
    qs = MessageTemplate.objects.filter(dealer_id=dealer_id)
    if active_only:
        qs = qs.filter(is_active=True)
    return list(qs.order_by("purpose", "channel", "language", "name", "id"))


def dealer_tag_names(dealer_id: int) -> list[str]:
    from dealercrm.customers.models import Tag

    return list(
        Tag.objects.filter(dealer_id=dealer_id).order_by("name").values_list("name", flat=True)
    )


# --- campaigns ----------------------------------------------------------------------------------


def visible_campaigns(user: User) -> QuerySet[Campaign]:
    dealers = _dealer_filter(user)
    if dealers is None:
        return Campaign.objects.none()
    return Campaign.objects.filter(dealers)


def campaign_list(user: User, *, page: int | str = 1) -> Page:
    qs = (
        visible_campaigns(user)
        .select_related("template", "created_by")
        .order_by("-created_at", "-id")
    )
    return Paginator(qs, CAMPAIGN_PAGE_SIZE).get_page(page)


def get_campaign_for_user(user: User, campaign_id: int | str) -> Campaign:
    try:
        return (
            visible_campaigns(user)
            .select_related("template", "created_by", "dealer")
            .get(pk=int(campaign_id))
        )
    except (Campaign.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


def campaign_status_counts(campaign: Campaign) -> dict[str, int]:
    """{status: messages} of a campaign's messages now (they move on after queueing). One query."""
    rows = (
        Message.objects.filter(dealer_id=campaign.dealer_id, campaign_id=campaign.pk)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["status"]: row["n"] for row in rows}


# --- direct mail --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailGroup:
    """Queued direct mail of one campaign (campaign_id None: sent one by one, no campaign)."""

    campaign_id: int | None
    campaign_name: str
    count: int


def mail_groups(dealer_id: int) -> list[MailGroup]:
    """The dealer's queued direct mail, counted by campaign. One query."""
    rows = (
        Message.objects.filter(
            dealer_id=dealer_id,
            channel=Channel.MAIL,
            direction=Message.Direction.OUTBOUND,
            status=MessageStatus.QUEUED,
        )
        .values_list("campaign_id", "campaign__name")
        .annotate(n=Count("id"))
        .order_by("campaign_id")
    )
    return [MailGroup(campaign_id=cid, campaign_name=name or "", count=n) for cid, name, n in rows]


def campaign_of_dealer(user: User, campaign_id: int, *, dealer_id: int) -> bool:
    return visible_campaigns(user).filter(pk=campaign_id, dealer_id=dealer_id).exists()


# --- settings -----------------------------------------------------------------------------------


def provider_configs(dealer_id: int) -> dict[str, ProviderConfig]:
    """{channel: the dealer's provider configuration}; a channel without one uses the default."""
    return {c.channel: c for c in ProviderConfig.objects.filter(dealer_id=dealer_id)}
