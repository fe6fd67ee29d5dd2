"""Reads of the organisation and the audit log, limited to what the user may see.

Look-ups by id answer 404 alike for "missing" and "not yours", like get_dealer_for_user.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from .models import ApiToken, AuditEvent, DealerGroup, Department, Region, User
from .permissions import Perm, Role
from .scoping import visible_dealers
from .services import OEM_STAFF_ROLES


def _is_system_admin(user: User) -> bool:
    return user.role == Role.SYSTEM_ADMIN


# --- regions and groups -------------------------------------------------------------------------


def visible_regions(user: User) -> QuerySet[Region]:
    """System admins: all; OEM users: their brand's; dealer staff: their dealer's region."""
    qs = Region.objects.select_related("brand").order_by("brand_id", "code")
    if _is_system_admin(user):
        return qs
    if user.is_network_user and user.brand_id is not None:
        return qs.filter(brand_id=user.brand_id)
    if user.dealer_id:
        return qs.filter(dealers__id=user.dealer_id)
    return qs.none()


def visible_dealer_groups(user: User) -> QuerySet[DealerGroup]:
    qs = DealerGroup.objects.select_related("brand").order_by("brand_id", "name")
    if _is_system_admin(user):
        return qs
    if user.is_network_user and user.brand_id is not None:
        return qs.filter(brand_id=user.brand_id)
    if user.dealer_id:
        return qs.filter(dealers__id=user.dealer_id)
    return qs.none()


def regions_with_counts(user: User) -> QuerySet[Region]:
    return visible_regions(user).annotate(
        dealer_count=Count("dealers", filter=Q(dealers__is_active=True))
    )


def dealer_groups_with_counts(user: User) -> QuerySet[DealerGroup]:
    return visible_dealer_groups(user).annotate(
        dealer_count=Count("dealers", filter=Q(dealers__is_active=True))
    )


def get_region_for_user(user: User, region_id: int) -> Region:
    try:
        return visible_regions(user).get(pk=region_id)
    except Region.DoesNotExist as exc:
        raise Http404 from exc


def get_dealer_group_for_user(user: User, group_id: int) -> DealerGroup:
    try:
        return visible_dealer_groups(user).get(pk=group_id)
    except DealerGroup.DoesNotExist as exc:
        raise Http404 from exc


def dealers_with_staff_counts(user: User, *, search: str = "") -> QuerySet:
    qs = visible_dealers(user).annotate(staff_count=Count("staff", filter=Q(staff__is_active=True)))
    if search:
        qs = qs.filter(
            Q(name__icontains=search) | Q(code__icontains=search) | Q(city__icontains=search)
        )
    return qs.order_by("code")


# --- staff --------------------------------------------------------------------------------------


def manageable_staff(user: User) -> QuerySet[User]:
    """Staff this user may manage: own dealer's; the brand's dealers and OEM staff; everyone."""
    qs = User.objects.select_related("dealer", "department").order_by("dealer__code", "username")
    if not user.has_perm(Perm.MANAGE_STAFF):
        return qs.none()
    if _is_system_admin(user):
        return qs
    if user.is_network_user:
        return qs.filter(
            Q(dealer__brand_id=user.brand_id)
            | Q(dealer__isnull=True, brand_id=user.brand_id, role__in=OEM_STAFF_ROLES)
        )
    if user.dealer_id:
        return qs.filter(dealer_id=user.dealer_id)
    return qs.none()


def staff_search(
    user: User, *, search: str = "", dealer_id: int | None = None, role: str = ""
) -> QuerySet[User]:
    qs = manageable_staff(user)
    if search:
        qs = qs.filter(
            Q(username__icontains=search)
            | Q(display_name__icontains=search)
            | Q(phone__icontains=search)
        )
    if dealer_id:
        qs = qs.filter(dealer_id=dealer_id)
    if role:
        qs = qs.filter(role=role)
    return qs


def get_staff_for_user(user: User, user_id: int) -> User:
    try:
        return manageable_staff(user).get(pk=user_id)
    except User.DoesNotExist as exc:
        raise Http404 from exc


def departments_for_dealers(dealer_ids: list[int] | None) -> QuerySet[Department]:
    qs = Department.objects.select_related("dealer").order_by("dealer__code", "kind")
    if dealer_ids is not None:
        qs = qs.filter(dealer_id__in=dealer_ids)
    return qs


# --- audit log ----------------------------------------------------------------------------------


def visible_audit_events(user: User) -> QuerySet[AuditEvent]:
    """Dealer admins and managers: their dealer's events; OEM admins: their brand's dealers'
    events and the brand's network events; system admins: everything."""
    qs = AuditEvent.objects.select_related("actor", "dealer")
    if not user.has_perm(Perm.VIEW_AUDIT_LOG):
        return qs.none()
    if _is_system_admin(user):
        return qs
    if user.is_network_user:
        return qs.filter(
            Q(dealer__brand_id=user.brand_id)
            | Q(dealer__isnull=True, actor__brand_id=user.brand_id)
        )
    if user.dealer_id:
        return qs.filter(dealer_id=user.dealer_id)
    return qs.none()


def audit_events_filtered(
    user: User,
    *,
    action: str = "",
    actor: str = "",
    target_type: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEvent]:
    qs = visible_audit_events(user)
    if action:
        qs = qs.filter(action=action)
    if actor:
        qs = qs.filter(
            Q(actor__username__icontains=actor) | Q(actor__display_name__icontains=actor)
        )
    if target_type:
        qs = qs.filter(target_type=target_type)
    if date_from:
        qs = qs.filter(at__date__gte=date_from)
    if date_to:
        qs = qs.filter(at__date__lte=date_to)
    return qs.order_by("-at", "-id")


def audit_target_types(user: User) -> list[str]:
    return list(
        visible_audit_events(user)
        .order_by("target_type")
        .values_list("target_type", flat=True)
        .distinct()
    )


# --- API tokens ---------------------------------------------------------------------------------


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at")


def get_api_token_for_user(user: User, token_id: int) -> ApiToken:
    try:
        return api_tokens_of(user).get(pk=token_id)
    except ApiToken.DoesNotExist as exc:
        raise Http404 from exc
