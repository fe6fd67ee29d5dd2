"""What every role may and may not do: the has_perm table, written out so a change is deliberate.

The expected table is typed here by hand, not derived from ROLE_PERMISSIONS: widening a role
must change this file too, in the same review.
"""

from __future__ import annotations

import pytest

from dealercrm.core.permissions import (
    DEALER_ROLES,
    NETWORK_ROLES,
    ROLE_PERMISSIONS,
    Perm,
    Role,
    permissions_for_role,
)

pytestmark = pytest.mark.django_db

COLUMNS = [
    Perm.VIEW_CUSTOMER,  # VC
    Perm.VIEW_ALL_DEALER_CUSTOMERS,  # VA
    Perm.ADD_CUSTOMER,  # AC
    Perm.CHANGE_CUSTOMER,  # CC
    Perm.DELETE_CUSTOMER,  # DC
    Perm.VIEW_FULL_CONTACT,  # FC
    Perm.ADD_INTERACTION,  # AI
    Perm.VIEW_VEHICLE,  # VV
    Perm.CHANGE_VEHICLE,  # CV
    Perm.MANAGE_CATALOGUE,  # MC
    Perm.VIEW_NETWORK,  # VN
    Perm.MANAGE_STAFF,  # MS
    Perm.MANAGE_DEALERS,  # MD
    Perm.VIEW_AUDIT_LOG,  # AL
    Perm.MANAGE_API_TOKENS,  # AT
    Perm.SEND_MESSAGE,  # SM
    Perm.VIEW_MESSAGES,  # VM
    Perm.MANAGE_TEMPLATES,  # MT
    Perm.RUN_CAMPAIGNS,  # RC
    Perm.MANAGE_MESSAGING_SETTINGS,  # MM
    Perm.EXPORT_MAIL_LIST,  # EM
    Perm.WORK_TASKS,  # WT
    Perm.MANAGE_TASKS,  # MK
]

# fmt: off
#                                VC VA AC CC DC FC AI VV CV MC VN MS MD AL AT SM VM MT RC MM EM WT MK
TABLE = {
    Role.SALES_CONSULTANT:      "x  .  x  x  .  x  x  x  x  .  .  .  .  .  x  x  x  .  .  .  .  x  .",
    Role.SERVICE_ADVISOR:       "x  x  x  x  .  x  x  x  x  .  .  .  .  .  x  x  x  .  .  .  .  x  .",
    Role.CARE_SPECIALIST:       "x  x  x  x  .  x  x  x  x  .  .  .  .  .  x  x  x  x  x  .  x  x  x",
    Role.DEALER_MANAGER:        "x  x  x  x  x  x  x  x  x  .  .  .  .  x  x  x  x  x  x  x  x  x  x",
    Role.DEALER_ADMIN:          ".  .  .  .  .  .  .  .  .  .  .  x  .  x  x  .  .  .  .  x  .  .  .",
    Role.OEM_ANALYST:           "x  x  .  .  .  .  .  x  .  .  x  .  .  .  .  .  .  .  .  .  .  .  .",
    Role.OEM_ADMIN:             "x  x  .  .  .  .  .  x  .  x  x  x  x  x  x  .  .  .  .  .  .  .  .",
    Role.SYSTEM_ADMIN:          "x  x  x  x  x  x  x  x  x  x  x  x  x  x  x  x  x  x  x  x  x  x  x",
}

SALES_COLUMNS = [
    Perm.VIEW_LEADS,  # VL
    Perm.VIEW_ALL_LEADS,  # LA
    Perm.WORK_LEADS,  # WL
    Perm.MANAGE_LEADS,  # ML
    Perm.DISPATCH_LEADS,  # DL
    Perm.VIEW_FUNNEL,  # VF
    Perm.SUBMIT_LEADS,  # SL
    Perm.VIEW_RESOURCES,  # VR
    Perm.MANAGE_RESOURCES,  # MR
]

