"""Writes to the organisation: regions, dealer groups, dealers, staff, API tokens, language.

Every write checks who may do it here, not only in the view, so the pages, the API and the demo
generator share one set of rules (a dealer admin posting role=oem_admin gets a field error
whatever the door). Every write is audit-logged.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .audit import audit_record, field_changes
from .models import ApiToken, AuditEvent, Brand, Dealer, DealerGroup, Department, Region, User
from .permissions import DEALER_ROLES, NETWORK_ROLES, Perm, Role
from .scoping import forget_brand_dealers

# A keyword left out of an update means "leave as it is"; None can be a real value.
UNSET: Any = object()

OEM_STAFF_ROLES = (Role.OEM_ANALYST, Role.OEM_ADMIN)


# --- who may do what ----------------------------------------------------------------------------


def _require(actor: User, perm: str) -> None:
    if not actor.is_authenticated or not actor.is_active or not actor.has_perm(perm):
        raise PermissionDenied


def _is_system_admin(actor: User) -> bool:
    return actor.role == Role.SYSTEM_ADMIN


def _require_brand(actor: User, brand_id: int | None) -> None:
    """OEM admins work inside their own brand; system admins anywhere."""
    if _is_system_admin(actor):
        return
    if brand_id is None or actor.brand_id != brand_id:
        raise PermissionDenied


def staff_assignable_roles(actor: User) -> list[str]:
    """The roles this user may give: dealer admins only dealer roles, OEM admins no system admin."""
    if not actor.is_authenticated or not actor.has_perm(Perm.MANAGE_STAFF):
        return []
    if _is_system_admin(actor):
        return [r.value for r in Role]
    if actor.is_network_user:
        return [r.value for r in Role if r in DEALER_ROLES or r in OEM_STAFF_ROLES]
    if actor.dealer_id:
        return [r.value for r in Role if r in DEALER_ROLES]
    return []


def staff_may_manage_dealer(actor: User, dealer: Dealer) -> bool:
    """Whose staff this user may manage: own dealer, the brand's dealers, or any (system)."""
    if not actor.has_perm(Perm.MANAGE_STAFF):
        return False
    if _is_system_admin(actor):
        return True
    if actor.is_network_user:
        return dealer.brand_id == actor.brand_id
    return actor.dealer_id == dealer.pk


def staff_may_manage_member(actor: User, member: User) -> bool:
    if not actor.has_perm(Perm.MANAGE_STAFF):
        return False
    if _is_system_admin(actor):
        return True
    if member.dealer is not None:
        return staff_may_manage_dealer(actor, member.dealer)
    # Network staff: OEM admins manage their brand's OEM staff, never a system admin.
    return (
        actor.is_network_user
        and member.role in OEM_STAFF_ROLES
        and member.brand_id == actor.brand_id
    )


def _check_staff_placement(
    actor: User, *, role: str, dealer: Dealer | None, department: Department | None
) -> None:
    errors: dict[str, str] = {}
    if role not in Role.values:
        errors["role"] = _("Choose a role.")
    elif role not in staff_assignable_roles(actor):
        errors["role"] = _("You may not give the role “%(role)s”.") % {"role": Role(role).label}
    elif role in DEALER_ROLES:
        if dealer is None:
            errors["dealer"] = _("Staff with a dealer role need a dealer.")
        elif not staff_may_manage_dealer(actor, dealer):
            errors["dealer"] = _("You may not manage the staff of this dealer.")
    elif role in NETWORK_ROLES and dealer is not None:
        errors["dealer"] = _("Brand and system roles belong to no dealer.")
    if department is not None and (dealer is None or department.dealer_id != dealer.pk):
        errors["department"] = _("The department must belong to the staff member's dealer.")
    if errors:
        raise ValidationError(errors)


def _check_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc


def _full_clean(instance: Any, *, exclude: list[str] | None = None) -> None:
    instance.full_clean(exclude=exclude)


def _update(instance: Any, values: dict[str, Any], *, exclude: list[str] | None = None) -> dict:
    """Set the given fields, validate, save only what changed; return {field: [old, new]}."""
    values = {name: value for name, value in values.items() if value is not UNSET}
    before = {name: getattr(instance, name) for name in values}
    for name, value in values.items():
        setattr(instance, name, value)
    _full_clean(instance, exclude=exclude)
    changes = field_changes(before, values)
    if changes:
        instance.save(update_fields=list(changes))
    return changes


