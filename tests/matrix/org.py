"""The organisation the matrix runs against: a home dealer, another dealer of the same brand, a
dealer of another brand, and a user of every role at each place."""

from __future__ import annotations

from dataclasses import dataclass, field

from dealercrm.core.models import Brand, Dealer, Region, User
from dealercrm.core.permissions import DEALER_ROLES, Role, permissions_for_role

# The order roles are tried in: the most ordinary user holding a permission comes first.
ROLE_ORDER = (
    Role.DEALER_MANAGER,
    Role.SALES_CONSULTANT,
    Role.SERVICE_ADVISOR,
    Role.CARE_SPECIALIST,
    Role.DEALER_ADMIN,
    Role.OEM_ANALYST,
    Role.OEM_ADMIN,
    Role.SYSTEM_ADMIN,
)
HOME, OTHER_DEALER, OTHER_BRAND = "home", "other dealer", "other brand"


@dataclass
class Org:
    brand: Brand
    dealer: Dealer
    other_dealer: Dealer
    other_brand: Brand
    foreign_dealer: Dealer
    users: dict[tuple[str, str], User]
    sessions: dict[int, str] = field(default_factory=dict)  # user id → session key
    revoked_token: str = ""

    def user(self, place: str, role: str) -> User:
        return self.users[(place, role)]

    def roles_with(self, permission: str | None) -> list[str]:
        return [
            r for r in ROLE_ORDER if permission is None or permission in permissions_for_role(r)
        ]

    def roles_without(self, permission: str | None) -> list[str]:
        if permission is None:
            return []
        return [r for r in ROLE_ORDER if permission not in permissions_for_role(r)]

    def outsiders(self, permission: str | None, owner: str) -> list[User]:
        """Users holding the permission who must not see the home dealer's (or brand's) objects:
        the first dealer role at the other dealer (for dealer-owned objects) or at the other
        brand's dealer, and the first OEM role of the other brand."""
        found: list[User] = []
        holders = self.roles_with(permission)
        dealer_place = OTHER_DEALER if owner == "dealer" else OTHER_BRAND
        dealer_roles = [r for r in holders if r in DEALER_ROLES]
        if dealer_roles:
            found.append(self.user(dealer_place, dealer_roles[0]))
        oem_roles = [r for r in holders if r in (Role.OEM_ANALYST, Role.OEM_ADMIN)]
        if oem_roles:
            found.append(self.user(OTHER_BRAND, oem_roles[0]))
        return found


def _user(username: str, role: str, brand: Brand, dealer: Dealer | None) -> User:
    user = User(
        username=username,
        display_name=username,
        role=role,
        brand=brand,
        dealer=dealer,
        language="zh-hans",
    )
    user.set_password("pass-Word-123")
    return user


def build_org() -> Org:
    brand = Brand.objects.create(code="matrix-home", name="矩阵汽车", name_en="Matrix Motors")
    other_brand = Brand.objects.create(code="matrix-other", name="别家汽车", name_en="Other Motors")
    east = Region.objects.create(brand=brand, code="m-east", name="华东")
    north = Region.objects.create(brand=brand, code="m-north", name="华北")
    south = Region.objects.create(brand=other_brand, code="m-south", name="华南")

    def dealer(code: str, name: str, brand_: Brand, region: Region, prefix: str) -> Dealer:
        return Dealer.objects.create(
            brand=brand_,
            region=region,
            code=code,
            name=name,
            province="上海市",
            city="上海市",
            plate_prefix=prefix,
        )

    home = dealer("MX-HOME", "矩阵浦东4S店", brand, east, "沪A")
    other = dealer("MX-OTHER", "矩阵朝阳4S店", brand, north, "京A")
    foreign = dealer("MX-FOREIGN", "别家天河4S店", other_brand, south, "粤A")

    users: dict[tuple[str, str], User] = {}
    for place, brand_, dealer_ in (
        (HOME, brand, home),
        (OTHER_DEALER, brand, other),
        (OTHER_BRAND, other_brand, foreign),
    ):
        for role in ROLE_ORDER:
            if role in DEALER_ROLES:
                users[(place, role)] = _user(f"mx-{place}-{role}", role, brand_, dealer_)
            elif place != OTHER_DEALER and role != Role.SYSTEM_ADMIN:
                users[(place, role)] = _user(f"mx-{place}-{role}", role, brand_, None)
    users[(HOME, Role.SYSTEM_ADMIN)] = _user("mx-system-admin", Role.SYSTEM_ADMIN, brand, None)
    User.objects.bulk_create(users.values())
    by_name = {u.username: u for u in User.objects.filter(username__startswith="mx-")}
    users = {key: by_name[u.username] for key, u in users.items()}
    return Org(brand, home, other, other_brand, foreign, users)
