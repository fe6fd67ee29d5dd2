"""The demo's finishing steps: their dependencies, and running the independent ones at once on
PostgreSQL with the same result as one after another."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

import pytest
from django.db import connection

from dealercrm.care.models import CareOccurrence
from dealercrm.core.models import Dealer
from dealercrm.core.tenancy import DealerScope, dealer_scope, get_current_scope
from dealercrm.customers.models import Customer
from dealercrm.dataquality.models import DealerAuditScore, DuplicateCandidate
from dealercrm.demo.generators import CHUNK_GENERATORS, ChunkGenerator
from dealercrm.demo.runner import _run_finishers, delete_demo, finish_dependencies, run_demo
from dealercrm.feedback.models import Complaint, SurveyInvitation, SurveyScoreRollup
from dealercrm.messaging.models import Campaign, Message
from dealercrm.sales.models import FunnelCell
from dealercrm.worklist.models import Task

TODAY = dt.date(2026, 6, 30)


def step(name: str, finish, after: tuple[str, ...] | None = None) -> ChunkGenerator:  # noqa: ANN001
    return ChunkGenerator(name, "customers", lambda ctx, chunk, rng: [], (), finish, after)


# --- dependencies -------------------------------------------------------------------------------


def test_a_step_without_declared_dependencies_waits_for_every_earlier_step():
    steps = [step("a", print), step("b", print, ()), step("c", print), step("d", print, ("a",))]
    assert finish_dependencies(steps) == {"a": (), "b": (), "c": ("a", "b"), "d": ("a",)}


def test_a_dependency_on_a_later_or_unknown_step_is_refused_by_name():
    with pytest.raises(ValueError, match=r"a\.finish_after names \['b'\]"):
        finish_dependencies([step("a", print, ("b",)), step("b", print)])
    with pytest.raises(ValueError, match=r"nothing"):
        finish_dependencies([step("a", print, ("nothing",))])


def test_the_demos_steps_declare_what_they_read():
    dependencies = finish_dependencies(CHUNK_GENERATORS)
    # The care run moves lifecycle stages and writes messages: feedback and the campaign
    # reports read those. The audit reads the duplicate queue.
    assert dependencies["feedback"] == ("service",)
    assert dependencies["messages"] == ("service",)
    assert dependencies["quality"] == ("duplicates",)
    assert dependencies["service"] == dependencies["duplicates"] == ()


# --- running at once ----------------------------------------------------------------------------


def test_independent_steps_run_at_once_and_dependent_ones_after():
    events: list[str] = []
    slow_started = threading.Event()

    def first(ctx) -> None:  # noqa: ANN001
        # Ends only once the independent step has started: they overlap, or this times out.
        assert slow_started.wait(timeout=10), "the independent step did not start alongside"
        events.append("first done")

    def independent(ctx) -> None:  # noqa: ANN001
        events.append("independent started")
        slow_started.set()

    def second(ctx) -> None:  # noqa: ANN001
        events.append("second started")

    finished: list[str] = []
    steps = [step("first", first, ()), step("second", second), step("other", independent, ())]
    _run_finishers(None, steps, at_once=True, finished=lambda name, s: finished.append(name))
    assert events.index("first done") < events.index("second started")
    assert sorted(finished) == ["first", "other", "second"]


def test_the_threads_see_the_callers_dealer_scope():
    seen = []
    steps = [step("a", lambda ctx: seen.append(get_current_scope()), ())]
    scope = DealerScope.everything()
    with dealer_scope(scope):
        _run_finishers(None, steps, at_once=True, finished=lambda name, s: None)
    assert seen == [scope]


def test_a_failing_step_stops_its_dependents_and_is_raised():
    ran: list[str] = []

    def broken(ctx) -> None:  # noqa: ANN001
        raise RuntimeError("the rollup failed")

    steps = [
        step("broken", broken, ()),
        step("after", lambda ctx: ran.append("after"), ("broken",)),
    ]
    with pytest.raises(RuntimeError, match="the rollup failed"):
        _run_finishers(None, steps, at_once=True, finished=lambda name, s: ran.append(name))
    assert ran == []


def finishing_digest() -> str:
    """What the finishing steps made, by natural values (ids of org rows may differ)."""
    code = dict(Dealer.objects.values_list("id", "code"))
    h = hashlib.sha256()
    for row in (
        DealerAuditScore.objects.unscoped()
        .order_by("dealer__code", "period")
        .values_list("dealer_id", "period", "score", "rank", "customers", "failures")
    ):
        h.update(repr((code[row[0]], *row[1:])).encode())
    # Sorted: the roll-up inserts its cells in the order its GROUP BY yields them.
    cells = FunnelCell.objects.unscoped().values_list(
        "dealer_id", "grain", "month", "channel", "leads", "ordered"
    )
    h.update(repr(sorted((code[row[0]], *row[1:]) for row in cells)).encode())
    h.update(repr(SurveyScoreRollup.objects.unscoped().count()).encode())
    for row in Campaign.objects.unscoped().order_by("id").values_list("name", "report"):
        h.update(repr(row).encode())
    for model in (CareOccurrence, Task, Message, Complaint, SurveyInvitation, DuplicateCandidate):
        h.update(repr(model.objects.unscoped().count()).encode())
    return h.hexdigest()


def analyze_counts() -> dict[str, int]:
    """How many times the customers' and the invitations' tables have been analyzed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname = ANY(%s)"
            " ORDER BY relname",
            [[Customer._meta.db_table, SurveyInvitation._meta.db_table]],
        )
        return dict(cursor.fetchall())


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL only: SQLite finishes one at a time"
)
@pytest.mark.django_db(transaction=True)
def test_finishing_at_once_makes_what_one_after_another_makes():
    with dealer_scope(DealerScope.everything()):
        # Given a network finished one step after another
        serial = run_demo(customers=240, seed=4, today=TODAY, chunk_size=120, parallel=False)
        first = finishing_digest()
        assert DealerAuditScore.objects.unscoped().exists()
        delete_demo()
        analyzed = analyze_counts()
        # When the same network is finished with independent steps at once
        both = run_demo(customers=240, seed=4, today=TODAY, chunk_size=120, parallel=True)
        # Then the finishing steps made the same, and every step reported its time
        assert finishing_digest() == first
        # and the tables were analyzed again (on the two connections) before they ran
        after = analyze_counts()
        assert len(after) == 2
        assert all(after[table] > analyzed[table] for table in after)
        assert {k for k in both.phase_seconds if k.startswith("finish:")} == {
            k for k in serial.phase_seconds if k.startswith("finish:")
        }
