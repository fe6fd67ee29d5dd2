"""The demo's complaints and surveys: every complaint handled against its SLA clocks with the
steps to show for it, delivery-delay complaints after late orders, invitations after visits and
deliveries, answers scored as the answering service scores them, poor experiences (a visit that
led to a complaint, an owner's last visits before lapsing) showing in the scores, the rollup
rebuilt, and the same seed giving the same data."""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import statistics
from collections import Counter, defaultdict

import pytest

from dealercrm.core.models import Dealer, User
from dealercrm.core.tenancy import DealerScope, dealer_scope
from dealercrm.customers.models import Customer
from dealercrm.demo.generators.base import DealerFacts, DemoContext, Org
from dealercrm.demo.generators.feedback import (
    CAUSES,
    ComplaintCase,
    handle_complaint,
)
from dealercrm.demo.runner import delete_demo, run_demo
from dealercrm.feedback.models import (
    Complaint,
    ComplaintEvent,
    Question,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    SurveyScoreRollup,
)
from dealercrm.feedback.services.answering import rating_points
from dealercrm.sales.models import Order
from dealercrm.service.models import RepairOrder
from tests.demo.conftest import demo_fixture

TODAY = dt.date(2026, 6, 30)
NOW = dt.datetime(2026, 6, 30, 2, 0, tzinfo=dt.UTC)
CUSTOMERS = 2000
MINUTE = dt.timedelta(minutes=1)


demo = demo_fixture(customers=CUSTOMERS, seed=11, today=TODAY)


def _complaints() -> list[dict]:
    return list(Complaint.objects.order_by("id").values())


def _events() -> dict[int, list[tuple]]:
    found: dict[int, list[tuple]] = defaultdict(list)
    for complaint_id, kind, at, actor, dealer_id in ComplaintEvent.objects.order_by(
        "at", "id"
    ).values_list("complaint_id", "kind", "at", "actor_id", "dealer_id"):
        found[complaint_id].append((kind, at, actor, dealer_id))
    return found


@pytest.mark.usefixtures("db_demo")
def test_every_complaint_runs_on_its_sla_clocks_with_its_steps():
    complaints = _complaints()
    events = _events()
    care = set(User.objects.filter(role="care_specialist").values_list("id", flat=True))
    advisor_of = dict(RepairOrder.objects.values_list("id", "advisor_id"))
    in_time = late = 0
    for c in complaints:
        received = c["created_at"]
        # Given the documents' SLA: first response in 30 minutes, solution in 24 hours
        assert c["response_due_at"] == received + 30 * MINUTE
        assert c["solution_due_at"] == received + 24 * 60 * MINUTE
        assert c["handler_id"] in care
        if c["repair_order_id"] is not None:
            assert c["staff_id"] == advisor_of[c["repair_order_id"]]
        steps = events[c["id"]]
        kinds = [s[0] for s in steps]
        assert kinds[0] == "received" and steps[0][1] == received
        assert all(s[3] == c["dealer_id"] and received <= s[1] <= NOW for s in steps)
        if c["first_response_at"] is not None:
            assert "responded" in kinds
            if c["first_response_at"] <= c["response_due_at"]:
                in_time += 1
            else:
                late += 1
        if c["status"] == "closed":
            # A closed complaint has the whole record, in order.
            assert (
                received
                < c["first_response_at"]
                < c["solved_at"]
                < c["followed_up_at"]
                < c["closed_at"]
                <= NOW
            )
            assert c["solution"] and c["solution_accepted"] is True
            assert c["root_cause"] in {cause[0] for cause in CAUSES[c["category"]]}
            assert c["root_cause_detail"] and c["corrective_action"] and c["preventive_action"]
            assert c["follow_up_satisfied"] is True
            assert {"solution", "accepted", "analysis", "follow_up", "closed"} <= set(kinds)
            assert kinds[-1] == "closed"
        if c["reopen_count"]:
            assert "reopened" in kinds
    # Most first responses come within the 30 minutes, some late.
    assert late >= 3
    assert in_time >= 4 * late
    statuses = Counter(c["status"] for c in complaints)
    assert statuses["closed"] > 0.8 * len(complaints)
    assert sum(1 for c in complaints if c["reopen_count"] == 1) >= 3


