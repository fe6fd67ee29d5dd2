"""The audit's pages: a dealer sees only its own scores, the OEM every dealer ranked; the
drill-down lists exactly the failing records; the policy is validated; the rebate export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.dataquality.models import AuditPolicy, DealerAuditScore, RebateBand
from dealercrm.dataquality.services.audit import audit_run, rebate_bands_save
from tests.core.factories import BrandFactory, DealerFactory
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory

pytestmark = pytest.mark.django_db
THIS_MONTH = dt.date.today().replace(day=1)
HERE = {"province": "上海市", "city": "上海市"}


@pytest.fixture
def scored(dealer, other_dealer, make_user):  # noqa: ANN201
    """Dealer A: two clean customers and three without gender; dealer B: one clean customer.
    Audited for this month, with the brand's bands."""
    for n in range(2):
        c = CustomerFactory(**HERE, dealer=dealer, name=f"好客户{n}", gender="male")
        CustomerPhoneFactory(customer=c)
    missing = [CustomerFactory(**HERE, dealer=dealer, name=f"缺性别{n}") for n in range(3)]
    for c in missing:
        CustomerPhoneFactory(customer=c)
    b = CustomerFactory(**HERE, dealer=other_dealer, name="别家客户", gender="female")
    CustomerPhoneFactory(customer=b)
    admin = make_user(Role.OEM_ADMIN, language="en")
    rebate_bands_save(
        actor=admin,
        brand_id=dealer.brand_id,
        bands=[(90, 100, "A"), (80, 80, "B"), (70, 50, "C")],
    )
    audit_run(brand_id=dealer.brand_id, period=THIS_MONTH)
    return {"missing": missing, "admin": admin}


def test_a_dealer_sees_its_score_rank_and_failing_checks_only(
    scored, dealer, other_dealer, make_user, client_for
):
    manager = make_user(Role.DEALER_MANAGER, language="en")
    client = client_for(manager)
    response = client.get(reverse("dataquality:quality"))
    assert response.status_code == 200
    page = response.content.decode()
    score = DealerAuditScore.objects.get(dealer=dealer, period=THIS_MONTH)
    assert score.rank == 2 and score.ranked_of == 2
    assert "rank 2 of 2" in page
    assert f"?check=missing_gender&dealer={dealer.pk}" in page
    assert other_dealer.name not in page
    assert (
        client.get(reverse("dataquality:quality"), {"dealer": other_dealer.pk}).status_code == 404
    )


def test_the_oem_sees_every_dealer_ranked_and_drills_into_one(
    scored, dealer, other_dealer, oem_analyst, client_for, django_assert_max_num_queries
):
    client = client_for(oem_analyst)
    with django_assert_max_num_queries(20):
        response = client.get(reverse("dataquality:quality"))
    page = response.content.decode()
    assert response.status_code == 200
    # Best first: B (100) then A.
    assert page.index(f'data-dealer="{other_dealer.pk}"') < page.index(f'data-dealer="{dealer.pk}"')
    assert 'data-chart="dealers"' in page
    drill = client.get(reverse("dataquality:quality"), {"dealer": dealer.pk})
    assert drill.status_code == 200
    assert 'data-check="missing_gender"' in drill.content.decode()
    foreign = DealerFactory(brand=BrandFactory(code="nova", name="新星"))
    assert client.get(reverse("dataquality:quality"), {"dealer": foreign.pk}).status_code == 404


def test_the_drill_down_lists_exactly_the_failing_records(scored, dealer, make_user, client_for):
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))
    response = client.get(
        reverse("dataquality:quality_failures"), {"check": "missing_gender", "dealer": dealer.pk}
    )
    assert response.status_code == 200
    page = response.content.decode()
    for customer in scored["missing"]:
        assert customer.name in page
        assert reverse("customers:detail", args=[customer.pk]) in page
    assert "好客户" not in page
    assert "3 records fail" in page


