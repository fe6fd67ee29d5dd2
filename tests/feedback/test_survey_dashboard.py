"""The satisfaction dashboard and /api/feedback/scores: read from the rollup, scoped to the
dealer (the OEM compares its brand's dealers), intervals where samples are small."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.feedback.models import SurveyKind
from dealercrm.feedback.services.scores import rollup_refresh_invitations
from tests.core.factories import UserFactory
from tests.customers.factories import CustomerFactory
from tests.feedback.factories import make_invitation
from tests.feedback.score_helpers import answer, questionnaire_for
from tests.vehicles.factories import CarModelFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 15, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def answered(dealer, other_dealer):
    """The dealer: four responses this month (two per consultant), one last month, and two
    invitations not answered. The other dealer: three responses, all excellent."""
    alice = UserFactory(dealer=dealer, display_name="李顾问", role=Role.SALES_CONSULTANT)
    bob = UserFactory(dealer=dealer, display_name="赵顾问", role=Role.SALES_CONSULTANT)
    model = CarModelFactory(brand=dealer.brand, series="星辰", name="标准版", model_year=2025)
    mine, theirs = questionnaire_for(dealer), questionnaire_for(other_dealer)
    with time_machine.travel(NOW, tick=False):
        for consultant, nps, rating, expected in (
            (alice, 10, 5, 5), (alice, 9, 4, 5), (bob, 6, 3, 5), (bob, 0, 1, 5),
        ):  # fmt: skip
            answer(
                mine,
                dealer=dealer,
                values={"推荐吗？": nps, "服务评价": rating, "服务期望": expected},
                consultant=consultant,
                car_model=model,
            )
        for _ in range(2):
            make_invitation(questionnaire=mine, customer=CustomerFactory(dealer=dealer))
        for _ in range(3):
            answer(theirs, dealer=other_dealer, values={"推荐吗？": 10, "服务评价": 5})
    last_month = NOW - datetime.timedelta(days=30)
    with time_machine.travel(last_month, tick=False):
        answer(mine, dealer=dealer, values={"推荐吗？": 8, "服务评价": 4}, at=last_month)
    with time_machine.travel(NOW, tick=False):
        rollup_refresh_invitations()
    return {"alice": alice, "bob": bob, "model": model}


def _scores(client, **params):  # noqa: ANN001, ANN003, ANN202
    response = client.get("/api/feedback/scores", params)
    assert response.status_code == 200, response.content
    return response.json()


@time_machine.travel(NOW, tick=False)
def test_a_dealer_sees_its_own_scores_only(answered, client_for, make_user):
    client = client_for(make_user(Role.DEALER_MANAGER))

    data = _scores(client, months=3)

    total = data["total"]
    # NPS answers 10, 9, 6, 0, 8: 2 promoters, 1 passive, 2 detractors → 0
    assert (total["promoters"], total["passives"], total["detractors"]) == (2, 1, 2)
    assert total["nps"] == 0.0
    # ratings 5, 4, 3, 1, 4 → 100, 75, 50, 0, 75: CSI 60
    assert total["csi"] == 60.0
    # 5 responses to 7 invitations (5 answered + 2 sent)
    assert (total["responses"], total["invitations"], total["response_rate"]) == (5, 7, 71.4)
    assert data["by_dealer"] == []


@time_machine.travel(NOW, tick=False)
def test_the_gap_per_dimension_and_the_trend_with_sample_sizes(answered, client_for, make_user):
    client = client_for(make_user(Role.DEALER_MANAGER))

    data = _scores(client, months=3)

    service = next(d for d in data["by_dimension"] if d["key"] == "service_quality")
    # experience (100 + 75 + 50 + 0 + 75) / 5 = 60; expectation 100 four times: gap −40
    assert (service["csi"], service["expectation"], service["gap"]) == (60.0, 100.0, -40.0)
    months = {m["key"]: m for m in data["by_month"]}
    assert list(months) == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert months["2026-03-01"]["csi_answers"] == 4
    assert months["2026-03-01"]["csi"] == 56.2 or months["2026-03-01"]["csi"] == 56.3
    assert months["2026-02-01"]["csi_answers"] == 1
    assert months["2026-01-01"]["csi"] is None
    # n = 4: a small sample, with its interval
    assert months["2026-03-01"]["csi_small_sample"] is True
    low, high = months["2026-03-01"]["csi_interval"]
    assert 0 <= low < 56.25 < high <= 100
    assert months["2026-03-01"]["nps_interval"][0] < months["2026-03-01"]["nps"]


@time_machine.travel(NOW, tick=False)
def test_the_nps_interval_is_the_standard_error_of_the_difference(dealer):
    # given 2 promoters, 2 passives, 2 detractors: mean 0, E[x²] = 4/6
    from dealercrm.feedback.selectors.survey_scores import Score

    score = Score(nps_answers=6, promoters=2, detractors=2)

    # variance (4/6 − 0) · 6/5 = 0.8; SE = √(0.8/6) = 0.365; ± 1.96 · SE = ± 71.6 points
    assert score.nps == 0
    assert score.nps_interval == (-71.6, 71.6)
    assert score.nps_small


@time_machine.travel(NOW, tick=False)
def test_filters_by_consultant_and_tables_by_person_and_model(answered, client_for, make_user):
    client = client_for(make_user(Role.DEALER_MANAGER))

    alice_only = _scores(client, months=3, consultant_id=answered["alice"].pk)
    data = _scores(client, months=3)

    assert alice_only["total"]["csi"] == 87.5 and alice_only["total"]["nps"] == 100.0
    people = {row["label"]: row for row in data["by_consultant"]}
    assert people["李顾问"]["rank"] == 1 and people["李顾问"]["csi"] == 87.5
    assert people["赵顾问"]["csi"] == 25.0
    models = {row["key"]: row for row in data["by_model"]}
    assert models[str(answered["model"].pk)]["csi_answers"] == 4
    assert models["0"]["csi_answers"] == 1  # last month's response had no model
    assert _scores(client, kind=SurveyKind.AFTER_DELIVERY)["total"]["csi"] is None


@time_machine.travel(NOW, tick=False)
def test_the_oem_compares_its_dealers_ranked(
    answered, client_for, oem_analyst, dealer, other_dealer
):
    client = client_for(oem_analyst)

    data = _scores(client, months=3)

    ranked = [(row["key"], row["rank"], row["csi"]) for row in data["by_dealer"]]
    assert ranked == [(str(other_dealer.pk), 1, 100.0), (str(dealer.pk), 2, 60.0)]
    assert data["total"]["csi_answers"] == 8
    one = _scores(client, months=3, dealer_id=other_dealer.pk)
    assert one["total"]["csi"] == 100.0 and one["total"]["csi_answers"] == 3


@time_machine.travel(NOW, tick=False)
def test_another_dealer_or_a_bad_filter_is_refused(
    answered, client_for, make_user, other_dealer, english
):
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))

    assert client.get("/api/feedback/scores", {"dealer_id": other_dealer.pk}).status_code == 404
    bad = client.get("/api/feedback/scores", {"kind": "nonsense"})
    assert bad.status_code == 422 and "kind" in bad.content.decode()
    page = client.get(reverse("surveys:dashboard"), {"months": "7"})
    assert page.status_code == 200
    assert "Choose a period of 3, 6, 12 or 24 months." in page.content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_page_shows_scores_and_the_small_sample_interval_in_few_queries(
    answered, client_for, make_user, oem_analyst, english, django_assert_max_num_queries
):
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))

    with django_assert_max_num_queries(14):
        page = client.get(reverse("surveys:dashboard"), {"months": 3})

    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-kpi="csi">60.0<' in body
    assert 'data-kpi="nps">0.0<' in body
    assert 'data-kpi="response-rate">71.4%' in body
    assert "small sample" in body and 'data-kpi="csi-interval"' in body
    assert "survey-dashboard-charts" in body and "李顾问" in body
    partial = client.get(reverse("surveys:dashboard"), HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode()
    oem = client_for(oem_analyst)
    with django_assert_max_num_queries(14):
        body = oem.get(reverse("surveys:dashboard"), {"months": 3}).content.decode()
    assert 'id="survey-dealers"' in body