def _snapshot(instance: Any, names: list[str]) -> dict[str, list[Any]]:
    return field_changes({}, {name: getattr(instance, name) for name in names})


# --- regions ------------------------------------------------------------------------------------


@transaction.atomic
def region_create(
    *, actor: User, brand: Brand, code: str, name: str, request: HttpRequest | None = None
) -> Region:
    _require(actor, Perm.MANAGE_DEALERS)
    _require_brand(actor, brand.pk)
    region = Region(brand=brand, code=code.strip(), name=name.strip())
    _full_clean(region)
    region.save()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=region,
        changes=_snapshot(region, ["code", "name"]),
        request=request,
    )
    return region


@transaction.atomic
def region_update(
    *,
    actor: User,
    region: Region,
    code: str = UNSET,
    name: str = UNSET,
    is_active: bool = UNSET,
    request: HttpRequest | None = None,
) -> Region:
    _require(actor, Perm.MANAGE_DEALERS)
    _require_brand(actor, region.brand_id)
    changes = _update(
        region,
        {
            "code": code.strip() if code is not UNSET else UNSET,
            "name": name.strip() if name is not UNSET else UNSET,
            "is_active": is_active,
        },
    )
    if changes:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            target=region,
            changes=changes,
            request=request,
        )
    return region


def region_set_active(
    *, actor: User, region: Region, active: bool, request: HttpRequest | None = None
) -> Region:
    return region_update(actor=actor, region=region, is_active=active, request=request)


# --- dealer groups ------------------------------------------------------------------------------


@transaction.atomic
def dealer_group_create(
    *, actor: User, brand: Brand, name: str, request: HttpRequest | None = None
) -> DealerGroup:
    _require(actor, Perm.MANAGE_DEALERS)
    _require_brand(actor, brand.pk)
    group = DealerGroup(brand=brand, name=name.strip())
    _full_clean(group)
    group.save()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=group,
        changes=_snapshot(group, ["name"]),
        request=request,
    )
    return group


@transaction.atomic
def dealer_group_update(
    *,
    actor: User,
    group: DealerGroup,
    name: str = UNSET,
    is_active: bool = UNSET,
    request: HttpRequest | None = None,
) -> DealerGroup:
    _require(actor, Perm.MANAGE_DEALERS)
    _require_brand(actor, group.brand_id)
    changes = _update(
        group, {"name": name.strip() if name is not UNSET else UNSET, "is_active": is_active}
    )
    if changes:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            target=group,
            changes=changes,
            request=request,
        )
    return group


def dealer_group_set_active(
    *, actor: User, group: DealerGroup, active: bool, request: HttpRequest | None = None
) -> DealerGroup:
    return dealer_group_update(actor=actor, group=group, is_active=active, request=request)


# --- dealers ------------------------------------------------------------------------------------

DEALER_FIELDS = [
    "code",
    "name",
    "region",
    "group",
    "province",
    "city",
    "address",
    "phone",
    "plate_prefix",
]


def _check_dealer_links(region: Region | None, group: DealerGroup | None, brand_id: int) -> None:
    errors: dict[str, str] = {}
    if region is not None and (region.brand_id != brand_id or not region.is_active):
        errors["region"] = _("Choose an active region of the brand.")
    if group is not None and (group.brand_id != brand_id or not group.is_active):
        errors["group"] = _("Choose an active dealer group of the brand.")
    if errors:
        raise ValidationError(errors)


def _department_names() -> dict[str, str]:
    # Department names are data: written once, in the installation's language.
    with translation.override(settings.LANGUAGE_CODE):
        return {kind.value: str(kind.label) for kind in Department.Kind}


