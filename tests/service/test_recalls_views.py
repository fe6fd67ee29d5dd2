"""Recall pages and API: the OEM's figures per dealer and region, a dealer's own cars only, the
launch from the page, the VIN upload, the timeline."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from dealercrm.core.permissions import Role
from dealercrm.customers.timeline import customer_timeline
from dealercrm.service.models import RecallStatus, RecallVehicle
from dealercrm.service.models.recalls import RecallCampaignStatus
from dealercrm.service.selectors import recalls as selectors
from dealercrm.service.services import recalls as services
from tests.core.factories import DealerFactory
from tests.service.test_recalls import campaign_for, car, vin


@pytest.fixture
def oem_admin(make_user):
    return make_user(Role.OEM_ADMIN, language="en")


@pytest.fixture
def launched(dealer, other_dealer, brand, oem_admin):
    """Three cars at the home dealer, two at the other (another region); one of each repaired."""
    home = [car(dealer, serial=n) for n in (1, 2, 3)]
    away = [car(other_dealer, serial=n) for n in (4, 5)]
    campaign = campaign_for(brand, vin_from=vin(1), vin_to=vin(9))
    services.recall_launch(actor=oem_admin, campaign=campaign)
    RecallVehicle.objects.filter(vin__in=[home[0].vin, away[0].vin]).update(
        status=RecallStatus.COMPLETED, completed_at=timezone.now()
    )
    RecallVehicle.objects.filter(vin=home[1].vin).update(status=RecallStatus.BOOKED)
    return campaign, home, away


def test_the_oem_sees_completion_per_dealer_and_region_in_one_query(
    launched, dealer, other_dealer, django_assert_num_queries
):
    campaign, _home, _away = launched

    with django_assert_num_queries(1):
        figures = selectors.campaign_figures(campaign)

    by_dealer = {d.dealer_id: d for d in figures.dealers}
    home, away = by_dealer[dealer.pk], by_dealer[other_dealer.pk]
    assert (home.affected, home.notified, home.booked, home.completed) == (3, 3, 2, 1)
    assert (away.affected, away.completed) == (2, 1)
    assert f"{home.rate:.3f}" == "0.333"
    regions = dict(figures.regions)
    assert regions[dealer.region.name].affected == 3
    assert regions[other_dealer.region.name].completed == 1
    assert (figures.total.affected, figures.total.completed) == (5, 2)


def test_the_detail_page_shows_the_figures_and_chart(client_for, oem_admin, launched):
    campaign, _home, _away = launched
    response = client_for(oem_admin).get(
        reverse("service:recall_detail", kwargs={"recall_id": campaign.pk})
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="recall-chart-data"' in html
    assert "40.0%" in html  # 2 of 5 repaired


def test_a_dealer_sees_only_its_own_cars_and_figures(client_for, make_user, launched, dealer):
    campaign, home, away = launched
    advisor = make_user(Role.SERVICE_ADVISOR, language="en")
    client = client_for(advisor)

    cars = client.get(reverse("service:recall_vehicles", kwargs={"recall_id": campaign.pk}))
    detail = client.get(reverse("service:recall_detail", kwargs={"recall_id": campaign.pk}))

    html = cars.content.decode()
    assert all(c.vin in html for c in home)
    assert not any(c.vin in html for c in away)
    assert not any(c.vin in detail.content.decode() for c in away)
    # … asking for the other dealer's cars by filter changes nothing
    filtered = client.get(
        reverse("service:recall_vehicles", kwargs={"recall_id": campaign.pk}),
        {"dealer": away[0].dealer_id},
    )
    assert not any(c.vin in filtered.content.decode() for c in away)


def test_the_api_lists_a_dealers_own_cars_only(client_for, make_user, launched):
    campaign, home, away = launched
    advisor = make_user(Role.SERVICE_ADVISOR)

    response = client_for(advisor).get("/api/service/recall-vehicles", {"campaign_id": campaign.pk})

    assert response.status_code == 200
    assert {row["vin"] for row in response.json()} == {c.vin for c in home}


def test_the_api_gives_the_oem_the_figures_per_dealer(client_for, oem_admin, launched):
    campaign, _home, _away = launched
    response = client_for(oem_admin).get(f"/api/service/recalls/{campaign.pk}")
    data = response.json()
    assert response.status_code == 200
    assert sorted(d["affected"] for d in data["dealers"]) == [2, 3]
    assert data["total"]["completed"] == 2


def test_the_oem_creates_uploads_and_launches_from_the_pages(client_for, oem_admin, dealer, brand):
    target = car(dealer, serial=7)
    client = client_for(oem_admin)
    created = client.post(
        reverse("service:recall_create"),
        {"code": "RC-2026-01", "title": "燃油泵", "starts_on": "2026-05-01"},
    )
    assert created.status_code == 302
    campaign = services.RecallCampaign.objects.get(code="RC-2026-01")

    upload = io.BytesIO(f"VIN\n{target.vin}\nLSV123\n".encode())
    upload.name = "vins.txt"
    uploaded = client.post(
        reverse("service:recall_vins", kwargs={"recall_id": campaign.pk}), {"file": upload}
    )
    assert uploaded.status_code == 200
    assert (
        "3 rows: 1 added, 0 duplicates, 1 refused, 1 blank or header." in uploaded.content.decode()
    )

    preview = client.get(reverse("service:recall_detail", kwargs={"recall_id": campaign.pk}))
    assert 'id="recall-preview"' in preview.content.decode()

    launched = client.post(reverse("service:recall_launch", kwargs={"recall_id": campaign.pk}))
    assert launched.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == RecallCampaignStatus.ACTIVE
    assert RecallVehicle.objects.get(campaign=campaign).vin == target.vin


def test_another_brands_campaign_is_not_found(client_for, oem_admin):
    foreign = DealerFactory(brand__code="other-brand", brand__name="别家")
    campaign = campaign_for(foreign.brand, vins=[vin(1)])
    response = client_for(oem_admin).get(
        reverse("service:recall_detail", kwargs={"recall_id": campaign.pk})
    )
    assert response.status_code == 404


def test_a_dealer_does_not_see_draft_campaigns_in_the_list(client_for, make_user, brand):
    campaign_for(brand, code="DRAFT-1")
    campaign_for(brand, code="LIVE-1", status=RecallCampaignStatus.ACTIVE)
    advisor = make_user(Role.SERVICE_ADVISOR)
    html = client_for(advisor).get(reverse("service:recall_list")).content.decode()
    assert "LIVE-1" in html and "DRAFT-1" not in html


def test_a_recall_notice_is_on_the_owners_timeline(launched):
    _campaign, home, _away = launched
    with translation.override("en"):
        entries = [e for e in customer_timeline(home[1].owner) if e.kind.startswith("recall_")]
    assert len(entries) == 1
    assert "Appointment booked" in entries[0].title


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_cars_page_costs_the_same_queries_whatever_the_number_of_cars(
    client_for, oem_admin, dealer, brand
):
    few = campaign_for(brand, vins=[car(dealer, serial=1).vin])
    many = campaign_for(brand, vins=[car(dealer, serial=n).vin for n in range(2, 12)])
    services.recall_launch(actor=oem_admin, campaign=few)
    services.recall_launch(actor=oem_admin, campaign=many)
    client = client_for(oem_admin)
    client.get(reverse("service:recall_list"))  # warm the session

    small = _queries(client, reverse("service:recall_vehicles", kwargs={"recall_id": few.pk}))
    large = _queries(client, reverse("service:recall_vehicles", kwargs={"recall_id": many.pk}))
    detail_small = _queries(client, reverse("service:recall_detail", kwargs={"recall_id": few.pk}))
    detail_large = _queries(client, reverse("service:recall_detail", kwargs={"recall_id": many.pk}))

    assert small == large
    assert detail_small == detail_large
