"""The complaint archive's statistics on a hand-made set: SLA compliance, timing, the Pareto of
root causes, repeat complainants, and the OEM's ranked comparison of dealers."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.feedback.models import Complaint, ComplaintChannel
from tests.core.factories import UserFactory
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.vehicles.factories import CarModelFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 15, 10, 0, tzinfo=datetime.UTC)
MIN = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)


def _complaint(dealer, customer, *, ago, responded=None, solved=None, **fields):  # noqa: ANN001, ANN003, ANN202
    created = NOW - ago
    return Complaint.objects.create(
        dealer=dealer,
        customer=customer,
        channel=ComplaintChannel.PHONE,
        description="投诉",
        created_at=created,
        response_due_at=created + 30 * MIN,
        solution_due_at=created + 24 * HOUR,
        first_response_at=created + responded if responded else None,
        solved_at=created + solved if solved else None,
        **fields,
    )


@pytest.fixture
def archive(dealer, other_dealer):
    """Five complaints at the dealer (two by the same customer), one at the other dealer."""
    staff = UserFactory(dealer=dealer, display_name="王顾问")
    model = CarModelFactory(brand=dealer.brand, series="星辰", name="标准版", model_year=2025)
    repeat = CustomerFactory(dealer=dealer, name="张三丰")
    CustomerPhoneFactory(customer=repeat, number="+8613812341234")
    with time_machine.travel(NOW, tick=False):
        # in time both ways
        _complaint(
            dealer,
            repeat,
            ago=10 * 24 * HOUR,
            responded=10 * MIN,
            solved=20 * HOUR,
            root_cause="process",
            category="waiting_time",
            staff=staff,
            car_model=model,
        )
        # both late, escalated to the manager
        _complaint(
            dealer,
            repeat,
            ago=5 * 24 * HOUR,
            responded=45 * MIN,
            solved=30 * HOUR,
            root_cause="process",
            category="service_quality",
            escalation_level=1,
            staff=staff,
        )
        # never answered, both deadlines passed: breached; escalated to the brand
        _complaint(
            dealer,
            CustomerFactory(dealer=dealer),
            ago=3 * 24 * HOUR,
            category="waiting_time",
            escalation_level=2,
        )
        # received ten minutes ago: nothing due yet, not counted either way
        _complaint(dealer, CustomerFactory(dealer=dealer), ago=10 * MIN, root_cause="training")
        # in time both ways
        _complaint(
            dealer,
            CustomerFactory(dealer=dealer),
            ago=2 * 24 * HOUR,
            responded=5 * MIN,
            solved=10 * HOUR,
            root_cause="process",
            category="price",
        )
        # last year: outside a 3-month period
        _complaint(dealer, repeat, ago=400 * 24 * HOUR, responded=5 * MIN)
        _complaint(
            other_dealer,
            CustomerFactory(dealer=other_dealer),
            ago=24 * HOUR,
            responded=5 * MIN,
            solved=HOUR,
            root_cause="parts_supply",
        )
    # fmt: skip
    return {"staff": staff, "model": model, "repeat": repeat}


@time_machine.travel(NOW, tick=False)
def test_sla_compliance_counts_late_and_overdue_but_not_what_is_still_running(
    archive, client_for, make_user, english
):
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))

    data = client.get("/api/feedback/complaint-stats", {"months": 3}).json()

    total = data["total"]
    assert total["complaints"] == 5
    assert (total["response_in_time"], total["response_breached"]) == (2, 2)
    assert (total["solution_in_time"], total["solution_breached"]) == (2, 2)
    assert total["response_percent"] == 50.0 and total["solution_percent"] == 50.0
    # first responses 10, 45 and 5 minutes; solutions 20, 30 and 10 hours
    assert total["response_mean_hours"] == round(20 / 60, 2)
    assert total["response_median_hours"] == round(10 / 60, 2)
    assert (total["solution_mean_hours"], total["solution_median_hours"]) == (20.0, 20.0)
    assert (total["escalated"], total["escalated_oem"]) == (2, 1)
    assert data["by_dealer"] == []


@time_machine.travel(NOW, tick=False)
def test_root_causes_come_as_a_pareto_with_the_cumulative_share(archive, client_for, make_user):
    client = client_for(make_user(Role.DEALER_MANAGER))

    causes = client.get("/api/feedback/complaint-stats", {"months": 3}).json()["root_causes"]

    assert [(c["key"], c["count"], c["percent"], c["cumulative_percent"]) for c in causes] == [
        ("process", 3, 75.0, 75.0),
        ("training", 1, 25.0, 100.0),
    ]


@time_machine.travel(NOW, tick=False)
def test_counts_by_category_staff_model_month_and_escalation(archive, client_for, make_user):
    client = client_for(make_user(Role.DEALER_MANAGER))

    data = client.get("/api/feedback/complaint-stats", {"months": 3}).json()

    assert [(c["key"], c["count"]) for c in data["by_category"]][0] == ("waiting_time", 2)
    assert sorted((c["key"], c["count"]) for c in data["by_category"]) == [
        ("other", 1), ("price", 1), ("service_quality", 1), ("waiting_time", 2)
    ]  # fmt: skip
    staff = {c["label"]: c["count"] for c in data["by_staff"]}
    assert staff[str(archive["staff"])] == 2
    assert sum(staff.values()) == 5
    assert {c["key"]: c["count"] for c in data["by_model"]}[str(archive["model"].pk)] == 1
    assert [(c["key"], c["count"]) for c in data["by_month"]] == [
        ("2026-01-01", 0), ("2026-02-01", 0), ("2026-03-01", 5)
    ]  # fmt: skip
    assert [(c["key"], c["count"]) for c in data["by_escalation"]] == [
        ("0", 3), ("1", 1), ("2", 1)
    ]  # fmt: skip


@time_machine.travel(NOW, tick=False)
def test_repeat_complainants_are_listed_with_a_masked_phone(archive, client_for, make_user):
    client = client_for(make_user(Role.DEALER_MANAGER))

    repeats = client.get("/api/feedback/complaint-stats", {"months": 3}).json()[
        "repeat_complainants"
    ]
    # over 24 months the complaint of last year counts too
    longer = client.get("/api/feedback/complaint-stats", {"months": 24}).json()[
        "repeat_complainants"
    ]

    assert [(r["customer_id"], r["complaints"]) for r in repeats] == [(archive["repeat"].pk, 2)]
    assert repeats[0]["name"] == "张三丰"
    assert repeats[0]["phone"] == "138****1234"
    assert longer[0]["complaints"] == 3


@time_machine.travel(NOW, tick=False)
def test_the_oem_compares_dealers_ranked_and_sees_masked_names(
    archive, client_for, oem_analyst, dealer, other_dealer
):
    client = client_for(oem_analyst)

    data = client.get("/api/feedback/complaint-stats", {"months": 3}).json()

    ranked = [(row["key"], row["rank"], row["complaints"]) for row in data["by_dealer"]]
    # the other dealer solved its one complaint in time: first
    assert ranked == [(str(other_dealer.pk), 1, 1), (str(dealer.pk), 2, 5)]
    assert data["total"]["complaints"] == 6
    assert data["repeat_complainants"][0]["name"] == "张**"
    one = client.get(
        "/api/feedback/complaint-stats", {"months": 3, "dealer_id": other_dealer.pk}
    ).json()
    assert one["total"]["complaints"] == 1


@time_machine.travel(NOW, tick=False)
def test_a_dealer_sees_only_its_own_complaints_and_a_bad_filter_is_named(
    archive, client_for, make_user, other_dealer, english
):
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))

    assert (
        client.get("/api/feedback/complaint-stats", {"dealer_id": other_dealer.pk}).status_code
        == 404
    )
    bad = client.get("/api/feedback/complaint-stats", {"months": 5})
    assert bad.status_code == 422
    assert "months" in bad.content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_page_shows_the_figures_in_a_bounded_number_of_queries(
    archive, client_for, make_user, oem_analyst, english, django_assert_max_num_queries
):
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))

    with django_assert_max_num_queries(16):
        page = client.get(reverse("feedback:complaint_stats"), {"months": 3})

    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-kpi="response">50.0%' in body
    assert "Process not followed" in body and "138****1234" in body
    assert "complaint-stats-charts" in body
    partial = client.get(reverse("feedback:complaint_stats"), HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode()
    oem = client_for(oem_analyst)
    with django_assert_max_num_queries(16):
        assert (
            'id="complaint-dealers"'
            in oem.get(reverse("feedback:complaint_stats")).content.decode()
        )