def test_the_last_fortnights_complaints_are_still_being_handled():
    # Given the demo's network facts (no database: the handling is drawn, not read)
    dealer = DealerFacts(1, "SH01", "上海市", "上海市", "沪", 10, (), care=(5,), manager=6)
    ctx = DemoContext(seed=1, today=TODAY, org=Org(1, [dealer], [], [], {}), pools=None)
    now = TODAY.toordinal() * 1440 + 120

    def statuses(age_minutes: int) -> Counter:
        found = Counter()
        for n in range(200):
            case = ComplaintCase(n, dealer, "waiting_time", "phone", now - age_minutes, 5, False)
            values, _events, _next = handle_complaint(ctx, random.Random(n), case, 1)
            found[values["status"], values["escalation_level"]] += 1
        return found

    # When complaints came in two hours, three days and a year ago
    hours, days, year = statuses(120), statuses(3 * 1440), statuses(365 * 1440)
    # Then the recent ones are open (escalated: the 30 minutes are gone) or in progress,
    assert hours["open", 1] > 0 and hours["in_progress", 0] > 0
    assert "closed" not in {status for status, _ in hours}
    # a few days' are in every state, some escalated to the brand,
    assert {"open", "in_progress", "solved"} <= {status for status, _ in days}
    assert any(level == 2 for _, level in days)
    # and the old ones are closed.
    assert set(year) <= {("closed", 0), ("closed", 1), ("closed", 2)}


@pytest.mark.usefixtures("db_demo")
def test_escalations_follow_the_missed_deadlines():
    events = _events()
    levels = Counter()
    for c in _complaints():
        level = c["escalation_level"]
        levels[level] += 1
        kinds = {s[0] for s in events[c["id"]]}
        answered = c["first_response_at"] or NOW
        # The solution clock stops when the customer first accepts a solution (a reopened
        # complaint's later solution does not move it).
        solved = next((s[1] for s in events[c["id"]] if s[0] == "accepted"), NOW)
        if level == 0:
            assert answered <= c["response_due_at"] and solved <= c["solution_due_at"]
            assert "escalated" not in kinds
            continue
        # Level 1 when a deadline was missed, at that deadline (the sweep's few minutes later)
        missed = c["response_due_at"] if answered > c["response_due_at"] else c["solution_due_at"]
        assert missed < c["escalated_at"] <= missed + 5 * MINUTE
        assert "escalated" in kinds
        if level == 2:
            # and level 2 a day after the solution deadline, still unsolved then.
            oem_due = c["solution_due_at"] + 24 * 60 * MINUTE
            assert oem_due < c["oem_escalated_at"] <= oem_due + 5 * MINUTE < solved
            assert "escalated_oem" in kinds
    assert levels[1] >= 3 and levels[2] >= 2


@pytest.mark.usefixtures("db_demo")
def test_delivery_delays_raise_a_few_complaints_about_late_orders():
    orders = {
        o["id"]: o
        for o in Order.objects.values(
            "id", "customer_id", "dealer_id", "delivered_on", "promised_delivery_on"
        )
    }
    delays = Complaint.objects.filter(category="delivery_delay").values(
        "order_id", "customer_id", "dealer_id", "repair_order_id", "staff_id"
    )
    assert delays
    for c in delays:
        order = orders[c["order_id"]]
        assert (order["customer_id"], order["dealer_id"]) == (c["customer_id"], c["dealer_id"])
        assert order["delivered_on"] > order["promised_delivery_on"]
        assert c["repair_order_id"] is None
    # Modest: a few per hundred customers.
    assert len(delays) <= 0.04 * CUSTOMERS