#                                VL LA WL ML DL VF SL VR MR
SALES_TABLE = {
    Role.SALES_CONSULTANT:      "x  .  x  .  .  .  x  x  .",
    Role.SERVICE_ADVISOR:       ".  .  .  .  .  .  .  x  .",
    Role.CARE_SPECIALIST:       ".  .  .  .  .  .  .  x  .",
    Role.DEALER_MANAGER:        "x  x  x  x  .  x  x  x  x",
    Role.DEALER_ADMIN:          ".  .  .  .  .  .  .  x  x",
    Role.OEM_ANALYST:           "x  x  .  .  .  x  .  .  .",
    Role.OEM_ADMIN:             "x  x  .  .  x  x  x  .  .",
    Role.SYSTEM_ADMIN:          "x  x  x  x  x  x  x  x  x",
}

AFTERSALES_COLUMNS = [
    Perm.VIEW_SERVICE,  # VS
    Perm.WORK_SERVICE,  # WS
    Perm.MANAGE_SERVICE,  # MV
    Perm.MANAGE_SCHEDULES,  # SC
    Perm.VIEW_RECALLS,  # VR
    Perm.MANAGE_RECALLS,  # MR
    Perm.WORK_RESCUE,  # RS
    Perm.WORK_CARE,  # WC
    Perm.MANAGE_CARE,  # MC
    Perm.MANAGE_CARE_CATALOGUE,  # CC
]

FEEDBACK_COLUMNS = [
    Perm.VIEW_COMPLAINTS,  # VP
    Perm.ADD_COMPLAINT,  # AP
    Perm.WORK_COMPLAINTS,  # WP
    Perm.MANAGE_COMPLAINTS,  # MP
    Perm.MANAGE_SURVEYS,  # MU
    Perm.SEND_SURVEYS,  # SU
    Perm.VIEW_FEEDBACK_STATS,  # FS
]

#                                VP AP WP MP MU SU FS
FEEDBACK_TABLE = {
    Role.SALES_CONSULTANT:      "x  x  .  .  .  .  .",
    Role.SERVICE_ADVISOR:       "x  x  .  .  .  .  .",
    Role.CARE_SPECIALIST:       "x  x  x  .  .  x  x",
    Role.DEALER_MANAGER:        "x  x  x  x  x  x  x",
    Role.DEALER_ADMIN:          ".  .  .  .  .  .  .",
    Role.OEM_ANALYST:           "x  .  .  .  .  .  x",
    Role.OEM_ADMIN:             "x  x  .  .  x  .  x",
    Role.SYSTEM_ADMIN:          "x  x  x  x  x  x  x",
}

#                                VS WS MV SC VR MR RS WC MC CC
AFTERSALES_TABLE = {
    Role.SALES_CONSULTANT:      "x  .  .  .  .  .  .  x  .  .",
    Role.SERVICE_ADVISOR:       "x  x  .  .  x  .  x  x  .  .",
    Role.CARE_SPECIALIST:       "x  x  .  .  x  .  x  x  .  .",
    Role.DEALER_MANAGER:        "x  x  x  .  x  .  x  x  x  .",
    Role.DEALER_ADMIN:          ".  .  x  .  .  .  .  .  .  .",
    Role.OEM_ANALYST:           "x  .  .  .  x  .  .  .  .  .",
    Role.OEM_ADMIN:             "x  .  .  x  x  x  .  .  .  x",
    Role.SYSTEM_ADMIN:          "x  x  x  x  x  x  x  x  x  x",
}

DATA_COLUMNS = [
    Perm.IMPORT_DATA,  # IM
    Perm.REVIEW_DUPLICATES,  # RD
    Perm.MERGE_CUSTOMERS,  # MC
    Perm.VIEW_DATA_QUALITY,  # VQ
    Perm.MANAGE_AUDIT,  # MA
    Perm.EXPORT_REBATES,  # ER
    Perm.EXPORT_CUSTOMERS,  # EC
]

#                                IM RD MC VQ MA ER EC
DATA_TABLE = {
    Role.SALES_CONSULTANT:      ".  .  .  .  .  .  .",
    Role.SERVICE_ADVISOR:       ".  .  .  .  .  .  .",
    Role.CARE_SPECIALIST:       ".  x  .  .  .  .  x",
    Role.DEALER_MANAGER:        "x  x  x  x  .  .  x",
    Role.DEALER_ADMIN:          "x  .  .  x  .  .  .",
    Role.OEM_ANALYST:           ".  x  .  x  .  x  x",
    Role.OEM_ADMIN:             ".  x  .  x  x  x  x",
    Role.SYSTEM_ADMIN:          "x  x  x  x  x  x  x",
}
# fmt: on

