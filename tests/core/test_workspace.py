"""The workspace at "/": the right content for each role, in a constant number of queries."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, Interaction
from dealercrm.vehicles.models import Vehicle

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = NOW.date()
LONG_AGO = NOW - timedelta(days=90)


def customer(dealer, name, consultant=None, **kwargs):
    kwargs.setdefault("created_at", LONG_AGO)
    return Customer.objects.create(
        dealer=dealer, name=name, assigned_consultant=consultant, **kwargs
    )


def vehicle(owner, n, expiry):
    return Vehicle.objects.create(
        dealer_id=owner.dealer_id,
        vin=f"LFV2A21K0R{n:07d}",
        plate=f"沪A{n:05d}",
        owner=owner,
        insurance_expiry=expiry,
    )


def make_book(dealer, consultant, *, n=1, offset=0):
    """n customers of each kind for the consultant: birthday today, insurance expiring, stale."""
    for i in range(n):
        k = offset + i
        customer(dealer, f"寿星{k}", consultant, birthday=date(1990, TODAY.month, TODAY.day))
        owner = customer(dealer, f"车主{k}", consultant, lifecycle_stage="owner")
        vehicle(owner, 1000 + k, TODAY + timedelta(days=10))
        Interaction.objects.create(
            dealer=dealer,
            customer=owner,
            kind="call",
            author=consultant,
            occurred_at=NOW,
            subject=f"回访{k}",
        )
        customer(dealer, f"久未联系{k}", consultant)


@time_machine.travel(NOW, tick=False)
def test_consultant_sees_own_customers_and_todays_work_only(client, make_user, dealer):
    # given a consultant with a birthday, an expiring insurance and a stale customer
    me = make_user(Role.SALES_CONSULTANT)
    colleague = make_user(Role.SALES_CONSULTANT)
    make_book(dealer, me)
    customer(dealer, "同事的寿星", colleague, birthday=date(1985, TODAY.month, TODAY.day))
    client.force_login(me)
    # when they open the workspace
    response = client.get(reverse("core:workspace"))
    # then they see their own work, not the colleague's
    html = response.content.decode()
    assert response.context["kind"] == "consultant"
    assert response.context["totals"]["total"] == 3
    assert [c.name for c in response.context["birthdays"]] == ["寿星0"]
    assert [v.owner.name for v in response.context["insurance"]] == ["车主0"]
    assert [c.name for c in response.context["not_contacted"]] == ["寿星0", "久未联系0"]
    assert [i.subject for i in response.context["recent_interactions"]] == ["回访0"]
    assert "同事的寿星" not in html


@time_machine.travel(NOW, tick=False)
def test_birthdays_later_this_week_are_listed_after_todays(client, make_user, dealer):
    me = make_user(Role.SALES_CONSULTANT)
    in_three_days = TODAY + timedelta(days=3)
    customer(dealer, "三天后", me, birthday=date(1980, in_three_days.month, in_three_days.day))
    customer(dealer, "今天", me, birthday=date(1991, TODAY.month, TODAY.day))
    next_month = TODAY + timedelta(days=30)
    customer(dealer, "下个月", me, birthday=date(1991, next_month.month, next_month.day))
    client.force_login(me)
    response = client.get(reverse("core:workspace"))
    assert [c.name for c in response.context["birthdays"]] == ["今天", "三天后"]


@time_machine.travel(NOW, tick=False)
def test_consultant_workspace_query_count_is_constant(
    client, make_user, dealer, django_assert_max_num_queries
):
    me = make_user(Role.SALES_CONSULTANT)
    make_book(dealer, me, n=1)
    client.force_login(me)
    with django_assert_max_num_queries(20) as small:
        client.get(reverse("core:workspace"))
    make_book(dealer, me, n=6, offset=1)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse("core:workspace"))
    assert response.context["insurance_count"] == 7


@time_machine.travel(NOW, tick=False)
def test_manager_sees_the_whole_dealer_with_charts_and_staff_counts(
    client, make_user, dealer, other_dealer, django_assert_max_num_queries
):
    manager = make_user(Role.DEALER_MANAGER)
    a = make_user(Role.SALES_CONSULTANT, display_name="甲")
    b = make_user(Role.SALES_CONSULTANT, display_name="乙")
    make_book(dealer, a)
    customer(dealer, "新客", b, created_at=NOW - timedelta(days=1))
    customer(other_dealer, "别家客户", None)
    client.force_login(manager)
    with django_assert_max_num_queries(25) as small:
        response = client.get(reverse("core:workspace"))
    ctx = response.context
    assert ctx["kind"] == "manager"
    assert ctx["customer_total"] == 4
    stages = {s["stage"]: s["count"] for s in ctx["stages"]}
    assert stages["owner"] == 1 and stages["prospect"] == 3
    assert ctx["per_month"][-1] == {"month": "2026-06", "count": 1}
    assert len(ctx["per_month"]) == 12
    counts = {m.display_name: m.customer_count for m in ctx["staff"]}
    assert counts["甲"] == 3 and counts["乙"] == 1
    assert "stage-chart-data" in response.content.decode()
    assert "别家客户" not in response.content.decode()
    make_book(dealer, b, n=5, offset=10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse("core:workspace"))


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("role", [Role.SERVICE_ADVISOR, Role.CARE_SPECIALIST])
def test_service_and_care_see_the_dealers_work_lists(client, make_user, dealer, role):
    consultant = make_user(Role.SALES_CONSULTANT)
    make_book(dealer, consultant)
    client.force_login(make_user(role))
    response = client.get(reverse("core:workspace"))
    assert response.context["kind"] == "dealer_work"
    assert response.context["insurance_count"] == 1
    assert response.context["birthday_count"] == 1


def test_dealer_admin_sees_the_staff_overview(client, make_user):
    admin = make_user(Role.DEALER_ADMIN)
    make_user(Role.SALES_CONSULTANT)
    make_user(Role.SALES_CONSULTANT, is_active=False)
    client.force_login(admin)
    response = client.get(reverse("core:workspace"))
    assert response.context["kind"] == "dealer_admin"
    assert response.context["staff_total"] == 2
    assert response.context["inactive_count"] == 1
    assert reverse("core:staff_list") in response.content.decode()


@pytest.mark.parametrize("role", [Role.OEM_ANALYST, Role.OEM_ADMIN, Role.SYSTEM_ADMIN])
def test_network_users_see_every_dealer_of_the_brand(
    client, make_user, dealer, other_dealer, role, django_assert_max_num_queries
):
    customer(dealer, "上海客户", None)
    customer(dealer, "上海车主", None, lifecycle_stage="owner")
    customer(other_dealer, "北京客户", None)
    client.force_login(make_user(role))
    with django_assert_max_num_queries(15) as small:
        response = client.get(reverse("core:workspace"))
    ctx = response.context
    assert ctx["kind"] == "network"
    totals = {row["dealer"].pk: row["total"] for row in ctx["dealer_rows"]}
    assert totals == {dealer.pk: 2, other_dealer.pk: 1}
    assert sum(r["count"] for r in ctx["regions"]) == 3
    html = response.content.decode()
    assert reverse("core:dealer_detail", kwargs={"dealer_id": other_dealer.pk}) in html
    for i in range(5):
        customer(other_dealer, f"更多{i}", None)
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse("core:workspace"))
