"""The complaint SLA clocks: deadlines on the wall clock and in opening hours, a reopened
complaint's new solution deadline, and how a clock stands for the lists and the timer."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from dealercrm.feedback.models import ComplaintSlaPolicy, ComplaintStatus
from dealercrm.feedback.services.sla import (
    DEFAULTS,
    OpeningHours,
    SlaTerms,
    add_business_minutes,
    sla_clock_state,
    sla_deadlines,
    sla_restart_solution_clock,
    sla_terms_for_dealers,
)
from dealercrm.service.models import ServicePolicy
from tests.feedback.factories import ComplaintFactory

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
WEEKDAYS = OpeningHours(
    opens_at=datetime.time(8, 30),
    closes_at=datetime.time(17, 30),
    open_weekdays=frozenset(range(5)),
    time_zone="Asia/Shanghai",
)
# 2026-11-20 is a Friday, 2026-11-21 a Saturday, 2026-11-23 a Monday.
FRIDAY_1720 = datetime.datetime(2026, 11, 20, 17, 20, tzinfo=SH)


def local(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(SH)


# --- Opening hours -------------------------------------------------------------------------


def test_friday_evening_counts_on_from_monday_morning():
    assert local(add_business_minutes(FRIDAY_1720, 30, WEEKDAYS)) == datetime.datetime(
        2026, 11, 23, 8, 50, tzinfo=SH
    )


def test_a_saturday_complaint_starts_counting_at_mondays_opening():
    saturday = datetime.datetime(2026, 11, 21, 11, 0, tzinfo=SH)
    assert local(add_business_minutes(saturday, 30, WEEKDAYS)) == datetime.datetime(
        2026, 11, 23, 9, 0, tzinfo=SH
    )


def test_before_opening_counts_from_the_opening():
    early = datetime.datetime(2026, 11, 23, 6, 0, tzinfo=SH)
    assert local(add_business_minutes(early, 30, WEEKDAYS)) == datetime.datetime(
        2026, 11, 23, 9, 0, tzinfo=SH
    )


def test_a_day_of_opening_hours_spans_several_days():
    # 24 hours of 9-hour days: 10 minutes on Friday, 540 Monday, 540 Tuesday, 350 Wednesday.
    assert local(add_business_minutes(FRIDAY_1720, 24 * 60, WEEKDAYS)) == datetime.datetime(
        2026, 11, 25, 14, 20, tzinfo=SH
    )


def test_a_deadline_exactly_at_closing_stays_that_day():
    five = datetime.datetime(2026, 11, 20, 17, 0, tzinfo=SH)
    assert local(add_business_minutes(five, 30, WEEKDAYS)) == datetime.datetime(
        2026, 11, 20, 17, 30, tzinfo=SH
    )


def test_hours_in_the_dealers_time_zone():
    urumqi = OpeningHours(open_weekdays=frozenset(range(5)), time_zone="Asia/Urumqi")
    # 17:20 in Shanghai is 15:20 in Urumqi (UTC+6): still two hours and ten minutes open.
    assert add_business_minutes(FRIDAY_1720, 30, urumqi) == FRIDAY_1720 + datetime.timedelta(
        minutes=30
    )


def test_without_usable_hours_the_wall_clock_counts():
    closed = OpeningHours(open_weekdays=frozenset())
    assert add_business_minutes(FRIDAY_1720, 30, closed) == FRIDAY_1720 + datetime.timedelta(
        minutes=30
    )


# --- Deadlines -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_without_settings_the_documents_figures_on_the_wall_clock(dealer):
    response, solution = sla_deadlines(
        dealer_id=dealer.pk, severity="medium", received_at=FRIDAY_1720
    )
    assert response == FRIDAY_1720 + datetime.timedelta(minutes=30)
    assert solution == FRIDAY_1720 + datetime.timedelta(hours=24)


@pytest.mark.django_db
def test_opening_hours_only_uses_the_workshops_hours(dealer):
    ServicePolicy.objects.create(
        dealer=dealer,
        opens_at=datetime.time(8, 30),
        closes_at=datetime.time(17, 30),
        open_weekdays=[0, 1, 2, 3, 4],
    )
    ComplaintSlaPolicy.objects.create(
        dealer=dealer, severity="high", response_minutes=30, business_hours_only=True
    )

    response, solution = sla_deadlines(
        dealer_id=dealer.pk, severity="high", received_at=FRIDAY_1720
    )

    assert local(response) == datetime.datetime(2026, 11, 23, 8, 50, tzinfo=SH)
    assert local(solution) == datetime.datetime(2026, 11, 25, 14, 20, tzinfo=SH)


@pytest.mark.django_db
def test_another_dealers_terms_are_not_used(dealer, other_dealer):
    ComplaintSlaPolicy.objects.create(
        dealer=other_dealer, severity="medium", response_minutes=5, solution_minutes=60
    )

    response, solution = sla_deadlines(
        dealer_id=dealer.pk, severity="medium", received_at=FRIDAY_1720
    )

    assert response - FRIDAY_1720 == datetime.timedelta(minutes=30)
    assert solution - FRIDAY_1720 == datetime.timedelta(hours=24)


@pytest.mark.django_db
def test_terms_for_a_list_come_in_one_query(dealer, other_dealer, django_assert_num_queries):
    ComplaintSlaPolicy.objects.create(dealer=dealer, severity="high", response_minutes=15)

    with django_assert_num_queries(1):
        terms = sla_terms_for_dealers([dealer.pk, other_dealer.pk])

    assert terms[(dealer.pk, "high")].response_minutes == 15
    assert terms[(dealer.pk, "low")] == DEFAULTS
    assert terms[(other_dealer.pk, "high")] == DEFAULTS


@pytest.mark.django_db
def test_reopening_restarts_the_solution_clock_and_allows_a_new_warning(dealer):
    ComplaintSlaPolicy.objects.create(dealer=dealer, severity="medium", solution_minutes=600)
    complaint = ComplaintFactory(
        customer__dealer=dealer, solution_warned_at=FRIDAY_1720, severity="medium"
    )
    reopened = datetime.datetime(2026, 11, 23, 9, 0, tzinfo=SH)

    changed = sla_restart_solution_clock(complaint, at=reopened)

    assert set(changed) == {"solution_due_at", "solution_warned_at"}
    assert complaint.solution_due_at == reopened + datetime.timedelta(minutes=600)
    assert complaint.solution_warned_at is None


# --- How a clock stands ----------------------------------------------------------------------


def _row(**fields):  # noqa: ANN003, ANN202
    from dealercrm.feedback.models import Complaint

    base = {
        "status": ComplaintStatus.OPEN,
        "created_at": FRIDAY_1720,
        "response_due_at": FRIDAY_1720 + datetime.timedelta(minutes=30),
        "solution_due_at": FRIDAY_1720 + datetime.timedelta(hours=24),
    }
    base.update(fields)
    return Complaint(**base)


def test_a_fresh_complaint_runs_the_response_clock():
    state = sla_clock_state(_row(), now=FRIDAY_1720 + datetime.timedelta(minutes=5))
    assert (state.clock, state.state, state.minutes_left) == ("response", "ok", 25)
    assert state.response_outcome == "running" and state.solution_outcome == "running"


def test_inside_the_warning_window_the_clock_warns():
    state = sla_clock_state(_row(), now=FRIDAY_1720 + datetime.timedelta(minutes=22))
    assert (state.state, state.minutes_left) == ("warning", 8)
    wide = sla_clock_state(
        _row(),
        now=FRIDAY_1720 + datetime.timedelta(minutes=5),
        terms=SlaTerms(response_warn_minutes=25),
    )
    assert wide.state == "warning"


def test_past_due_the_minutes_are_negative_and_the_response_breached():
    state = sla_clock_state(_row(), now=FRIDAY_1720 + datetime.timedelta(minutes=95, seconds=30))
    assert (state.state, state.minutes_left, state.overdue) == ("breached", -65, True)
    assert state.response_outcome == "breached"


def test_after_the_first_response_the_solution_clock_runs():
    responded = FRIDAY_1720 + datetime.timedelta(minutes=20)
    state = sla_clock_state(
        _row(status=ComplaintStatus.IN_PROGRESS, first_response_at=responded),
        now=FRIDAY_1720 + datetime.timedelta(hours=1),
    )
    assert (state.clock, state.state, state.minutes_left) == ("solution", "ok", 23 * 60)
    assert state.response_outcome == "met" and state.response_at == responded


def test_a_late_answer_is_recorded_as_a_breach():
    late = FRIDAY_1720 + datetime.timedelta(minutes=45)
    state = sla_clock_state(
        _row(status=ComplaintStatus.IN_PROGRESS, first_response_at=late),
        now=FRIDAY_1720 + datetime.timedelta(hours=1),
    )
    assert state.response_outcome == "breached" and state.state == "ok"


def test_a_solved_complaint_stops_the_clock_with_its_outcome():
    on_time = _row(
        status=ComplaintStatus.SOLVED,
        first_response_at=FRIDAY_1720 + datetime.timedelta(minutes=10),
        solved_at=FRIDAY_1720 + datetime.timedelta(hours=5),
    )
    late = _row(
        status=ComplaintStatus.CLOSED,
        first_response_at=FRIDAY_1720 + datetime.timedelta(minutes=10),
        solved_at=FRIDAY_1720 + datetime.timedelta(hours=30),
    )
    later = FRIDAY_1720 + datetime.timedelta(days=3)

    assert (
        sla_clock_state(on_time, now=later).clock,
        sla_clock_state(on_time, now=later).state,
    ) == (
        None,
        "met",
    )
    assert sla_clock_state(late, now=later).state == "breached"
    assert sla_clock_state(late, now=later).solution_outcome == "breached"


def test_closed_without_a_solution_time_is_stopped():
    state = sla_clock_state(_row(status=ComplaintStatus.CLOSED), now=FRIDAY_1720)
    assert (state.clock, state.state, state.minutes_left) == (None, "stopped", None)


# --- The timer partial -------------------------------------------------------------------------


def _timer(complaint, now, **context):  # noqa: ANN001, ANN003, ANN202
    import time_machine
    from django.template.loader import render_to_string

    with time_machine.travel(now, tick=False):
        return " ".join(
            render_to_string(
                "feedback/_sla_timer.html", {"complaint": complaint, **context}
            ).split()
        )


@pytest.mark.django_db
def test_the_timer_shows_the_time_left_and_the_due_time_without_queries(
    english, django_assert_num_queries
):
    with django_assert_num_queries(0):
        html = _timer(_row(), FRIDAY_1720 + datetime.timedelta(minutes=18))

    assert 'data-sla-state="ok"' in html and 'data-sla-clock="response"' in html
    assert "Response · 12 minutes left" in html
    assert 'title="Due 2026-11-20 17:50"' in html and "bg-green-lt" in html


@pytest.mark.django_db
def test_the_timer_turns_yellow_then_red_and_shows_the_escalation(english):
    warning = _timer(_row(), FRIDAY_1720 + datetime.timedelta(minutes=25))
    overdue = _timer(
        _row(escalation_level=1, escalated_at=FRIDAY_1720 + datetime.timedelta(minutes=31)),
        FRIDAY_1720 + datetime.timedelta(minutes=95),
    )
    brand = _timer(_row(escalation_level=2), FRIDAY_1720 + datetime.timedelta(days=3))

    assert "bg-yellow-lt" in warning and "5 minutes left" in warning
    assert "bg-red-lt" in overdue and "1 hour 5 minutes overdue" in overdue
    assert 'data-escalation="1"' in overdue and "Escalated to the manager" in overdue
    assert 'data-escalation="2"' in brand and "Escalated to the brand" in brand
    assert "2 days 23 hours overdue" in brand


@pytest.mark.django_db
def test_the_timer_uses_the_dealers_warning_window_when_the_list_passes_it(english):
    from dealercrm.feedback.models import Complaint

    complaint = Complaint(
        dealer_id=7,
        severity="high",
        status=ComplaintStatus.OPEN,
        response_due_at=FRIDAY_1720 + datetime.timedelta(minutes=30),
        solution_due_at=FRIDAY_1720 + datetime.timedelta(hours=24),
    )
    terms = {(7, "high"): SlaTerms(response_warn_minutes=25)}

    html = _timer(complaint, FRIDAY_1720 + datetime.timedelta(minutes=10), sla_terms=terms)

    assert 'data-sla-state="warning"' in html


@pytest.mark.django_db
def test_the_detail_timer_shows_both_clocks_outcomes(english):
    solved = _row(
        status=ComplaintStatus.SOLVED,
        first_response_at=FRIDAY_1720 + datetime.timedelta(minutes=40),
        solved_at=FRIDAY_1720 + datetime.timedelta(hours=3),
    )

    html = _timer(solved, FRIDAY_1720 + datetime.timedelta(days=1), detail=True)

    assert "Solved in time" in html
    assert 'data-sla-response="breached"' in html and 'data-sla-solution="met"' in html
    assert "answered 2026-11-20 18:00" in html and "solved 2026-11-20 20:20" in html