CASES = [
    (role, perm, mark == "x")
    for columns, table in (
        (COLUMNS, TABLE),
        (SALES_COLUMNS, SALES_TABLE),
        (AFTERSALES_COLUMNS, AFTERSALES_TABLE),
        (FEEDBACK_COLUMNS, FEEDBACK_TABLE),
        (DATA_COLUMNS, DATA_TABLE),
    )
    for role, row in table.items()
    for perm, mark in zip(columns, row.split(), strict=True)
]


@pytest.fixture
def user_of(make_user):
    made = {}

    def _user(role):
        if role not in made:
            made[role] = make_user(role)
        return made[role]

    return _user


def test_the_table_covers_every_role_and_every_permission():
    assert (
        set(TABLE)
        == set(SALES_TABLE)
        == set(AFTERSALES_TABLE)
        == set(FEEDBACK_TABLE)
        == set(DATA_TABLE)
        == set(Role)
    )
    every_perm = {v for k, v in vars(Perm).items() if k.isupper()}
    assert (
        set(COLUMNS)
        | set(SALES_COLUMNS)
        | set(AFTERSALES_COLUMNS)
        | set(FEEDBACK_COLUMNS)
        | set(DATA_COLUMNS)
        == every_perm
    )
    assert set(ROLE_PERMISSIONS) == set(Role)
    # No role holds a permission that is not a Perm constant (a typo would never match a check).
    assert set().union(*ROLE_PERMISSIONS.values()) <= every_perm


def test_every_role_is_either_a_dealer_role_or_a_network_role():
    assert set(Role) == DEALER_ROLES | NETWORK_ROLES
    assert not DEALER_ROLES & NETWORK_ROLES


@pytest.mark.parametrize(
    ("role", "perm", "allowed"),
    CASES,
    ids=[f"{role.value}-{perm}-{'may' if ok else 'may not'}" for role, perm, ok in CASES],
)
def test_role_may_or_may_not(role, perm, allowed, user_of):
    # Given an active member of staff with the role, when asked through Django's has_perm …
    user = user_of(role)
    # … then the answer is the table's.
    assert user.has_perm(perm) is allowed


@pytest.mark.parametrize("role", [Role.OEM_ANALYST, Role.OEM_ADMIN])
def test_oem_roles_never_see_full_contacts(role, user_of):
    assert not user_of(role).has_perm(Perm.VIEW_FULL_CONTACT)
    assert Perm.VIEW_FULL_CONTACT not in permissions_for_role(role)


@pytest.mark.parametrize("role", [Role.SALES_CONSULTANT, Role.OEM_ANALYST])
def test_only_managers_and_admins_read_the_audit_log(role, user_of):
    assert not user_of(role).has_perm(Perm.VIEW_AUDIT_LOG)


def test_a_dealer_admin_runs_accounts_not_customers(user_of):
    admin = user_of(Role.DEALER_ADMIN)
    assert admin.has_perm(Perm.MANAGE_STAFF)
    assert not admin.has_perm(Perm.VIEW_CUSTOMER)
    assert not admin.has_perm(Perm.MANAGE_DEALERS)


def test_an_inactive_user_may_do_nothing(make_user):
    user = make_user(Role.DEALER_MANAGER, is_active=False)
    assert not any(user.has_perm(perm) for perm in COLUMNS)
    assert user.get_all_permissions() == set()


def test_a_user_without_a_role_may_do_nothing(brand):
    from tests.core.factories import UserFactory

    user = UserFactory(role="", dealer=None, brand=brand)
    assert not any(user.has_perm(perm) for perm in COLUMNS)


def test_an_anonymous_visitor_may_do_nothing():
    from django.contrib.auth.models import AnonymousUser

    assert not any(AnonymousUser().has_perm(perm) for perm in COLUMNS)


def test_module_permissions_follow_the_role(user_of):
    assert user_of(Role.SALES_CONSULTANT).has_module_perms("customers")
    assert user_of(Role.SALES_CONSULTANT).has_module_perms("vehicles")
    assert not user_of(Role.DEALER_ADMIN).has_module_perms("customers")
    assert not user_of(Role.DEALER_ADMIN).has_module_perms("vehicles")
    assert user_of(Role.OEM_ANALYST).has_module_perms("core")