@transaction.atomic
def dealer_create(
    *,
    actor: User,
    region: Region,
    code: str,
    name: str,
    province: str,
    city: str,
    group: DealerGroup | None = None,
    address: str = "",
    phone: str = "",
    plate_prefix: str = "",
    request: HttpRequest | None = None,
) -> Dealer:
    """A new dealer of the region's brand, with its sales, service and care departments."""
    _require(actor, Perm.MANAGE_DEALERS)
    _require_brand(actor, region.brand_id)
    _check_dealer_links(region, group, region.brand_id)
    dealer = Dealer(
        brand_id=region.brand_id,
        region=region,
        group=group,
        code=code.strip(),
        name=name.strip(),
        province=province.strip(),
        city=city.strip(),
        address=address.strip(),
        phone=phone.strip(),
        plate_prefix=plate_prefix.strip().upper(),
    )
    _full_clean(dealer)
    dealer.save()
    names = _department_names()
    Department.objects.bulk_create(
        [Department(dealer=dealer, kind=kind, name=names[kind]) for kind in Department.Kind.values]
    )
    # Forget now for this transaction's readers, and again at commit for readers that cached
    # the old list meanwhile.
    forget_brand_dealers(dealer.brand_id)
    transaction.on_commit(lambda: forget_brand_dealers(dealer.brand_id))
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=dealer,
        dealer_id=dealer.pk,
        changes=_snapshot(dealer, DEALER_FIELDS),
        request=request,
    )
    return dealer


@transaction.atomic
def dealer_update(
    *,
    actor: User,
    dealer: Dealer,
    code: str = UNSET,
    name: str = UNSET,
    region: Region = UNSET,
    group: DealerGroup | None = UNSET,
    province: str = UNSET,
    city: str = UNSET,
    address: str = UNSET,
    phone: str = UNSET,
    plate_prefix: str = UNSET,
    is_active: bool = UNSET,
    request: HttpRequest | None = None,
) -> Dealer:
    _require(actor, Perm.MANAGE_DEALERS)
    _require_brand(actor, dealer.brand_id)
    new_region = region if region is not UNSET and region != dealer.region else None
    new_group = (
        group if group is not UNSET and group is not None and group != dealer.group else None
    )
    _check_dealer_links(new_region, new_group, dealer.brand_id)
    values = {
        "code": code,
        "name": name,
        "region": region,
        "group": group,
        "province": province,
        "city": city,
        "address": address,
        "phone": phone,
        "plate_prefix": plate_prefix.upper() if plate_prefix is not UNSET else UNSET,
        "is_active": is_active,
    }
    values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    changes = _update(dealer, values)
    if changes:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            target=dealer,
            dealer_id=dealer.pk,
            changes=changes,
            request=request,
        )
    return dealer


def dealer_deactivate(*, actor: User, dealer: Dealer, request: HttpRequest | None = None) -> Dealer:
    return dealer_update(actor=actor, dealer=dealer, is_active=False, request=request)


def dealer_reactivate(*, actor: User, dealer: Dealer, request: HttpRequest | None = None) -> Dealer:
    return dealer_update(actor=actor, dealer=dealer, is_active=True, request=request)


# --- staff --------------------------------------------------------------------------------------

STAFF_AUDIT_FIELDS = [
    "username",
    "display_name",
    "email",
    "phone",
    "role",
    "dealer",
    "department",
    "language",
]


@transaction.atomic
def staff_create(
    *,
    actor: User,
    username: str,
    role: str,
    password: str,
    dealer: Dealer | None = None,
    department: Department | None = None,
    brand: Brand | None = None,
    display_name: str = "",
    email: str = "",
    phone: str = "",
    language: str = settings.LANGUAGE_CODE,
    request: HttpRequest | None = None,
) -> User:
    """A new member of staff. Dealer roles need a dealer; OEM roles belong to the brand."""
    _require(actor, Perm.MANAGE_STAFF)
    _check_staff_placement(actor, role=role, dealer=dealer, department=department)
    brand_id: int | None
    if dealer is not None:
        brand_id = dealer.brand_id
    else:
        brand_id = brand.pk if brand is not None and _is_system_admin(actor) else actor.brand_id
    member = User(
        username=username.strip(),
        role=role,
        dealer=dealer,
        department=department,
        brand_id=brand_id,
        display_name=display_name.strip(),
        email=email.strip(),
        phone=phone.strip(),
        language=language,
    )
    _check_password(password, member)
    member.set_password(password)
    _full_clean(member)
    member.save()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=member,
        dealer_id=member.dealer_id,
        changes=_snapshot(member, STAFF_AUDIT_FIELDS),
        request=request,
    )
    return member


def _require_member(actor: User, member: User) -> None:
    _require(actor, Perm.MANAGE_STAFF)
    if not staff_may_manage_member(actor, member):
        raise PermissionDenied