def test_the_phone_drill_down_masks_numbers(dealer, make_user, client_for):
    customer = CustomerFactory(**HERE, dealer=dealer, name="号码错", gender="male")
    CustomerPhoneFactory(customer=customer, number="+8613912")
    audit_run(brand_id=dealer.brand_id, period=THIS_MONTH)
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))
    page = client.get(
        reverse("dataquality:quality_failures"), {"check": "invalid_phone"}
    ).content.decode()
    assert "号码错" in page
    assert "+8613912" not in page
    assert mask_phone("+8613912") in page


def test_another_dealers_failures_are_not_found(scored, other_dealer, make_user, client_for):
    client = client_for(make_user(Role.DEALER_MANAGER))
    url = reverse("dataquality:quality_failures")
    assert (
        client.get(url, {"check": "missing_gender", "dealer": other_dealer.pk}).status_code == 404
    )
    assert client.get(url, {"check": "no_such_check"}).status_code == 404


def test_an_empty_policy_post_shows_every_error_and_saves_nothing(brand, make_user, client_for):
    client = client_for(make_user(Role.OEM_ADMIN, language="en"))
    url = reverse("dataquality:audit_policy")
    assert client.get(url).status_code == 200
    response = client.post(url, {})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-field="weights.completeness"' in page
    assert 'data-field="required_fields"' in page
    assert 'data-field="bands"' in page
    assert not AuditPolicy.objects.exists() and not RebateBand.objects.exists()


def test_a_policy_with_overlapping_bands_saves_nothing(brand, make_user, client_for):
    client = client_for(make_user(Role.OEM_ADMIN, language="en"))
    data = {
        "weight_completeness": "40",
        "weight_validity": "20",
        "weight_uniqueness": "20",
        "weight_timeliness": "10",
        "weight_consistency": "10",
        "required_fields": ["name", "phone"],
        "timeliness_days": "5",
        "band_1_min": "90",
        "band_1_percent": "100",
        "band_2_min": "90",
        "band_2_percent": "50",
    }
    response = client.post(reverse("dataquality:audit_policy"), data)
    assert response.status_code == 200
    assert "must not overlap" in response.content.decode()
    assert not AuditPolicy.objects.exists()
    data["band_2_min"] = "80"
    response = client.post(reverse("dataquality:audit_policy"), data)
    assert response.status_code == 302
    policy = AuditPolicy.objects.get(brand=brand)
    assert policy.weights["completeness"] == 40 and policy.timeliness_days == 5
    assert list(RebateBand.objects.values_list("rebate_percent", flat=True)) == [100, 50]


def test_running_the_audit_from_the_page(dealer, make_user, client_for):
    CustomerFactory(**HERE, dealer=dealer, gender="male")
    client = client_for(make_user(Role.OEM_ADMIN, language="en"))
    response = client.post(
        reverse("dataquality:audit_run"), {"period": THIS_MONTH.strftime("%Y-%m")}
    )
    assert response.status_code == 302
    assert DealerAuditScore.objects.filter(dealer=dealer, period=THIS_MONTH).exists()
    assert client.get(reverse("dataquality:audit_run")).status_code == 405


def test_the_rebate_export_for_finance(scored, dealer, other_dealer, client_for):
    other_dealer.name = '=HYPERLINK("http://x")'
    other_dealer.save(update_fields=["name"])
    client = client_for(scored["admin"])
    response = client.get(reverse("dataquality:rebate_export"), {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'rebates-{THIS_MONTH:%Y-%m}.csv"')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0] == "Dealer code"
    assert [r[0] for r in rows[1:]] == [other_dealer.code, dealer.code]
    assert rows[1][1] == '\'=HYPERLINK("http://x")'
    assert rows[1][3:] == ["100.0", "1", "2", "A", "100.0"]
    a_score = DealerAuditScore.objects.get(dealer=dealer, period=THIS_MONTH).score
    assert float(rows[2][3]) == a_score
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor == scored["admin"] and event.changes["rows"] == 2
    xlsx = client.get(reverse("dataquality:rebate_export"), {"format": "xlsx"})
    assert xlsx.status_code == 200
    from python_calamine import CalamineWorkbook

    sheet = CalamineWorkbook.from_filelike(io.BytesIO(xlsx.content)).get_sheet_by_index(0)
    data = sheet.to_python()
    assert data[1][1] == '\'=HYPERLINK("http://x")' and data[1][7] == 100
    assert client.get(reverse("dataquality:rebate_export"), {"format": "pdf"}).status_code == 400