@pytest.mark.usefixtures("db_demo")
def test_invitations_follow_closed_visits_and_deliveries():
    closed = dict(RepairOrder.objects.filter(status="closed").values_list("id", "closed_at"))
    delivered = set(Order.objects.filter(stage="delivered").values_list("id", flat=True))
    window = NOW - dt.timedelta(days=730)
    recent_closed = [i for i, at in closed.items() if window <= at <= NOW - 3 * 60 * MINUTE]
    invited = Counter()
    hashes = set()
    for inv in SurveyInvitation.objects.values():
        hashes.add(inv["token_hash"])
        assert len(inv["token_hash"]) == 64
        if inv["kind"] == "service":
            assert inv["source_kind"] == "service.repair_order"
            assert inv["send_at"] == closed[int(inv["source_id"])] + 3 * 60 * MINUTE
        else:
            assert inv["kind"] == "delivery" and int(inv["source_id"]) in delivered
        invited[inv["kind"], inv["status"]] += 1
        assert inv["expires_at"] == inv["send_at"] + dt.timedelta(days=7)
        if inv["status"] == "answered":
            assert inv["sent_at"] < inv["answered_at"] < min(inv["expires_at"], NOW)
        elif inv["status"] == "expired":
            assert inv["expires_at"] <= NOW and inv["answered_at"] is None
        elif inv["status"] == "sent":
            assert inv["expires_at"] > NOW and inv["answered_at"] is None
    assert len(hashes) == sum(invited.values())
    service = sum(n for (kind, _), n in invited.items() if kind == "service")
    # About 70% of the repair orders closed in the last 24 months
    assert 0.6 * len(recent_closed) < service < 0.8 * len(recent_closed)
    assert sum(n for (kind, _), n in invited.items() if kind == "delivery") > 0
    answered = sum(n for (_, status), n in invited.items() if status == "answered")
    # and 35–45% of them answered, online or by phone (entered by a care specialist).
    assert 0.35 < answered / sum(invited.values()) < 0.45
    channels = Counter(SurveyResponse.objects.values_list("channel", flat=True))
    assert channels["web"] > 3 * channels["phone"] > 0
    assert not SurveyResponse.objects.filter(channel="phone", entered_by=None).exists()


@pytest.mark.usefixtures("db_demo")
def test_scores_are_those_the_answering_service_computes():
    questions = {q.id: q for q in Question.objects.all()}
    answers = defaultdict(list)
    for (
        response_id,
        question_id,
        kind,
        dimension,
        aspect,
        value,
    ) in SurveyAnswer.objects.values_list(
        "response_id", "question_id", "kind", "dimension", "aspect", "value"
    ):
        q = questions[question_id]
        assert (kind, dimension, aspect) == (q.kind, q.dimension, q.aspect)
        answers[response_id].append((q, value))
    for response in SurveyResponse.objects.values("id", "version_id", "nps", "csi", "is_low"):
        given = answers[response["id"]]
        assert {q.version_id for q, _ in given} == {response["version_id"]}
        nps = next(v for q, v in given if q.kind == "nps")
        points = [
            rating_points(q.kind, v)
            for q, v in given
            if q.kind in ("rating5", "rating10") and q.aspect == "experience"
        ]
        low = nps <= 6 or any(
            v <= (2 if q.kind == "rating5" else 4)
            for q, v in given
            if q.kind in ("rating5", "rating10") and q.aspect == "experience"
        )
        assert response["nps"] == nps
        assert response["csi"] == pytest.approx(sum(points) / len(points), abs=0.01)
        assert response["is_low"] is low


@pytest.mark.usefixtures("db_demo")
def test_expectations_vary_less_than_experiences():
    values = defaultdict(list)
    for aspect, value in SurveyAnswer.objects.filter(kind="rating5").values_list("aspect", "value"):
        values[aspect].append(value)
    assert statistics.pstdev(values["expectation"]) < 0.8 * statistics.pstdev(values["experience"])


@pytest.mark.usefixtures("db_demo")
def test_poor_experiences_show_in_the_surveys():
    complained_ros = set(
        Complaint.objects.exclude(repair_order=None).values_list("repair_order_id", flat=True)
    )
    lapsed = set(
        Customer.objects.filter(lifecycle_stage__in=("at_risk", "lost")).values_list(
            "id", flat=True
        )
    )
    after_complaint, other = [], []
    by_owner: dict[int, list[int]] = defaultdict(list)
    for ro_id, customer_id, nps in SurveyResponse.objects.filter(kind="service").values_list(
        "invitation__source_id", "customer_id", "nps"
    ):
        (after_complaint if int(ro_id) in complained_ros else other).append(nps)
        by_owner[customer_id].append(nps)
    # A visit that led to a complaint scores far lower than the others
    assert len(after_complaint) >= 10
    assert statistics.mean(after_complaint) < statistics.mean(other) - 2
    # and owners who lapsed answered lower than those who stayed.
    owner_means = {cid: statistics.mean(v) for cid, v in by_owner.items()}
    gone = [m for cid, m in owner_means.items() if cid in lapsed]
    stayed = [m for cid, m in owner_means.items() if cid not in lapsed]
    assert len(gone) >= 30
    print(  # noqa: T201 — the measure the report quotes
        f"mean NPS: after a complaint {statistics.mean(after_complaint):.2f} vs "
        f"{statistics.mean(other):.2f}; owners who lapsed {statistics.mean(gone):.2f} vs "
        f"stayed {statistics.mean(stayed):.2f} ({len(gone)} / {len(stayed)} owners)"
    )
    assert statistics.mean(gone) < statistics.mean(stayed) - 1.0


