"""The dashboard and its API: a manager sees their dealer only, the OEM every dealer of the brand,
from the cells, in a fixed number of queries."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
import time_machine
from django.urls import reverse

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.sales.models import LeadChannel, LossReason
from dealercrm.sales.services.funnel import funnel_refresh
from tests.core.factories import BrandFactory, DealerFactory, UserFactory

from .conftest import at

NOW = at(2025, 6, 20)
pytestmark = pytest.mark.django_db


def charts(response) -> dict:
    html = response.content.decode()
    start = html.index('id="funnel-charts"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


@pytest.fixture
def network(dealer, other_dealer, make_lead, make_user):
    """dealer: 3 leads (a referral ordered in 45 days, an advertising lead lost, a walk-in);
    other_dealer: 5 walk-ins, one ordered."""
    consultant = make_user(Role.SALES_CONSULTANT, display_name="顾问甲")
    make_lead(
        dealer,
        at(2025, 3, 1),
        channel=LeadChannel.REFERRAL,
        consultant=consultant,
        first_response_due_at=at(2025, 3, 1, 10, 30),
        first_contacted_at=at(2025, 3, 1, 10, 20),
        test_drive_at=at(2025, 3, 3),
        ordered_at=at(2025, 4, 15),
    )
    make_lead(
        dealer,
        at(2025, 4, 2),
        channel=LeadChannel.DOUYIN,
        first_response_due_at=at(2025, 4, 2, 10, 30),
        first_contacted_at=at(2025, 4, 2, 11, 30),
        lost_at=at(2025, 5, 10),
        loss_reason=LossReason.COMPETITOR,
    )
    make_lead(dealer, at(2025, 6, 1))
    for day in range(1, 6):
        make_lead(
            other_dealer,
            at(2025, 5, day),
            ordered_at=at(2025, 6, 1) if day == 1 else None,
        )
    with time_machine.travel(NOW, tick=False):
        funnel_refresh()
    return {"consultant": consultant}


@time_machine.travel(NOW, tick=False)
def test_manager_sees_their_dealers_figures_only(client_for, manager, network, other_dealer):
    response = client_for(manager).get(reverse("sales:funnel"))

    assert response.status_code == 200
    data = charts(response)
    assert [s["count"] for s in data["funnel"]] == [3, 2, 1, 1, 1, 0]
    assert data["dealers"] == []
    html = response.content.decode()
    assert other_dealer.name not in html
    assert 'id="funnel-dealers"' not in html
    assert 'data-kpi="leads">3<' in html
    # the referral converted (1 of 1), the advertising lead did not (0 of 1)
    assert data["referral"]["ours"] == [100.0, 0.0]
    assert data["referral"]["documents"] == [30.0, 5.0]
    assert [c["label"] for c in data["consultants"]][0] in {"顾问甲", "未分配", "Unassigned"}


@time_machine.travel(NOW, tick=False)
def test_manager_page_shows_response_time_decision_cycle_and_losses(client_for, manager, network):
    response = client_for(manager).get(reverse("sales:funnel"))
    data = charts(response)

    channels = {c["label"]: c for c in data["channels"]}
    assert sum(c["leads"] for c in channels.values()) == 3
    referral = next(c for c in data["channels"] if c["leads"] and c["conversion"] == 100.0)
    assert referral["decision_days"] == 45.0
    assert referral["response_minutes"] == 20.0 and referral["in_time"] == 100.0
    assert [loss["value"] for loss in data["losses"]] == [1]


@time_machine.travel(NOW, tick=False)
def test_oem_sees_every_dealer_of_the_brand_side_by_side(
    client_for, oem_analyst, network, dealer, other_dealer
):
    foreign = DealerFactory(
        brand=BrandFactory(code="other-brand", name="别的品牌"), name="别的品牌店"
    )

    response = client_for(oem_analyst).get(reverse("sales:funnel"))

    assert response.status_code == 200
    data = charts(response)
    by_dealer = {d["label"]: d for d in data["dealers"]}
    assert set(by_dealer) == {dealer.name, other_dealer.name}
    assert by_dealer[dealer.name]["leads"] == 3
    assert by_dealer[other_dealer.name]["leads"] == 5
    assert by_dealer[other_dealer.name]["conversion"] == 20.0
    assert data["funnel"][0]["count"] == 8
    assert foreign.name not in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_oem_filters_one_dealer_and_its_consultants(
    client_for, oem_analyst, network, dealer, other_dealer
):
    consultant = network["consultant"]

    response = client_for(oem_analyst).get(
        reverse("sales:funnel"), {"dealer": dealer.pk, "consultant": consultant.pk}
    )

    data = charts(response)
    assert data["funnel"][0]["count"] == 1
    assert [d["label"] for d in data["dealers"]] == [dealer.name]


@time_machine.travel(NOW, tick=False)
def test_filters_by_channel_and_period(client_for, manager, network):
    client = client_for(manager)

    douyin = charts(client.get(reverse("sales:funnel"), {"channel": LeadChannel.DOUYIN}))
    last_3 = charts(client.get(reverse("sales:funnel"), {"months": 3}))

    assert douyin["funnel"][0]["count"] == 1
    assert [m["label"] for m in last_3["months"]] == ["2025-04", "2025-05", "2025-06"]
    assert last_3["funnel"][0]["count"] == 2  # March is outside


@time_machine.travel(NOW, tick=False)
def test_a_dealer_of_another_brand_in_the_filter_is_refused_not_shown(
    client_for, oem_analyst, network
):
    foreign = DealerFactory(
        brand=BrandFactory(code="other-brand", name="别的品牌"), name="别的品牌店"
    )

    response = client_for(oem_analyst).get(reverse("sales:funnel"), {"dealer": foreign.pk})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert charts(response)["funnel"][0]["count"] == 8  # the brand's own figures, unfiltered


@time_machine.travel(NOW, tick=False)
def test_htmx_request_gets_the_body_only(client_for, manager, network):
    response = client_for(manager).get(reverse("sales:funnel"), HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="funnel-body">')
    assert "<html" not in html


def _dealers_with_leads(brand, make_lead, n: int) -> None:
    for i in range(n):
        d = DealerFactory(brand=brand, name=f"查询店{i}")
        make_lead(d, at(2025, 5, 1), ordered_at=at(2025, 6, 1))
        make_lead(d, at(2025, 4, 1), channel=LeadChannel.REFERRAL, lost_at=at(2025, 5, 1))


@pytest.mark.parametrize("dealers", [1, 5])
@time_machine.travel(NOW, tick=False)
def test_oem_page_query_count_is_fixed_whatever_the_dealers(
    client_for, brand, make_lead, django_assert_max_num_queries, dealers
):
    _dealers_with_leads(brand, make_lead, dealers)
    funnel_refresh()
    oem = UserFactory(role=Role.OEM_ANALYST, dealer=None, brand=brand)
    client = client_for(oem)

    with django_assert_max_num_queries(14):
        response = client.get(reverse("sales:funnel"))

    assert len(charts(response)["dealers"]) == dealers


@pytest.mark.parametrize("dealers", [1, 5])
@time_machine.travel(NOW, tick=False)
def test_manager_page_query_count_is_fixed(
    client_for, brand, make_lead, django_assert_max_num_queries, dealers
):
    _dealers_with_leads(brand, make_lead, dealers)
    funnel_refresh()
    manager = UserFactory(role=Role.DEALER_MANAGER, dealer=DealerFactory(brand=brand))
    make_lead(manager.dealer, at(2025, 5, 2))
    funnel_refresh()
    client = client_for(manager)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("sales:funnel"), {"months": 24})

    assert charts(response)["funnel"][0]["count"] == 1


@time_machine.travel(NOW, tick=False)
def test_export_of_the_comparison_table_is_audited(
    client_for, oem_analyst, network, dealer, other_dealer
):
    response = client_for(oem_analyst).get(reverse("sales:funnel_export"), {"format": "csv"})

    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {r[0] for r in rows[1:]} == {dealer.name, other_dealer.name}
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor == oem_analyst
    assert event.changes["rows"] == 2


@time_machine.travel(NOW, tick=False)
def test_xlsx_export_for_a_manager_lists_consultants(client_for, manager, network):
    response = client_for(manager).get(reverse("sales:funnel_export"), {"format": "xlsx"})

    assert response.status_code == 200
    assert response.content[:2] == b"PK"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count() == 1


# --- API ---------------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_api_gives_a_manager_their_dealers_figures(client_for, manager, network):
    response = client_for(manager).get("/api/sales/funnel")

    assert response.status_code == 200
    body = response.json()
    assert body["total"]["leads"] == 3
    assert body["by_dealer"] == []
    assert [s["count"] for s in body["stages"]] == [3, 2, 1, 1, 1, 0]
    assert body["referral"]["conversion_percent"] == 100.0
    assert body["documents"]["decision_days"] == 45
    assert body["loss_reasons"][0]["reason"] == LossReason.COMPETITOR


@time_machine.travel(NOW, tick=False)
def test_api_refuses_another_dealers_figures_to_a_manager(
    client_for, manager, network, other_dealer
):
    response = client_for(manager).get("/api/sales/funnel", {"dealer_id": other_dealer.pk})

    assert response.status_code == 404


@time_machine.travel(NOW, tick=False)
def test_api_gives_the_oem_every_dealer(client_for, oem_analyst, network, dealer, other_dealer):
    client = client_for(oem_analyst)

    everyone = client.get("/api/sales/funnel").json()
    one = client.get("/api/sales/funnel", {"dealer_id": other_dealer.pk}).json()
    foreign = DealerFactory(brand=BrandFactory(code="other-brand", name="别的品牌"))
    refused = client.get("/api/sales/funnel", {"dealer_id": foreign.pk})

    assert {d["key"]: d["leads"] for d in everyone["by_dealer"]} == {
        str(dealer.pk): 3,
        str(other_dealer.pk): 5,
    }
    assert one["total"]["leads"] == 5
    assert refused.status_code == 404


@time_machine.travel(NOW, tick=False)
def test_api_names_an_invalid_filter(client_for, manager, network):
    response = client_for(manager).get("/api/sales/funnel", {"channel": "carrier_pigeon"})

    assert response.status_code == 422
    assert "channel" in json.dumps(response.json())


def test_the_period_shown_as_chosen_is_the_one_used(client_for, manager):
    # Given no period in the address (or only another filter), the default period is used …
    for params in ({}, {"channel": "referral"}):
        html = client_for(manager).get(reverse("sales:funnel"), params).content.decode()
        # … and it is the one the period filter shows as chosen.
        assert re.search(r'<option value="12" selected>', html), params