@transaction.atomic
def staff_update(
    *,
    actor: User,
    member: User,
    display_name: str = UNSET,
    email: str = UNSET,
    phone: str = UNSET,
    role: str = UNSET,
    department: Department | None = UNSET,
    language: str = UNSET,
    on_duty: bool = UNSET,
    request: HttpRequest | None = None,
) -> User:
    """Change a member of staff. The dealer stays; the role stays within the allowed ones."""
    _require_member(actor, member)
    new_role = member.role if role is UNSET else role
    new_department = member.department if department is UNSET else department
    if role is not UNSET or department is not UNSET:
        _check_staff_placement(
            actor, role=new_role, dealer=member.dealer, department=new_department
        )
    if member.pk == actor.pk and new_role != member.role:
        raise ValidationError({"role": _("You cannot change your own role.")})
    values = {
        "display_name": display_name,
        "email": email,
        "phone": phone,
        "role": role,
        "department": department,
        "language": language,
        "on_duty": on_duty,
    }
    values = {k: v.strip() if isinstance(v, str) and k != "role" else v for k, v in values.items()}
    changes = _update(member, values, exclude=["password"])
    if changes:
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            target=member,
            dealer_id=member.dealer_id,
            changes=changes,
            request=request,
        )
    return member


def _staff_set_active(
    *, actor: User, member: User, active: bool, request: HttpRequest | None
) -> User:
    _require_member(actor, member)
    if member.pk == actor.pk:
        raise ValidationError(_("You cannot deactivate your own account."))
    if member.is_active == active:
        return member
    member.is_active = active
    member.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=member,
        dealer_id=member.dealer_id,
        changes={"is_active": [not active, active]},
        request=request,
    )
    return member


@transaction.atomic
def staff_deactivate(*, actor: User, member: User, request: HttpRequest | None = None) -> User:
    """Deactivated staff cannot log in and their API tokens stop working; history keeps them."""
    member = _staff_set_active(actor=actor, member=member, active=False, request=request)
    ApiToken.objects.filter(user=member, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return member


@transaction.atomic
def staff_reactivate(*, actor: User, member: User, request: HttpRequest | None = None) -> User:
    return _staff_set_active(actor=actor, member=member, active=True, request=request)


def _generate_password() -> str:
    # Readable, unambiguous, long enough for the validators: no 0/O or 1/l confusion.
    alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(14))


@transaction.atomic
def staff_reset_password(
    *,
    actor: User,
    member: User,
    password: str | None = None,
    request: HttpRequest | None = None,
) -> str:
    """Set a new password (a generated one when none is given) and return it, to show once."""
    _require_member(actor, member)
    password = password or _generate_password()
    _check_password(password, member)
    member.set_password(password)
    member.save(update_fields=["password"])
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=member,
        dealer_id=member.dealer_id,
        # Never the password itself, not even its hash.
        changes={"password": ["••••••", _("reset")]},
        request=request,
    )
    return password


def staff_record_login(*, user: User, request: HttpRequest | None = None) -> AuditEvent:
    return audit_record(
        actor=user,
        action=AuditEvent.Action.LOGIN,
        target=user,
        dealer_id=user.dealer_id,
        request=request,
    )


# --- the signed-in user's own settings ----------------------------------------------------------


@transaction.atomic
def user_set_language(*, user: User, language: str) -> User:
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("Choose one of the offered languages.")})
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user


@transaction.atomic
def api_token_create(
    *, user: User, name: str, request: HttpRequest | None = None
) -> tuple[ApiToken, str]:
    """A new token for the user; the key is returned once and only its hash is kept."""
    _require(user, Perm.MANAGE_API_TOKENS)
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the token a name, so you know what uses it.")})
    key = ApiToken.generate_key()
    token = ApiToken(user=user, name=name[:100], prefix=key[5:13], key_hash=ApiToken.hash_key(key))
    token.save()
    audit_record(
        actor=user,
        action=AuditEvent.Action.CREATE,
        target=token,
        dealer_id=user.dealer_id,
        changes={"name": [None, token.name]},
        request=request,
    )
    return token, key


@transaction.atomic
def api_token_revoke(
    *, user: User, token: ApiToken, request: HttpRequest | None = None
) -> ApiToken:
    if token.user_id != user.pk:
        raise PermissionDenied
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=user,
            action=AuditEvent.Action.DELETE,
            target=token,
            dealer_id=user.dealer_id,
            request=request,
        )
    return token