@pytest.mark.usefixtures("db_demo")
def test_the_rollup_holds_every_scored_answer():
    scored = SurveyAnswer.objects.filter(kind__in=("rating5", "rating10", "nps")).count()
    totals = SurveyScoreRollup.objects.filter(consultant_id=-1, advisor_id=-1, car_model_id=-1)
    assert scored > 0
    assert (
        sum(
            totals.filter(question_kind__in=("rating5", "rating10", "nps")).values_list(
                "answers", flat=True
            )
        )
        == scored
    )
    responded = totals.filter(question_kind="responded").values_list("answers", flat=True)
    assert sum(responded) == SurveyResponse.objects.count()


@pytest.mark.usefixtures("db_demo")
def test_every_row_belongs_to_its_customers_dealer():
    customer_dealer = dict(Customer.objects.values_list("id", "dealer_id"))
    for model in (Complaint, SurveyInvitation, SurveyResponse):
        for dealer_id, customer_id in model.objects.values_list("dealer_id", "customer_id"):
            assert customer_dealer[customer_id] == dealer_id
    complaint_dealer = dict(Complaint.objects.values_list("id", "dealer_id"))
    for dealer_id, complaint_id in ComplaintEvent.objects.values_list("dealer_id", "complaint_id"):
        assert complaint_dealer[complaint_id] == dealer_id
    response_dealer = dict(SurveyResponse.objects.values_list("id", "dealer_id"))
    invitation_dealer = dict(SurveyInvitation.objects.values_list("id", "dealer_id"))
    for dealer_id, invitation_id in SurveyResponse.objects.values_list(
        "dealer_id", "invitation_id"
    ):
        assert invitation_dealer[invitation_id] == dealer_id
    for dealer_id, response_id in SurveyAnswer.objects.values_list("dealer_id", "response_id"):
        assert response_dealer[response_id] == dealer_id


def _digest() -> str:
    """The feedback tables by natural values (org rows' ids may differ between runs)."""
    h = hashlib.sha256()
    code = dict(Dealer.objects.values_list("id", "code"))
    for row in Complaint.objects.order_by("id").values_list(
        "dealer_id", "category", "status", "created_at", "first_response_at", "solved_at",
        "closed_at", "escalation_level", "root_cause", "reopen_count",
    ):  # fmt: skip
        h.update(repr((code[row[0]], *row[1:])).encode())
    for row in ComplaintEvent.objects.order_by("id").values_list("kind", "at", "note"):
        h.update(repr(row).encode())
    for row in SurveyInvitation.objects.order_by("id").values_list(
        "kind", "status", "send_at", "answered_at", "token_hash"
    ):
        h.update(repr(row).encode())
    for row in SurveyResponse.objects.order_by("id").values_list("channel", "nps", "csi"):
        h.update(repr(row).encode())
    for row in SurveyAnswer.objects.order_by("id").values_list("value", "choices", "text"):
        h.update(repr(row).encode())
    return h.hexdigest()


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_feedback_data():
    with dealer_scope(DealerScope.everything()):
        delete_demo()
        # Given a small network
        run_demo(customers=300, seed=3, today=TODAY, parallel=False)
        first = _digest()
        assert SurveyResponse.objects.exists() and Complaint.objects.exists()
        # When it is made again with the same seed
        delete_demo()
        run_demo(customers=300, seed=3, today=TODAY, parallel=False)
        # Then the complaints and surveys are the same
        assert _digest() == first
