"""The organisation API: who am I, dealers, regions, staff. Scoped and ruled like the pages:
the same selectors answer the reads, the same services do the writes."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from .access import api_permission
from .models import Dealer, Department, User
from .permissions import Perm
from .scoping import get_dealer_for_user, visible_dealers
from .selectors import get_staff_for_user, staff_search, visible_dealer_groups, visible_regions
from .services import UNSET, dealer_create, staff_create, staff_update

router = Router(tags=["organisation"])


class RegionOut(Schema):
    id: int
    brand_id: int
    code: str
    name: str
    is_active: bool


class DealerOut(Schema):
    id: int
    code: str
    name: str
    brand_id: int
    region_id: int
    region_name: str
    group_id: int | None
    group_name: str | None
    province: str
    city: str
    address: str
    phone: str
    plate_prefix: str
    is_active: bool

    @staticmethod
    def resolve_region_name(obj: Dealer) -> str:
        return obj.region.name

    @staticmethod
    def resolve_group_name(obj: Dealer) -> str | None:
        return obj.group.name if obj.group_id else None


class DealerIn(Schema):
    code: str
    name: str
    region_id: int
    group_id: int | None = None
    province: str
    city: str
    address: str = ""
    phone: str = ""
    plate_prefix: str = ""


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    role: str
    role_label: str
    permissions: list[str]
    language: str
    brand_id: int | None
    dealer: DealerOut | None


class StaffOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    phone: str
    role: str
    dealer_id: int | None
    department_id: int | None
    language: str
    on_duty: bool
    is_active: bool
    last_login: datetime | None


class StaffIn(Schema):
    username: str
    role: str
    password: str
    dealer_id: int | None = None
    department_id: int | None = None
    display_name: str = ""
    email: str = ""
    phone: str = ""
    language: str = "zh-hans"


class StaffPatch(Schema):
    display_name: str | None = None
    email: str | None = None
    phone: str | None = None
    role: str | None = None
    department_id: int | None = None
    language: str | None = None
    on_duty: bool | None = None


@router.get("/me", response=MeOut, summary="The signed-in user, role, permissions and dealer")
def me(request: HttpRequest) -> dict:
    user: User = request.user
    dealer = visible_dealers(user).filter(pk=user.dealer_id).first() if user.dealer_id else None
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": str(user),
        "role": user.role,
        "role_label": str(user.get_role_display()),
        "permissions": sorted(user.get_all_permissions()),
        "language": user.language,
        "brand_id": user.brand_id,
        "dealer": dealer,
    }


@router.get("/dealers", response=list[DealerOut], summary="Dealers the user may see")
def dealer_list(request: HttpRequest) -> list[Dealer]:
    return list(visible_dealers(request.user).order_by("code"))


@router.get("/dealers/{dealer_id}", response=DealerOut)
def dealer_get(request: HttpRequest, dealer_id: int) -> Dealer:
    return get_dealer_for_user(request.user, dealer_id)


def _dealer_links(user: User, region_id: int, group_id: int | None) -> dict:
    region = visible_regions(user).filter(pk=region_id).first()
    if region is None:
        raise ValidationError({"region_id": _("Unknown region.")})
    group = None
    if group_id is not None:
        group = visible_dealer_groups(user).filter(pk=group_id).first()
        if group is None:
            raise ValidationError({"group_id": _("Unknown dealer group.")})
    return {"region": region, "group": group}


@router.post("/dealers", response={201: DealerOut}, summary="Create a dealer (OEM admins)")
@api_permission(Perm.MANAGE_DEALERS)
def dealer_create_api(request: HttpRequest, payload: DealerIn) -> Status:
    data = payload.dict()
    links = _dealer_links(request.user, data.pop("region_id"), data.pop("group_id"))
    dealer = dealer_create(actor=request.user, request=request, **links, **data)
    # Read back with its region and group for the response.
    return Status(201, Dealer.objects.select_related("region", "group").get(pk=dealer.pk))


@router.get("/regions", response=list[RegionOut], summary="Regions the user may see")
def region_list(request: HttpRequest) -> list:
    return list(visible_regions(request.user))


@router.get("/staff", response=list[StaffOut], summary="Staff the user may manage")
@api_permission(Perm.MANAGE_STAFF)
def staff_list(
    request: HttpRequest, q: str = "", dealer_id: int | None = None, role: str = ""
) -> list[User]:
    return list(staff_search(request.user, search=q, dealer_id=dealer_id, role=role)[:500])


def _department(department_id: int | None) -> Department | None:
    """A department in the user's scope; the service checks it belongs to the member's dealer."""
    if department_id is None:
        return None
    department = Department.objects.filter(pk=department_id).first()
    if department is None:
        raise ValidationError({"department_id": _("Unknown department.")})
    return department


@router.post("/staff", response={201: StaffOut}, summary="Create a member of staff")
@api_permission(Perm.MANAGE_STAFF)
def staff_create_api(request: HttpRequest, payload: StaffIn) -> Status:
    data = payload.dict()
    dealer = None
    if data["dealer_id"] is not None:
        dealer = visible_dealers(request.user).filter(pk=data["dealer_id"]).first()
        if dealer is None:
            raise ValidationError({"dealer_id": _("Unknown dealer.")})
    member = staff_create(
        actor=request.user,
        username=data["username"],
        role=data["role"],
        password=data["password"],
        dealer=dealer,
        department=_department(data["department_id"]),
        display_name=data["display_name"],
        email=data["email"],
        phone=data["phone"],
        language=data["language"],
        request=request,
    )
    return Status(201, member)


@router.patch("/staff/{user_id}", response=StaffOut, summary="Change a member of staff")
@api_permission(Perm.MANAGE_STAFF)
def staff_update_api(request: HttpRequest, user_id: int, payload: StaffPatch) -> User:
    member = get_staff_for_user(request.user, user_id)
    given = payload.dict(exclude_unset=True)
    changes = {name: given.get(name, UNSET) for name in StaffPatch.model_fields}
    department_id = changes.pop("department_id")
    if department_id is not UNSET:
        changes["department"] = _department(department_id)
    for name, value in list(changes.items()):
        if value is None and name != "department":
            changes[name] = UNSET
    return staff_update(actor=request.user, member=member, request=request, **changes)