def test_a_dealer_user_cannot_export_rebates(scored, make_user, client_for):
    client = client_for(make_user(Role.DEALER_MANAGER))
    assert client.get(reverse("dataquality:rebate_export")).status_code == 403


# --- the API ------------------------------------------------------------------------------------


def test_api_scores_a_dealer_sees_its_own_the_oem_all(
    scored, dealer, other_dealer, make_user, oem_analyst, client_for
):
    url = "/api/dataquality/quality/scores"
    own = client_for(make_user(Role.DEALER_MANAGER)).get(url).json()
    assert [r["dealer_id"] for r in own] == [dealer.pk]
    everyone = client_for(oem_analyst).get(url, {"period": f"{THIS_MONTH:%Y-%m}"}).json()
    assert [r["dealer_id"] for r in everyone] == [other_dealer.pk, dealer.pk]
    assert everyone[0]["rebate_percent"] == 100.0 and everyone[0]["rank"] == 1
    assert client_for(oem_analyst).get(url, {"period": "last month"}).status_code == 422


def test_api_failures_lists_the_failing_records(scored, dealer, make_user, client_for):
    client = client_for(make_user(Role.DEALER_MANAGER))
    body = client.get("/api/dataquality/quality/failures", {"check": "missing_gender"}).json()
    assert body["count"] == 3
    assert {r["customer_id"] for r in body["results"]} == {c.pk for c in scored["missing"]}
    bad = client.get("/api/dataquality/quality/failures", {"check": "nope"})
    assert bad.status_code == 422


def test_api_policy_and_bands(brand, make_user, client_for):
    client = client_for(make_user(Role.OEM_ADMIN))
    assert client.get("/api/dataquality/quality/policy").json()["timeliness_days"] == 7
    wrong = client.put(
        "/api/dataquality/quality/policy",
        {
            "weights": {
                "completeness": 90,
                "validity": 20,
                "uniqueness": 0,
                "timeliness": 0,
                "consistency": 0,
            },
            "required_fields": ["name"],
            "timeliness_days": 3,
        },
        content_type="application/json",
    )
    assert wrong.status_code == 422 and "weights" in wrong.content.decode()
    right = client.put(
        "/api/dataquality/quality/policy",
        {
            "weights": {
                "completeness": 80,
                "validity": 20,
                "uniqueness": 0,
                "timeliness": 0,
                "consistency": 0,
            },
            "required_fields": ["name"],
            "timeliness_days": 3,
        },
        content_type="application/json",
    )
    assert right.status_code == 200 and right.json()["timeliness_days"] == 3
    bands = client.put(
        "/api/dataquality/quality/rebate-bands",
        [
            {"min_score": 80, "rebate_percent": 60, "label": "B"},
            {"min_score": 95, "rebate_percent": 100, "label": "A"},
        ],
        content_type="application/json",
    )
    assert [b["label"] for b in bands.json()] == ["A", "B"]


def test_api_rebates_for_the_oem(scored, dealer, other_dealer, client_for, make_user):
    rows = client_for(scored["admin"]).get("/api/dataquality/quality/rebates").json()
    assert [r["dealer_code"] for r in rows] == [other_dealer.code, dealer.code]
    assert rows[0]["band"] == "A" and rows[0]["rebate_percent"] == 100.0
    dealer_user = client_for(make_user(Role.DEALER_MANAGER))
    assert dealer_user.get("/api/dataquality/quality/rebates").status_code == 403
