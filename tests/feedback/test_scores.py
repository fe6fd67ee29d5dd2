"""The score rollup and the score arithmetic, on hand-computed answers."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.utils import timezone

from dealercrm.core.tenancy import DealerScope, dealer_scope
from dealercrm.feedback.models import SurveyInvitation, SurveyScoreRollup
from dealercrm.feedback.selectors.survey_scores import Score
from dealercrm.feedback.services.scores import (
    ANY,
    INVITED,
    RESPONDED,
    rollup_rebuild,
    rollup_refresh_invitations,
)
from tests.core.factories import UserFactory
from tests.customers.factories import CustomerFactory
from tests.feedback.factories import make_invitation
from tests.feedback.score_helpers import answer, questionnaire_for
from tests.vehicles.factories import CarModelFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 15, 10, 0, tzinfo=datetime.UTC)


def _rows(dealer_ids=None) -> list[tuple]:  # noqa: ANN001
    with dealer_scope(DealerScope.everything()):
        qs = SurveyScoreRollup.objects.unscoped()
        if dealer_ids:
            qs = qs.filter(dealer_id__in=dealer_ids)
        return sorted(
            (
                r.dealer_id,
                r.month,
                r.kind,
                r.question_kind,
                r.dimension,
                r.aspect,
                r.consultant_id,
                r.advisor_id,
                r.car_model_id,
                r.answers,
                round(r.points, 6),
                round(r.points_sq, 4),
                r.promoters,
                r.detractors,
            )
            for r in qs
        )


def _total(dealer, question_kind: str, dimension: str = "", aspect: str = "") -> SurveyScoreRollup:
    return SurveyScoreRollup.objects.unscoped().get(
        dealer=dealer,
        question_kind=question_kind,
        dimension=dimension,
        aspect=aspect,
        consultant_id=ANY,
        advisor_id=ANY,
        car_model_id=ANY,
    )


def _score(dealer) -> Score:  # noqa: ANN001
    score = Score()
    for row in SurveyScoreRollup.objects.unscoped().filter(
        dealer=dealer, consultant_id=ANY, advisor_id=ANY, car_model_id=ANY
    ):
        score.add_row(
            {
                "question_kind": row.question_kind,
                "aspect": row.aspect,
                "n": row.answers,
                "pts": row.points,
                "sq": row.points_sq,
                "prom": row.promoters,
                "detr": row.detractors,
            }
        )
    return score


@time_machine.travel(NOW, tick=False)
def test_nps_of_six_answers_is_promoters_minus_detractors(dealer):
    # given answers 10, 9, 8, 7, 6, 0: two promoters, two passives, two detractors
    questionnaire = questionnaire_for(dealer)
    for value in (10, 9, 8, 7, 6, 0):
        answer(questionnaire, dealer=dealer, values={"推荐吗？": value})

    # when the rollup has recorded them
    score = _score(dealer)

    # then NPS = (2 − 2) / 6 = 0, with 2 / 2 / 2
    assert (score.nps_answers, score.promoters, score.passives, score.detractors) == (6, 2, 2, 2)
    assert score.nps == 0
    assert score.promoter_percent == pytest.approx(33.3)
    assert score.responses == 6


@time_machine.travel(NOW, tick=False)
def test_csi_of_ratings_five_four_three_is_seventy_five(dealer):
    questionnaire = questionnaire_for(dealer)
    for value in (5, 4, 3):
        answer(questionnaire, dealer=dealer, values={"服务评价": value})

    row = _total(dealer, "rating5", "service_quality", "experience")
    score = _score(dealer)

    # (100 + 75 + 50) / 3 = 75; squares 10000 + 5625 + 2500
    assert (row.answers, row.points, row.points_sq) == (3, 225.0, 18125.0)
    assert score.csi == 75.0
    # s = 25, n = 3: 75 ± 1.96 · 25 / √3 = 75 ± 28.3, and a small sample
    assert score.csi_interval == (46.7, 100.0)
    assert score.csi_small


@time_machine.travel(NOW, tick=False)
def test_expectation_five_and_experience_three_is_a_gap_of_minus_fifty(dealer):
    questionnaire = questionnaire_for(dealer)
    answer(questionnaire, dealer=dealer, values={"服务期望": 5, "服务评价": 3})

    score = _score(dealer)

    # experience 3 → 50, expectation 5 → 100: 50 − 100
    assert (score.csi, score.expectation, score.gap) == (50.0, 100.0, -50.0)


@time_machine.travel(NOW, tick=False)
def test_a_one_to_ten_rating_maps_to_zero_to_hundred(dealer):
    questionnaire = questionnaire_for(dealer)
    for value in (10, 1, 4):
        answer(questionnaire, dealer=dealer, values={"等待时间": value})

    row = _total(dealer, "rating10", "waiting_time", "experience")

    # 100 + 0 + 33.33…
    assert row.answers == 3
    assert row.points == pytest.approx(100 + 0 + 300 / 9)


def test_the_month_is_the_dealers_month_not_utc(dealer):
    # given an answer at 23:30 UTC on 31 January: 07:30 on 1 February in Shanghai
    questionnaire = questionnaire_for(dealer)
    at = datetime.datetime(2026, 1, 31, 23, 30, tzinfo=datetime.UTC)
    with time_machine.travel(at, tick=False):
        answer(questionnaire, dealer=dealer, values={"推荐吗？": 10}, at=at)

    row = _total(dealer, "nps", "overall", "experience")

    assert row.month == datetime.date(2026, 2, 1)
    rollup_rebuild(dealer_ids=[dealer.pk])
    assert _total(dealer, "nps", "overall", "experience").month == datetime.date(2026, 2, 1)


def test_every_fact_is_kept_at_five_grains(dealer):
    consultant = UserFactory(dealer=dealer)
    model = CarModelFactory(brand=dealer.brand)
    questionnaire = questionnaire_for(dealer)
    with time_machine.travel(NOW, tick=False):
        answer(
            questionnaire,
            dealer=dealer,
            values={"推荐吗？": 9},
            consultant=consultant,
            car_model=model,
        )

    slices = set(
        SurveyScoreRollup.objects.unscoped()
        .filter(dealer=dealer, question_kind="nps")
        .values_list("consultant_id", "advisor_id", "car_model_id")
    )

    assert slices == {
        (consultant.pk, 0, model.pk),
        (consultant.pk, ANY, ANY),
        (ANY, 0, ANY),
        (ANY, ANY, model.pk),
        (ANY, ANY, ANY),
    }


def test_the_incremental_rollup_equals_the_rebuild(dealer, other_dealer):
    # given responses over two months, two dealers, people and models, and invitations
    consultant = UserFactory(dealer=dealer)
    advisor = UserFactory(dealer=dealer, role="service_advisor")
    model = CarModelFactory(brand=dealer.brand)
    mine, theirs = questionnaire_for(dealer), questionnaire_for(other_dealer)
    days = [NOW - datetime.timedelta(days=d) for d in (0, 3, 20, 40)]
    for i, at in enumerate(days):
        with time_machine.travel(at, tick=False):
            answer(
                mine,
                dealer=dealer,
                at=at,
                values={"推荐吗？": (10, 6, 8, 3)[i], "服务期望": 4, "服务评价": (5, 2, 4, 3)[i],
                        "等待时间": (7, 10, 1, 5)[i], "意见": "还行"},
                consultant=consultant if i % 2 else None,
                advisor=advisor if i < 3 else None,
                car_model=model if i != 1 else None,
            )  # fmt: skip
            answer(theirs, dealer=other_dealer, at=at, values={"服务评价": 5})
    with time_machine.travel(NOW, tick=False):
        make_invitation(questionnaire=mine, customer=CustomerFactory(dealer=dealer))
        make_invitation(
            questionnaire=mine, customer=CustomerFactory(dealer=dealer), status="scheduled"
        )
        rollup_refresh_invitations()
    incremental = _rows()

    # when the rollup is rebuilt from the answers
    written = rollup_rebuild()

    # then the rows are the same, to the last point
    assert _rows() == incremental
    assert written == len(incremental)
    # 4 answered + 1 sent (the scheduled one is not counted), over two months
    assert (
        sum(
            SurveyScoreRollup.objects.unscoped()
            .filter(
                dealer=dealer,
                question_kind=INVITED,
                consultant_id=ANY,
                advisor_id=ANY,
                car_model_id=ANY,
            )
            .values_list("answers", flat=True)
        )
        == 5
    )
    assert (
        sum(
            SurveyScoreRollup.objects.unscoped()
            .filter(
                dealer=dealer,
                question_kind=RESPONDED,
                consultant_id=ANY,
                advisor_id=ANY,
                car_model_id=ANY,
            )
            .values_list("answers", flat=True)
        )
        == 4
    )


def test_rebuilding_one_dealer_leaves_the_others_alone(dealer, other_dealer):
    with time_machine.travel(NOW, tick=False):
        answer(questionnaire_for(dealer), dealer=dealer, values={"服务评价": 5})
        answer(questionnaire_for(other_dealer), dealer=other_dealer, values={"服务评价": 1})
    theirs = _rows([other_dealer.pk])
    SurveyScoreRollup.objects.unscoped().filter(dealer=dealer).update(answers=99)

    rollup_rebuild(dealer_ids=[dealer.pk])

    assert _rows([other_dealer.pk]) == theirs
    assert _total(dealer, "rating5", "service_quality", "experience").answers == 1


def test_a_sent_invitation_counts_once_it_is_refreshed(dealer):
    questionnaire = questionnaire_for(dealer)
    with time_machine.travel(NOW, tick=False):
        make_invitation(questionnaire=questionnaire, customer=CustomerFactory(dealer=dealer))
        assert not SurveyScoreRollup.objects.unscoped().filter(question_kind=INVITED).exists()

        rollup_refresh_invitations()
        rollup_refresh_invitations()  # twice: no double count

    assert _total(dealer, INVITED).answers == 1
    assert _total(dealer, INVITED).month == timezone.localdate(NOW).replace(day=1)
    assert SurveyInvitation.objects.unscoped().count() == 1


def test_a_dealer_in_a_zone_with_daylight_saving_gets_its_own_month(dealer):
    # given a dealer in New York and an answer at 03:00 UTC on 1 March: 22:00 on 28 February
    dealer.time_zone = "America/New_York"
    dealer.save(update_fields=["time_zone"])
    questionnaire = questionnaire_for(dealer)
    at = datetime.datetime(2026, 3, 1, 3, 0, tzinfo=datetime.UTC)
    with time_machine.travel(at, tick=False):
        answer(questionnaire, dealer=dealer, values={"推荐吗？": 10}, at=at)
        # the invitation counted as sending counts it (invitations.survey_invitations_send_due)
        rollup_refresh_invitations(dealer_ids=[dealer.pk])
    incremental = _rows([dealer.pk])

    rollup_rebuild(dealer_ids=[dealer.pk])

    assert _total(dealer, "nps", "overall", "experience").month == datetime.date(2026, 2, 1)
    assert _rows([dealer.pk]) == incremental
