"""The demo's dealers keep their records with different care (generators.quality.data_care), so
the audit spreads them over the rebate bands; the same seed gives the same scores."""

from __future__ import annotations

import datetime as dt
import random
from types import SimpleNamespace

import pytest

from dealercrm.core.models import Dealer
from dealercrm.dataquality.models import DealerAuditScore, RebateBand
from dealercrm.dataquality.services.audit import rebate_for
from dealercrm.demo.generators.quality import DEMO_TIMELINESS_DAYS, DataCare, data_care
from dealercrm.demo.generators.sales import _late_entry
from dealercrm.demo.runner import delete_demo, run_demo
from dealercrm.sales.models import Order
from tests.demo.conftest import demo_fixture

TODAY = dt.date(2026, 6, 30)
LATEST = dt.date(2026, 6, 1)
CUSTOMERS = 600
SEED = 3


def _context(seed: int, dealers: list) -> SimpleNamespace:
    """What data_care reads of a run's context: the seed, the dealers and the shared state."""
    return SimpleNamespace(seed=seed, state={}, org=SimpleNamespace(dealers=dealers))


def _demo() -> None:
    run_demo(customers=CUSTOMERS, seed=SEED, today=TODAY, parallel=False)


demo = demo_fixture(customers=CUSTOMERS, seed=SEED, today=TODAY)


def _scores(period: dt.date | None = None) -> dict[tuple[str, dt.date], float]:
    rows = DealerAuditScore.objects.all()
    if period is not None:
        rows = rows.filter(period=period)
    return {
        (code, p): score for code, p, score in rows.values_list("dealer__code", "period", "score")
    }


# --- the care levels, without a database -------------------------------------------------------


def test_care_levels_reach_from_sloppy_to_careful_whatever_the_seed():
    dealers = [SimpleNamespace(id=n, code=f"D{n:02d}") for n in range(12)]
    for seed in (1, 7, 42):
        levels = sorted(care.level for care in data_care(_context(seed, dealers)).values())
        assert levels[0] < 0.05
        assert levels[-1] > 0.95
        # Spread, not bunched: the middle dealers are neither.
        assert 0.05 < levels[6] < 0.7


def test_care_levels_follow_the_seed_and_the_dealer_not_the_order_of_dealers():
    dealers = [SimpleNamespace(id=n, code=f"D{n:02d}") for n in range(12)]
    first = data_care(_context(7, dealers))
    shuffled = list(dealers)
    random.Random(0).shuffle(shuffled)
    assert data_care(_context(7, shuffled)) == first
    assert data_care(_context(8, dealers)) != first


def test_care_moves_by_its_change_over_the_last_year_only():
    today = dt.date(2026, 6, 30).toordinal()
    improving = DataCare(level=0.4, change=0.3)
    assert improving.on(today - 800, today) == pytest.approx(0.4)
    assert improving.on(today - 365, today) == pytest.approx(0.4)
    assert improving.on(today - 182, today) == pytest.approx(0.55, abs=0.01)
    assert improving.on(today, today) == pytest.approx(0.7)
    # Kept between 0 and 1.
    assert DataCare(level=0.9, change=0.3).on(today, today) == 1.0
    assert DataCare(level=0.1, change=-0.3).on(today, today) == 0.0


def test_late_entries_keep_the_dealers_rate_in_any_run_of_sales():
    debt: dict[int, float] = {}
    rand = random.Random(1).random
    late = [_late_entry(debt, 5, 0.25, rand) for _ in range(40)]
    assert sum(late) == 10
    # Evenly spread: every four sales in a row hold one late one.
    assert all(sum(late[i : i + 4]) == 1 for i in range(len(late) - 3))
    assert not any(_late_entry(debt, 6, 0.0, rand) for _ in range(20))


# --- the audit of a demo network ---------------------------------------------------------------


def test_latest_scores_spread_over_more_than_one_band(db_demo):
    latest = _scores(LATEST)
    assert len(latest) == Dealer.objects.filter(is_active=True).count() == 12
    values = list(latest.values())
    assert max(values) - min(values) >= 10
    bands = list(RebateBand.objects.all())
    labels = {rebate_for(score, bands).label for score in values}
    assert len(labels) >= 2, labels


def test_careful_dealers_have_complete_records_and_key_sales_in_on_time(db_demo):
    cares = data_care(_context(SEED, list(Dealer.objects.all())))
    careful = max(cares, key=lambda d: cares[d].level)
    sloppy = min(cares, key=lambda d: cares[d].level)

    def completeness(dealer_id: int) -> float:
        return DealerAuditScore.objects.get(dealer_id=dealer_id, period=LATEST).completeness

    def late_share(dealer_id: int) -> float:
        """Share of the dealer's delivered sales (three years of them) keyed in past the limit."""
        orders = Order.objects.filter(dealer_id=dealer_id, delivered_on__isnull=False)
        limit = dt.timedelta(days=DEMO_TIMELINESS_DAYS)
        late = [o.created_at.date() > o.delivered_on + limit for o in orders]
        assert len(late) >= 10
        return sum(late) / len(late)

    assert completeness(careful) - completeness(sloppy) >= 20
    assert late_share(sloppy) >= 0.4
    assert late_share(careful) <= 0.15
    # Completeness follows care over the network, not just at its two ends.
    by_care = sorted(cares, key=lambda d: cares[d].level)
    sloppier, carefuller = by_care[:4], by_care[-4:]
    assert sum(map(completeness, carefuller)) > sum(map(completeness, sloppier)) + 4 * 15


def test_the_same_seed_gives_the_same_scores(db_demo):
    first = _scores()
    assert len(first) == 12 * 12
    delete_demo()
    _demo()
    assert _scores() == first
