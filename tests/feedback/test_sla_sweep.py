"""The SLA sweep: a warning before a breach, the dealer manager on a breach, the brand on the
second level; every step timestamped, told to the right people, and never twice."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine

from dealercrm.core.permissions import Role
from dealercrm.feedback.models import (
    Complaint,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintSlaPolicy,
    ComplaintStatus,
)
from dealercrm.feedback.services.sla import complaints_sla_sweep
from dealercrm.service.models import ServicePolicy
from dealercrm.worklist.models import Notice
from tests.core.factories import BrandFactory, DealerFactory, UserFactory
from tests.feedback.factories import ComplaintFactory

pytestmark = pytest.mark.django_db

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
# A Monday morning; the sweeps below run at RECEIVED + some minutes.
RECEIVED = datetime.datetime(2026, 11, 23, 9, 0, tzinfo=SH)


def at(**delta: float) -> datetime.datetime:
    return RECEIVED + datetime.timedelta(**delta)


def complaint(dealer, **fields):  # noqa: ANN001, ANN003, ANN201
    """A complaint received at RECEIVED with the default clocks (30 minutes, 24 hours)."""
    fields.setdefault("created_at", RECEIVED)
    return ComplaintFactory(customer__dealer=dealer, **fields)


def kinds(c: Complaint) -> list[str]:
    return list(
        ComplaintEvent.objects.filter(complaint=c)
        .order_by("at", "pk")
        .values_list("kind", flat=True)
    )


def told(c: Complaint) -> dict[int, str]:
    return dict(
        Notice.objects.filter(source_kind="feedback.complaint", source_id=str(c.pk)).values_list(
            "recipient_id", "reason"
        )
    )


@pytest.fixture
def staff(make_user, dealer):  # noqa: ANN001, ANN201
    class Staff:
        manager = make_user(Role.DEALER_MANAGER)
        care = make_user(Role.CARE_SPECIALIST)
        advisor = make_user(Role.SERVICE_ADVISOR)
        oem_admin = make_user(Role.OEM_ADMIN)
        oem_analyst = make_user(Role.OEM_ANALYST)

    return Staff


# --- Warnings ------------------------------------------------------------------------------


def test_the_handler_is_warned_before_the_first_response_is_due(dealer, staff):
    c = complaint(dealer, handler=staff.advisor)

    report = complaints_sla_sweep(now=at(minutes=22))

    c.refresh_from_db()
    assert report.response_warnings == 1 and report.escalated == 0
    assert c.response_warned_at == at(minutes=22) and c.escalation_level == 0
    event = ComplaintEvent.objects.get(complaint=c)
    assert (event.kind, event.at) == (ComplaintEventKind.RESPONSE_WARNING, at(minutes=22))
    assert list(told(c)) == [staff.advisor.pk]
    notice = Notice.objects.get(recipient=staff.advisor)
    assert notice.link == f"/complaints/{c.pk}/" and notice.dealer_id == dealer.pk


def test_without_a_handler_the_care_specialists_are_warned(dealer, staff):
    c = complaint(dealer)

    complaints_sla_sweep(now=at(minutes=25))

    assert list(told(c)) == [staff.care.pk]


def test_nothing_is_warned_outside_the_window(dealer, staff):
    c = complaint(dealer)

    report = complaints_sla_sweep(now=at(minutes=15))

    assert report.response_warnings == report.solution_warnings == 0
    assert kinds(c) == []


def test_the_solution_warning_comes_before_the_solution_is_due(dealer, staff):
    c = complaint(
        dealer,
        status=ComplaintStatus.IN_PROGRESS,
        first_response_at=at(minutes=10),
        handler=staff.care,
    )

    report = complaints_sla_sweep(now=at(hours=22, minutes=30))

    c.refresh_from_db()
    assert report.solution_warnings == 1
    assert c.solution_warned_at == at(hours=22, minutes=30)
    assert kinds(c) == [ComplaintEventKind.SOLUTION_WARNING]
    assert told(c)[staff.care.pk].startswith("solution_warning:")


def test_another_dealers_warning_window_is_not_used(dealer, other_dealer, staff):
    ComplaintSlaPolicy.objects.create(
        dealer=other_dealer, severity="medium", response_warn_minutes=25
    )
    c = complaint(dealer, severity="medium")

    complaints_sla_sweep(now=at(minutes=10))

    assert kinds(c) == []


def test_the_dealers_own_warning_window_is_used(dealer, staff):
    ComplaintSlaPolicy.objects.create(dealer=dealer, severity="high", response_warn_minutes=25)
    c = complaint(dealer, severity="high")

    complaints_sla_sweep(now=at(minutes=10))

    assert kinds(c) == [ComplaintEventKind.RESPONSE_WARNING]


# --- Escalation ------------------------------------------------------------------------------


def test_a_missed_first_response_goes_to_the_dealer_manager(dealer, staff):
    c = complaint(dealer, handler=staff.advisor)

    report = complaints_sla_sweep(now=at(minutes=31))

    c.refresh_from_db()
    assert report.escalated == 1 and report.escalated_oem == 0
    assert (c.escalation_level, c.escalated_at) == (1, at(minutes=31))
    event = ComplaintEvent.objects.get(complaint=c)
    assert event.kind == ComplaintEventKind.ESCALATED and event.at == at(minutes=31)
    assert event.data["clock"] == "response"
    assert told(c) == {staff.manager.pk: "escalated"}


def test_a_responded_complaint_is_not_escalated_for_the_response(dealer, staff):
    c = complaint(dealer, status=ComplaintStatus.IN_PROGRESS, first_response_at=at(minutes=20))

    report = complaints_sla_sweep(now=at(hours=2))

    c.refresh_from_db()
    assert report.escalated == 0 and c.escalation_level == 0 and kinds(c) == []


def test_a_missed_solution_escalates_a_responded_complaint(dealer, staff):
    c = complaint(dealer, status=ComplaintStatus.IN_PROGRESS, first_response_at=at(minutes=20))

    complaints_sla_sweep(now=at(hours=24, minutes=5))

    c.refresh_from_db()
    assert c.escalation_level == 1
    assert ComplaintEvent.objects.get(complaint=c).data["clock"] == "solution"


def test_a_solved_complaint_is_never_escalated(dealer, staff):
    solved = complaint(
        dealer,
        status=ComplaintStatus.SOLVED,
        first_response_at=at(minutes=20),
        solved_at=at(hours=30),
    )
    closed = complaint(dealer, status=ComplaintStatus.CLOSED, solved_at=at(hours=3))

    report = complaints_sla_sweep(now=at(days=5))

    assert report.as_dict() == {
        "dealers": 0,
        "response_warnings": 0,
        "solution_warnings": 0,
        "escalated": 0,
        "escalated_oem": 0,
        "notices": 0,
    }
    assert kinds(solved) == kinds(closed) == []


def test_still_unsolved_a_day_after_the_deadline_goes_to_the_brand(dealer, other_dealer, staff):
    elsewhere = BrandFactory(code="other", name="别的品牌")
    stranger = UserFactory(role=Role.OEM_ADMIN, dealer=None, brand=elsewhere)
    c = complaint(dealer, status=ComplaintStatus.IN_PROGRESS, first_response_at=at(minutes=20))
    complaints_sla_sweep(now=at(hours=25))

    report = complaints_sla_sweep(now=at(hours=48, minutes=1))

    c.refresh_from_db()
    assert report.escalated_oem == 1
    assert (c.escalation_level, c.oem_escalated_at) == (2, at(hours=48, minutes=1))
    assert kinds(c) == [ComplaintEventKind.ESCALATED, ComplaintEventKind.ESCALATED_OEM]
    oem = Notice.objects.filter(reason="escalated_oem", source_id=str(c.pk))
    assert {n.recipient_id for n in oem} == {staff.oem_admin.pk, staff.oem_analyst.pk}
    assert {n.dealer_id for n in oem} == {dealer.pk}
    assert stranger.pk not in told(c)
    # The brand is told the dealer, not the customer's name.
    assert dealer.name in oem[0].title and c.customer.name not in oem[0].title + oem[0].body


def test_a_long_unswept_complaint_takes_both_levels_in_one_run(dealer, staff):
    c = complaint(dealer)

    report = complaints_sla_sweep(now=at(days=3))

    c.refresh_from_db()
    assert (report.escalated, report.escalated_oem) == (1, 1)
    assert c.escalation_level == 2 and c.escalated_at == c.oem_escalated_at == at(days=3)
    assert set(told(c)) == {staff.manager.pk, staff.oem_admin.pk, staff.oem_analyst.pk}


def test_the_brand_level_counts_opening_hours_when_so_configured(dealer, staff):
    ServicePolicy.objects.create(
        dealer=dealer,
        opens_at=datetime.time(8, 30),
        closes_at=datetime.time(17, 30),
        open_weekdays=[0, 1, 2, 3, 4],
    )
    ComplaintSlaPolicy.objects.create(
        dealer=dealer, severity="medium", business_hours_only=True, oem_after_minutes=60
    )
    friday_five = datetime.datetime(2026, 11, 27, 17, 0, tzinfo=SH)
    c = complaint(
        dealer,
        status=ComplaintStatus.IN_PROGRESS,
        first_response_at=friday_five - datetime.timedelta(hours=5),
        solution_due_at=friday_five,
        escalation_level=1,
    )

    # Saturday noon: only 30 opening minutes since the deadline.
    saturday = complaints_sla_sweep(now=datetime.datetime(2026, 11, 28, 12, 0, tzinfo=SH))
    monday = complaints_sla_sweep(now=datetime.datetime(2026, 11, 30, 9, 1, tzinfo=SH))

    c.refresh_from_db()
    assert (saturday.escalated_oem, monday.escalated_oem) == (0, 1)
    assert c.escalation_level == 2


def test_a_second_sweep_does_nothing_more(dealer, staff):
    complaint(dealer)
    complaint(dealer, status=ComplaintStatus.IN_PROGRESS, first_response_at=at(minutes=5))
    first = complaints_sla_sweep(now=at(days=3))
    events, notices = ComplaintEvent.objects.count(), Notice.objects.count()

    again = complaints_sla_sweep(now=at(days=3))
    later = complaints_sla_sweep(now=at(days=4))

    assert first.escalated == 2 and first.escalated_oem == 2
    for report in (again, later):
        assert report.response_warnings == report.solution_warnings == 0
        assert report.escalated == report.escalated_oem == report.notices == 0
    assert (ComplaintEvent.objects.count(), Notice.objects.count()) == (events, notices)


def test_the_sweep_can_be_limited_to_some_dealers(dealer, other_dealer, staff):
    mine = complaint(dealer)
    theirs = complaint(other_dealer)

    complaints_sla_sweep(now=at(minutes=40), dealer_ids=[other_dealer.pk])

    assert kinds(mine) == [] and kinds(theirs) == [ComplaintEventKind.ESCALATED]


def test_the_default_moment_is_now(dealer, staff):
    c = complaint(dealer)

    with time_machine.travel(at(minutes=45), tick=False):
        complaints_sla_sweep()

    c.refresh_from_db()
    assert c.escalated_at == at(minutes=45)


def test_the_sweeps_queries_do_not_grow_with_the_complaints(
    dealer, other_dealer, staff, django_assert_max_num_queries
):
    UserFactory(role=Role.DEALER_MANAGER, dealer=other_dealer)
    for index in range(3):
        complaint(dealer, handler=staff.advisor if index % 2 else None)
    complaint(other_dealer)
    with django_assert_max_num_queries(30) as few:
        complaints_sla_sweep(now=at(days=3))
    for index in range(15):
        complaint(dealer, handler=staff.advisor if index % 2 else None)
        complaint(other_dealer)

    with django_assert_max_num_queries(len(few.captured_queries)):
        report = complaints_sla_sweep(now=at(days=3, minutes=1))

    assert report.escalated == 30 and report.escalated_oem == 30


def test_the_periodic_job_sweeps_every_active_dealer(dealer, staff):
    from dealercrm.feedback.sla_jobs import complaints_sla_sweep_job

    c = complaint(dealer)
    inactive = DealerFactory(brand=dealer.brand, is_active=False)
    dormant = complaint(inactive)

    with time_machine.travel(at(minutes=40), tick=False):
        result = complaints_sla_sweep_job.call_local()

    assert result["escalated"] == 1
    assert kinds(c) == [ComplaintEventKind.ESCALATED] and kinds(dormant) == []


def test_the_brands_people_see_the_escalation_on_their_workspace(dealer, staff):
    from dealercrm.worklist.selectors import unread_notices

    complaint(dealer)
    complaints_sla_sweep(now=at(days=3))

    rows, count = unread_notices(staff.oem_admin)
    assert count == 1


def test_in_opening_hours_the_warning_window_counts_opening_minutes(dealer, staff):
    ServicePolicy.objects.create(
        dealer=dealer,
        opens_at=datetime.time(8, 30),
        closes_at=datetime.time(17, 30),
        open_weekdays=[0, 1, 2, 3, 4],
    )
    ComplaintSlaPolicy.objects.create(
        dealer=dealer, severity="medium", business_hours_only=True, solution_warn_minutes=120
    )
    c = complaint(
        dealer,
        status=ComplaintStatus.IN_PROGRESS,
        first_response_at=RECEIVED,
        solution_due_at=datetime.datetime(2026, 11, 30, 9, 30, tzinfo=SH),  # a Monday
    )

    # Friday 15:00: two and a half opening hours before the deadline.
    early = complaints_sla_sweep(now=datetime.datetime(2026, 11, 27, 15, 0, tzinfo=SH))
    # Friday 16:30: an hour on Friday and an hour on Monday morning are left.
    warned = complaints_sla_sweep(now=datetime.datetime(2026, 11, 27, 16, 30, tzinfo=SH))

    assert (early.solution_warnings, warned.solution_warnings) == (0, 1)
    assert kinds(c) == [ComplaintEventKind.SOLUTION_WARNING]
