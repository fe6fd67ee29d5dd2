"""What each role sees first: the workspace at "/". Reads only, all set-based.

Core must not import the domain apps (the import-linter contract in pyproject.toml), yet the
workspace shows their rows; so the models are looked up through the app registry. Every query
goes through the scoped default managers, so a workspace never shows another dealer's rows.
Each function runs a fixed number of queries, whatever the size of the dealer.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.apps import apps
from django.db.models import Count, F, Max, Q, QuerySet
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from .models import User
from .permissions import Role
from .scoping import visible_dealers

LIST_LIMIT = 8
NOT_CONTACTED_DAYS = 30
INSURANCE_DAYS = 30
BIRTHDAY_DAYS = 7
MONTHS = 12


def _customer_model() -> Any:
    return apps.get_model("customers", "Customer")


def _interaction_model() -> Any:
    return apps.get_model("customers", "Interaction")


def _vehicle_model() -> Any:
    return apps.get_model("vehicles", "Vehicle")


def _lifecycle_stages() -> list[tuple[str, str]]:
    return list(_customer_model()._meta.get_field("lifecycle_stage").choices)


def _dealer_id(user: User) -> int:
    # Only dealer roles reach the dealer workspaces; each of them has a dealer (a DB constraint).
    if user.dealer_id is None:
        raise ValueError("A dealer workspace needs a user with a dealer.")
    return user.dealer_id


def _days_until_birthday(birthday: date, today: date) -> int:
    for offset in range(BIRTHDAY_DAYS):
        day = today + timedelta(days=offset)
        if (birthday.month, birthday.day) == (day.month, day.day):
            return offset
    return BIRTHDAY_DAYS


def work_lists(*, customers: QuerySet, user: User | None, today: date) -> dict[str, Any]:
    """Today's work for a set of customers: birthdays this week, insurance expiring, not
    contacted for a month, recent interactions (by `user` when given, else by anyone).

    `customers` is a queryset of the customers in question (mine, or the whole dealer's).
    Six queries.
    """
    vehicle_model = _vehicle_model()
    interaction_model = _interaction_model()
    customers = customers.filter(is_deleted=False)

    week = [today + timedelta(days=offset) for offset in range(BIRTHDAY_DAYS)]
    birthday_q = Q()
    for day in week:
        birthday_q |= Q(birthday__month=day.month, birthday__day=day.day)
    birthday_rows = list(
        customers.filter(birthday_q).only("id", "name", "birthday", "gender", "kind")[:200]
    )
    for customer in birthday_rows:
        customer.days_until_birthday = _days_until_birthday(customer.birthday, today)
    birthday_rows.sort(key=lambda c: (c.days_until_birthday, c.name))

    insurance_qs = vehicle_model.objects.filter(
        owner__in=customers.values("id"),
        insurance_expiry__gte=today,
        insurance_expiry__lte=today + timedelta(days=INSURANCE_DAYS),
    )
    insurance_count = insurance_qs.count()
    insurance = list(
        insurance_qs.select_related("owner", "car_model").order_by("insurance_expiry", "id")[
            :LIST_LIMIT
        ]
    )
    for vehicle in insurance:
        vehicle.days_left = (vehicle.insurance_expiry - today).days

    # Last contact = the latest interaction; a customer never contacted counts from creation.
    cutoff = timezone.now() - timedelta(days=NOT_CONTACTED_DAYS)
    stale_qs = (
        customers.exclude(lifecycle_stage="lost")
        .annotate(last_contact=Max("interactions__occurred_at"))
        .annotate(since=Coalesce(F("last_contact"), F("created_at")))
        .filter(since__lt=cutoff)
    )
    stale_count = stale_qs.count()
    stale = list(
        stale_qs.select_related("assigned_consultant").order_by("since", "id")[:LIST_LIMIT]
    )

    interactions_qs = interaction_model.objects.filter(customer__in=customers.values("id"))
    if user is not None:
        interactions_qs = interactions_qs.filter(author=user)
    recent = list(
        interactions_qs.select_related("customer", "author").order_by("-occurred_at", "-id")[
            :LIST_LIMIT
        ]
    )
    return {
        "birthdays": birthday_rows[:LIST_LIMIT],
        "birthday_count": len(birthday_rows),
        "insurance": insurance,
        "insurance_count": insurance_count,
        "not_contacted": stale,
        "not_contacted_count": stale_count,
        "recent_interactions": recent,
        "not_contacted_days": NOT_CONTACTED_DAYS,
        "insurance_days": INSURANCE_DAYS,
    }


def _stage_counts(customers: QuerySet) -> list[dict[str, Any]]:
    counts = dict(
        customers.filter(is_deleted=False)
        .order_by()
        .values_list("lifecycle_stage")
        .annotate(n=Count("id"))
    )
    return [
        {"stage": value, "label": str(label), "count": counts.get(value, 0)}
        for value, label in _lifecycle_stages()
    ]


def _month_start(day: date, back: int) -> date:
    month_index = day.year * 12 + day.month - 1 - back
    return date(month_index // 12, month_index % 12 + 1, 1)


def new_customers_per_month(customers: QuerySet, *, today: date) -> list[dict[str, Any]]:
    """Customers created per month over the last twelve months, months without any included."""
    first = _month_start(today, MONTHS - 1)
    since = timezone.make_aware(datetime(first.year, first.month, 1))
    rows = (
        customers.filter(is_deleted=False, created_at__gte=since)
        .annotate(month=TruncMonth("created_at"))
        .order_by()
        .values("month")
        .annotate(n=Count("id"))
    )
    by_month: dict[str, int] = {}
    for row in rows:
        month = row["month"]
        if isinstance(month, datetime) and timezone.is_aware(month):
            month = timezone.localtime(month)
        by_month[f"{month:%Y-%m}"] = row["n"]
    months = [_month_start(today, back) for back in range(MONTHS - 1, -1, -1)]
    return [{"month": f"{m:%Y-%m}", "count": by_month.get(f"{m:%Y-%m}", 0)} for m in months]


def consultant_workspace(user: User, *, today: date) -> dict[str, Any]:
    """A sales consultant: own customers and today's work on them."""
    mine = _customer_model().objects.filter(assigned_consultant=user)
    totals = mine.filter(is_deleted=False).aggregate(
        total=Count("id"),
        prospects=Count("id", filter=Q(lifecycle_stage="prospect")),
        owners=Count("id", filter=Q(lifecycle_stage__in=["owner", "loyal"])),
    )
    return {"totals": totals, **work_lists(customers=mine, user=user, today=today)}


def dealer_work_workspace(user: User, *, today: date) -> dict[str, Any]:
    """Service advisors and care specialists: the dealer's work lists."""
    customers = _customer_model().objects.filter(dealer_id=_dealer_id(user))
    return work_lists(customers=customers, user=None, today=today)


def manager_workspace(user: User, *, today: date) -> dict[str, Any]:
    """A dealer manager: the whole dealer — stages, growth, staff, and the work lists."""
    customers = _customer_model().objects.filter(dealer_id=_dealer_id(user))
    staff = list(
        User.objects.filter(dealer_id=_dealer_id(user), is_active=True)
        .annotate(
            customer_count=Count(
                "assigned_customers", filter=Q(assigned_customers__is_deleted=False)
            )
        )
        .order_by("-customer_count", "username")
    )
    stages = _stage_counts(customers)
    per_month = new_customers_per_month(customers, today=today)
    return {
        "stages": stages,
        "customer_total": sum(s["count"] for s in stages),
        "per_month": per_month,
        "stage_chart": stage_chart(stages),
        "month_chart": month_chart(per_month),
        "staff": staff,
        **work_lists(customers=customers, user=None, today=today),
    }


def dealer_admin_workspace(user: User) -> dict[str, Any]:
    """A dealer admin: the dealer's staff by role, and who is inactive."""
    staff_qs = User.objects.filter(dealer_id=_dealer_id(user))
    by_role = dict(
        staff_qs.filter(is_active=True).order_by().values_list("role").annotate(n=Count("id"))
    )
    roles = [
        {"role": role.value, "label": str(role.label), "count": by_role.get(role.value, 0)}
        for role in Role
        if role.value in by_role
    ]
    recent = list(
        staff_qs.select_related("department").order_by("-date_joined", "-id")[:LIST_LIMIT]
    )
    inactive = staff_qs.filter(is_active=False).count()
    return {
        "roles": roles,
        "staff_total": sum(by_role.values()),
        "inactive_count": inactive,
        "recent_staff": recent,
    }


def network_workspace(user: User) -> dict[str, Any]:
    """OEM users and system admins: every dealer they see — customers per dealer and region,
    the lifecycle mix of each dealer. Four queries whatever the number of dealers."""
    dealers = list(visible_dealers(user).select_related("brand").order_by("region__code", "code"))
    dealer_ids = [d.pk for d in dealers]
    stage_values = [value for value, _label in _lifecycle_stages()]
    mix: dict[int, dict[str, int]] = {d.pk: dict.fromkeys(stage_values, 0) for d in dealers}
    rows = (
        _customer_model()
        .objects.filter(is_deleted=False, dealer_id__in=dealer_ids)
        .order_by()
        .values_list("dealer_id", "lifecycle_stage")
        .annotate(n=Count("id"))
    )
    for dealer_id, stage, n in rows:
        if dealer_id in mix and stage in mix[dealer_id]:
            mix[dealer_id][stage] = n
    staff_counts = dict(
        User.objects.filter(dealer_id__in=dealer_ids, is_active=True)
        .order_by()
        .values_list("dealer_id")
        .annotate(n=Count("id"))
    )
    regions: dict[str, int] = {}
    dealer_rows = []
    for dealer in dealers:
        total = sum(mix[dealer.pk].values())
        regions[dealer.region.name] = regions.get(dealer.region.name, 0) + total
        dealer_rows.append(
            {
                "dealer": dealer,
                "total": total,
                "staff": staff_counts.get(dealer.pk, 0),
                "mix": [
                    {
                        "stage": value,
                        "label": str(label),
                        "count": mix[dealer.pk][value],
                        "pct": _pct(mix[dealer.pk][value], total),
                    }
                    for value, label in _lifecycle_stages()
                ],
            }
        )
    stages = [{"stage": value, "label": str(label)} for value, label in _lifecycle_stages()]
    return {
        "dealer_rows": dealer_rows,
        "stage_labels": stages,
        "regions": [{"name": name, "count": n} for name, n in regions.items()],
        "region_chart": [{"label": name, "value": n} for name, n in regions.items()],
        "dealer_chart": [
            {"label": r["dealer"].name, "value": r["total"]}
            for r in sorted(dealer_rows, key=lambda r: -r["total"])
        ],
        "customer_total": sum(r["total"] for r in dealer_rows),
        "dealer_count": len(dealers),
        "active_dealer_count": sum(1 for d in dealers if d.is_active),
    }


def stage_chart(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": s["label"], "value": s["count"]} for s in stages]


def month_chart(per_month: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": m["month"], "value": m["count"]} for m in per_month]


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def dealer_overview(dealer_id: int, *, today: date) -> dict[str, Any]:
    """One dealer's customers by stage and new customers per month (the dealer page)."""
    customers = _customer_model().objects.filter(dealer_id=dealer_id)
    stages = _stage_counts(customers)
    per_month = new_customers_per_month(customers, today=today)
    return {
        "stages": stages,
        "customer_total": sum(s["count"] for s in stages),
        "per_month": per_month,
        "stage_chart": stage_chart(stages),
        "month_chart": month_chart(per_month),
    }


WORKSPACE_KINDS: dict[str, str] = {
    Role.SALES_CONSULTANT: "consultant",
    Role.SERVICE_ADVISOR: "dealer_work",
    Role.CARE_SPECIALIST: "dealer_work",
    Role.DEALER_MANAGER: "manager",
    Role.DEALER_ADMIN: "dealer_admin",
    Role.OEM_ANALYST: "network",
    Role.OEM_ADMIN: "network",
    Role.SYSTEM_ADMIN: "network",
}


def workspace_for(user: User, *, today: date | None = None) -> tuple[str, dict[str, Any]]:
    """(kind, data) of the workspace that fits the user's role."""
    today = today or timezone.localdate()
    kind = WORKSPACE_KINDS.get(user.role, "empty")
    if kind == "consultant":
        return kind, consultant_workspace(user, today=today)
    if kind == "dealer_work":
        return kind, dealer_work_workspace(user, today=today)
    if kind == "manager":
        return kind, manager_workspace(user, today=today)
    if kind == "dealer_admin":
        return kind, dealer_admin_workspace(user)
    if kind == "network":
        return kind, network_workspace(user)
    return kind, {}
