"""The audit log page: who sees which events, filters, pagination, and what a row shows."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from tests.core.factories import BrandFactory, DealerFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 5, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def event(dealer, repr_, actor=None, action="change", target_type="customers.customer", **kw):
    return AuditEvent.objects.create(
        dealer=dealer,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id="1",
        target_repr=repr_,
        at=kw.pop("at", AT),
        **kw,
    )


@pytest.fixture
def events(dealer, other_dealer, make_user):
    oem = make_user(Role.OEM_ADMIN)
    foreign_brand = BrandFactory(code="other", name="别的品牌")
    foreign_dealer = DealerFactory(brand=foreign_brand)
    event(dealer, "本店事件")
    event(other_dealer, "别店事件")
    event(None, "品牌事件", actor=oem, target_type="core.region")
    event(foreign_dealer, "别的品牌的店")
    return oem


def shown(client, user, **params):
    client.force_login(user)
    response = client.get(reverse("core:audit_log"), params)
    assert response.status_code == 200
    return {e.target_repr for e in response.context["page"]}


@pytest.mark.parametrize("role", [Role.DEALER_ADMIN, Role.DEALER_MANAGER])
def test_dealer_admins_and_managers_see_only_their_dealers_events(client, make_user, events, role):
    assert shown(client, make_user(role)) == {"本店事件"}


def test_oem_admin_sees_the_brands_dealers_and_network_events(client, events):
    assert shown(client, events) == {"本店事件", "别店事件", "品牌事件"}


def test_system_admin_sees_everything(client, make_user, events):
    assert shown(client, make_user(Role.SYSTEM_ADMIN)) == {
        "本店事件",
        "别店事件",
        "品牌事件",
        "别的品牌的店",
    }


@pytest.mark.parametrize(
    "role", [Role.SALES_CONSULTANT, Role.SERVICE_ADVISOR, Role.CARE_SPECIALIST, Role.OEM_ANALYST]
)
def test_other_roles_are_refused(client, make_user, role):
    client.force_login(make_user(role))
    assert client.get(reverse("core:audit_log")).status_code == 403


def test_filters_by_action_actor_type_and_dates(client, make_user, dealer):
    admin = make_user(Role.DEALER_ADMIN)
    actor = make_user(Role.SALES_CONSULTANT, username="wang", display_name="王芳")
    event(dealer, "导出", actor=actor, action="export")
    event(dealer, "查看", actor=actor, action="unmask", at=AT - timedelta(days=10))
    event(dealer, "车辆", action="change", target_type="vehicles.vehicle")
    assert shown(client, admin, action="export") == {"导出"}
    assert shown(client, admin, actor="王芳") == {"导出", "查看"}
    assert shown(client, admin, target_type="vehicles.vehicle") == {"车辆"}
    assert shown(client, admin, date_from="2026-04-25", date_to="2026-05-02") == {"导出", "车辆"}


def test_a_row_shows_who_what_when_changes_and_ip(client, make_user, dealer):
    admin = make_user(Role.DEALER_ADMIN)
    actor = make_user(Role.SALES_CONSULTANT, display_name="王芳")
    event(
        dealer,
        "张三",
        actor=actor,
        changes={"lifecycle_stage": ["prospect", "owner"]},
        ip_address="10.1.2.3",
    )
    client.force_login(admin)
    html = client.get(reverse("core:audit_log")).content.decode()
    for text in ("王芳", "张三", "prospect", "owner", "10.1.2.3", "→"):
        assert text in html


def test_pages_of_fifty_in_a_constant_number_of_queries(
    client, make_user, dealer, django_assert_max_num_queries
):
    admin = make_user(Role.DEALER_ADMIN)
    actor = make_user(Role.SALES_CONSULTANT)
    AuditEvent.objects.bulk_create(
        AuditEvent(dealer=dealer, actor=actor, action="change", target_type="core.user", at=AT)
        for _ in range(60)
    )
    client.force_login(admin)
    with django_assert_max_num_queries(12):
        first = client.get(reverse("core:audit_log"))
    assert len(first.context["page"].object_list) == 50
    second = client.get(reverse("core:audit_log"), {"page": 2})
    assert len(second.context["page"].object_list) == 10


def test_services_write_the_events_the_page_shows(client, make_user):
    admin = make_user(Role.DEALER_ADMIN)
    client.force_login(admin)
    client.post(
        reverse("core:staff_create"),
        {
            "username": "logged",
            "role": "care_specialist",
            "password": "a-Long-pass-4321",
            "language": "zh-hans",
        },
    )
    response = client.get(reverse("core:audit_log"), {"action": "create"})
    assert [e.target_repr for e in response.context["page"]] == ["logged"]
    assert response.context["page"][0].ip_address == "127.0.0.1"
