"""The demo's data-quality audit: the brand's policy and bands are set, the last 12 months are
scored for every dealer, and the dealers' scores differ as their data does."""

from __future__ import annotations

import datetime as dt

from dealercrm.core.models import Dealer
from dealercrm.dataquality.models import AuditPolicy, DealerAuditScore, RebateBand
from tests.demo.conftest import demo_fixture

TODAY = dt.date(2026, 6, 30)
CUSTOMERS = 1500


demo = demo_fixture(customers=CUSTOMERS, seed=5, today=TODAY)


def test_the_brand_has_a_policy_and_rebate_bands(db_demo):
    policy = AuditPolicy.objects.get()
    assert sum(policy.weights.values()) == 100
    assert list(RebateBand.objects.values_list("rebate_percent", flat=True)) == [100, 80, 50, 0]


def test_every_dealer_is_scored_for_the_last_twelve_months(db_demo):
    dealers = Dealer.objects.filter(is_active=True).count()
    periods = sorted(set(DealerAuditScore.objects.values_list("period", flat=True)))
    assert len(periods) == 12
    assert periods[-1] == dt.date(2026, 6, 1) and periods[0] == dt.date(2025, 7, 1)
    assert DealerAuditScore.objects.count() == 12 * dealers
    latest = DealerAuditScore.objects.filter(period=dt.date(2026, 6, 1))
    assert sorted(s.rank for s in latest)[0] == 1
    assert all(s.ranked_of == dealers for s in latest)


def test_dealers_scores_differ_and_checks_fail(db_demo):
    latest = list(DealerAuditScore.objects.filter(period=dt.date(2026, 6, 1)))
    scores = [s.score for s in latest]
    assert len(set(scores)) > len(scores) // 2
    assert max(scores) - min(scores) >= 1
    failing = set().union(*(s.failures for s in latest))
    assert {"missing_id_number", "missing_email", "open_duplicate", "shared_phone"} <= failing
