"""The OEM dispatch pages and API, and the dealer scorecard."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from dealercrm.core.permissions import Role
from dealercrm.sales.models import LeadStage, OemDispatch
from dealercrm.sales.selectors.dispatch import ScorecardPeriod, scorecard
from tests.core.factories import BrandFactory, DealerFactory, UserFactory
from tests.sales.factories import LeadFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 11, 16, 10, 0, tzinfo=SHANGHAI)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def oem_admin(make_user):
    return make_user(Role.OEM_ADMIN, language="en")


def _dispatch(dealer, n, *, days=10, lead=None, released=False, **kw):
    return OemDispatch.objects.create(
        dealer=dealer,
        prospect_name=f"意向{n}",
        phone=f"+86139{n:08d}",
        test_drive_date=TODAY + datetime.timedelta(days=days),
        release_on=TODAY + datetime.timedelta(days=days - 3),
        released_at=NOW if (released or lead) else None,
        lead=lead,
        **kw,
    )


def test_list_shows_the_networks_dispatches_masked_in_fixed_queries(
    client_for, oem_admin, dealer, other_dealer, django_assert_max_num_queries
):
    for n in range(12):
        _dispatch(dealer if n % 2 else other_dealer, n)
    foreign = DealerFactory(brand=BrandFactory(code="foreign"))
    _dispatch(foreign, 99)
    client = client_for(oem_admin)

    with django_assert_max_num_queries(12):
        response = client.get(reverse("sales:dispatches"))

    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("意向") == 12
    assert "意向99" not in body
    assert "139****0001" in body and "+8613900000001" not in body


def test_list_filters_by_dealer_and_status(client_for, oem_admin, dealer, other_dealer):
    _dispatch(dealer, 1)
    _dispatch(dealer, 2, released=True)
    _dispatch(other_dealer, 3)

    response = client_for(oem_admin).get(
        reverse("sales:dispatches"), {"dealer": dealer.pk, "status": "waiting"}
    )

    body = response.content.decode()
    assert "意向1<" in body and "意向2<" not in body and "意向3<" not in body


def test_dealer_staff_cannot_open_dispatch_pages(client_for, manager, dealer):
    dispatch = _dispatch(dealer, 1)
    client = client_for(manager)

    assert client.get(reverse("sales:dispatches")).status_code == 403
    assert client.get(reverse("sales:dispatch", args=[dispatch.pk])).status_code == 403


def test_another_brands_oem_gets_404_for_a_dispatch(client, dealer):
    dispatch = _dispatch(dealer, 1)
    stranger = UserFactory(role=Role.OEM_ADMIN, dealer=None, brand=BrandFactory(code="else"))
    client.force_login(stranger)

    assert client.get(reverse("sales:dispatch", args=[dispatch.pk])).status_code == 404


def test_create_page_dispatches_and_shows_the_dispatch(client_for, oem_admin, dealer):
    client = client_for(oem_admin)

    response = client.post(
        reverse("sales:dispatch_create"),
        {
            "dealer_id": dealer.pk,
            "prospect_name": "陈静",
            "phone": "13812345678",
            "test_drive_date": "2026-11-26",
            "preferred_time": "10:00",
        },
    )

    dispatch = OemDispatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("sales:dispatch", args=[dispatch.pk])
    assert dispatch.release_on == datetime.date(2026, 11, 23)
    detail = client.get(response["Location"])
    assert "陈静" in detail.content.decode()


def test_create_page_shows_a_past_date_on_its_field_and_saves_nothing(
    client_for, oem_admin, dealer
):
    with translation.override("en"):
        response = client_for(oem_admin).post(
            reverse("sales:dispatch_create"),
            {
                "dealer_id": dealer.pk,
                "prospect_name": "陈静",
                "phone": "13812345678",
                "test_drive_date": "2026-11-01",
            },
        )

    assert response.status_code == 200
    assert "has passed" in response.content.decode()
    assert not OemDispatch.objects.exists()


def test_import_page_shows_the_counts_and_the_errors(client_for, oem_admin, dealer, consultant):
    content = (
        "name,mobile,dealer code,test-drive date,ref\n"
        f"Zhang San,13800000001,{dealer.code},2026-12-01,A1\n"
        f"Li Si,1380000,{dealer.code},2026-12-01,A2\n"
    ).encode()

    response = client_for(oem_admin).post(
        reverse("sales:dispatch_import"),
        {"file": SimpleUploadedFile("list.csv", content, content_type="text/csv")},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="import-created">1<' in body
    assert 'id="import-errors">1<' in body
    assert OemDispatch.objects.count() == 1


def test_release_now_hands_the_lead_to_the_dealer(client_for, oem_admin, dealer, consultant):
    dispatch = _dispatch(dealer, 1)

    response = client_for(oem_admin).post(reverse("sales:dispatch_release", args=[dispatch.pk]))

    dispatch.refresh_from_db()
    assert response.status_code == 302
    assert dispatch.released_at is not None and dispatch.lead is not None


# --- scorecard --------------------------------------------------------------------------------


def _scored(dealer, consultant):
    due = NOW - datetime.timedelta(hours=2)
    on_time = LeadFactory(
        dealer=dealer,
        consultant=consultant,
        stage=LeadStage.ORDER,
        first_response_due_at=due,
        first_contacted_at=due - datetime.timedelta(minutes=5),
        test_drive_at=NOW,
        ordered_at=NOW,
    )
    late = LeadFactory(
        dealer=dealer,
        consultant=consultant,
        stage=LeadStage.LOST,
        first_response_due_at=due,
        first_contacted_at=due + datetime.timedelta(minutes=50),
        lost_at=NOW,
    )
    pending = LeadFactory(
        dealer=dealer,
        consultant=consultant,
        stage=LeadStage.CONTACTED,
        first_response_due_at=due,
        first_contacted_at=due,
        loss_requested_at=NOW,
    )
    _dispatch(dealer, 1, days=-5, lead=on_time)
    _dispatch(dealer, 2, days=-5, lead=late)
    _dispatch(dealer, 3, days=-4, lead=pending)
    _dispatch(dealer, 4, days=-3, lead=LeadFactory(dealer=dealer, consultant=consultant))
    _dispatch(dealer, 5, days=5)  # not yet released


def test_scorecard_counts_each_dealers_dispatched_leads_in_one_query(
    oem_analyst, dealer, other_dealer, consultant, django_assert_num_queries
):
    _scored(dealer, consultant)
    _dispatch(other_dealer, 9, days=-1, released=True)
    period = ScorecardPeriod(TODAY - datetime.timedelta(days=30), TODAY + datetime.timedelta(30))

    with django_assert_num_queries(1):
        rows = scorecard(oem_analyst, period)

    by_dealer = {r.dealer_id: r for r in rows}
    mine = by_dealer[dealer.pk]
    assert (mine.dispatched, mine.received, mine.contacted_on_time) == (5, 4, 2)
    assert (mine.test_driven, mine.converted, mine.lost, mine.loss_pending) == (1, 1, 1, 1)
    assert mine.received_rate == 0.8
    assert mine.contacted_on_time_rate == 0.5
    assert mine.converted_rate == 0.25
    assert by_dealer[other_dealer.pk].dispatched == 1


def test_scorecard_period_is_by_test_drive_date(oem_analyst, dealer, consultant):
    _scored(dealer, consultant)

    rows = scorecard(oem_analyst, ScorecardPeriod(TODAY, TODAY + datetime.timedelta(days=30)))

    assert [r.dispatched for r in rows] == [1]


def test_scorecard_sorts_by_a_rate_descending(oem_analyst, dealer, other_dealer, consultant):
    _scored(dealer, consultant)
    _dispatch(other_dealer, 9, days=-1, released=True)
    period = ScorecardPeriod(TODAY - datetime.timedelta(days=30), TODAY)

    rows = scorecard(oem_analyst, period, sort="received_rate", descending=True)

    assert [r.dealer_id for r in rows] == [other_dealer.pk, dealer.pk]


def test_scorecard_page_shows_table_and_chart_data(
    client_for, oem_analyst, dealer, consultant, django_assert_max_num_queries
):
    _scored(dealer, consultant)
    client = client_for(oem_analyst)

    with django_assert_max_num_queries(8):
        response = client.get(
            reverse("sales:scorecard"), {"date_from": "2026-11-01", "date_to": "2026-12-31"}
        )

    body = response.content.decode()
    assert response.status_code == 200
    assert dealer.code in body
    assert "scorecard-chart-data" in body
    assert "80.0%" in body


def test_dealer_manager_has_no_scorecard(client_for, manager):
    assert client_for(manager).get(reverse("sales:scorecard")).status_code == 403


# --- API --------------------------------------------------------------------------------------


def test_api_creates_lists_and_gets_dispatches(client_for, oem_admin, dealer):
    client = client_for(oem_admin)

    created = client.post(
        "/api/sales/dispatches",
        {
            "dealer_id": dealer.pk,
            "prospect_name": "周杰",
            "phone": "13812345678",
            "test_drive_date": "2026-11-30",
        },
        content_type="application/json",
    )
    listed = client.get("/api/sales/dispatches", {"dealer": dealer.pk})
    got = client.get(f"/api/sales/dispatches/{created.json()['id']}")

    assert created.status_code == 201
    assert created.json()["phone"] == "138****5678"
    assert created.json()["release_on"] == "2026-11-27"
    assert listed.json()["count"] == 1
    assert got.json()["prospect_name"] == "周杰"


def test_api_refuses_a_past_date_with_the_field_named(client_for, oem_admin, dealer):
    response = client_for(oem_admin).post(
        "/api/sales/dispatches",
        {
            "dealer_id": dealer.pk,
            "prospect_name": "周杰",
            "phone": "13812345678",
            "test_drive_date": "2026-11-01",
        },
        content_type="application/json",
    )

    assert response.status_code == 422
    assert "test_drive_date" in response.json()["errors"]
    assert not OemDispatch.objects.exists()


def test_api_imports_a_multipart_file(client_for, oem_admin, dealer, consultant):
    content = (
        "姓名,手机,经销商代码,试驾日期,厂家编号\n"
        f"张三,13800000001,{dealer.code},2026-12-01,A1\n"
        f"李四,13800000002,{dealer.code},2026-12-01,A1\n"
    ).encode()

    response = client_for(oem_admin).post(
        "/api/sales/dispatches/import",
        {"file": SimpleUploadedFile("list.csv", content, content_type="text/csv")},
    )

    data = response.json()
    assert response.status_code == 200
    assert (data["rows"], data["created"], data["skipped"], data["error_rows"]) == (2, 1, 1, 0)


def test_api_scorecard(client_for, oem_analyst, dealer, consultant):
    _scored(dealer, consultant)

    response = client_for(oem_analyst).get(
        "/api/sales/scorecard", {"date_from": "2026-11-01", "date_to": "2026-12-31"}
    )

    row = response.json()["dealers"][0]
    assert response.status_code == 200
    assert (row["dispatched"], row["received"], row["received_rate"]) == (5, 4, 0.8)


def test_htmx_filter_gets_only_the_results_partial(client_for, oem_admin, dealer):
    _dispatch(dealer, 1)

    response = client_for(oem_admin).get(
        reverse("sales:dispatches"), {"status": "waiting"}, HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert 'id="dispatch-results"' in body and "<html" not in body and "意向1" in body


def test_dealer_staff_read_no_dispatch_even_released_ones(manager, dealer):
    from dealercrm.sales.selectors.dispatch import visible_dispatches

    _dispatch(dealer, 1)
    _dispatch(dealer, 2, released=True)

    assert not visible_dispatches(manager).exists()
