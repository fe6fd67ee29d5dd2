"""The handling record: each step writes its event and bumps the version; a stale version
changes nothing; the follow-up alone closes (yes) or reopens (no, the solution clock restarts)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from dealercrm.core.permissions import Role
from dealercrm.feedback.models import (
    Complaint,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintStatus,
)
from dealercrm.feedback.services.handling import (
    complaint_analysis_record,
    complaint_assign,
    complaint_contact_log,
    complaint_details_update,
    complaint_follow_up,
    complaint_solution_record,
)
from dealercrm.worklist.models import Notice
from tests.feedback.factories import ComplaintFactory

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 3, 10, 2, 0, tzinfo=datetime.UTC)


def _at(minutes: int) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


@pytest.fixture
def handler(make_user):
    return make_user(Role.CARE_SPECIALIST)


@pytest.fixture
def complaint(dealer):
    with time_machine.travel(T0, tick=False):
        return ComplaintFactory(customer__dealer=dealer)


def _kinds(complaint: Complaint) -> list[str]:
    return list(
        ComplaintEvent.objects.filter(complaint=complaint)
        .order_by("at", "id")
        .values_list("kind", flat=True)
    )


def _solve(complaint: Complaint, handler, *, root_cause: bool = True) -> Complaint:  # noqa: ANN001
    with time_machine.travel(_at(10), tick=False):
        complaint_contact_log(actor=handler, complaint=complaint, channel="phone", note="已致电")
    if root_cause:
        with time_machine.travel(_at(60), tick=False):
            complaint_analysis_record(
                actor=handler,
                complaint=complaint,
                root_cause="process",
                corrective_action="重新培训接待流程",
            )
    with time_machine.travel(_at(120), tick=False):
        return complaint_solution_record(
            actor=handler, complaint=complaint, solution="免费重新保养", accepted=True
        )


def test_the_first_contact_is_the_first_response(complaint, handler):
    # When the handler calls the customer 10 minutes after the complaint came in
    with time_machine.travel(_at(10), tick=False):
        after = complaint_contact_log(
            actor=handler, complaint=complaint, channel="phone", note="已致电，客户情绪稳定"
        )

    # Then the first-response clock stopped then, the complaint is in progress, handled by them
    complaint.refresh_from_db()
    assert complaint.first_response_at == _at(10)
    assert complaint.status == ComplaintStatus.IN_PROGRESS
    assert complaint.handler_id == handler.pk
    assert complaint.version == after.version == 2
    assert _kinds(complaint) == [ComplaintEventKind.CONTACT, ComplaintEventKind.RESPONDED]


def test_a_later_contact_is_only_a_contact(complaint, handler):
    with time_machine.travel(_at(10), tick=False):
        complaint_contact_log(actor=handler, complaint=complaint, channel="phone", note="一")
    with time_machine.travel(_at(90), tick=False):
        complaint_contact_log(actor=handler, complaint=complaint, channel="wechat", note="二")
    complaint.refresh_from_db()
    assert complaint.first_response_at == _at(10)
    assert _kinds(complaint).count(ComplaintEventKind.RESPONDED) == 1
    assert _kinds(complaint).count(ComplaintEventKind.CONTACT) == 2


def test_a_contact_in_the_future_or_without_a_note_is_refused(complaint, handler):
    with time_machine.travel(_at(10), tick=False), pytest.raises(ValidationError) as caught:
        complaint_contact_log(
            actor=handler, complaint=complaint, channel="fax", note=" ", at=_at(120)
        )
    assert set(caught.value.message_dict) == {"channel", "note", "at"}
    assert not ComplaintEvent.objects.exists()


def test_an_accepted_solution_solves_the_complaint(complaint, handler):
    solved = _solve(complaint, handler)
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.SOLVED == solved.status
    assert complaint.solved_at == _at(120)
    assert complaint.solution_accepted is True
    assert _kinds(complaint)[-3:] == [
        ComplaintEventKind.SOLUTION,
        ComplaintEventKind.ACCEPTED,
        ComplaintEventKind.SOLVED,
    ]


def test_a_declined_solution_keeps_the_clock_running(complaint, handler):
    with time_machine.travel(_at(10), tick=False):
        complaint_contact_log(actor=handler, complaint=complaint, channel="phone", note="已致电")
    with time_machine.travel(_at(30), tick=False):
        complaint_solution_record(
            actor=handler, complaint=complaint, solution="赠送一次洗车", accepted=False
        )
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.IN_PROGRESS
    assert complaint.solved_at is None and complaint.solution_accepted is False
    assert complaint.solution_due_at == T0 + datetime.timedelta(hours=24)
    assert _kinds(complaint)[-2:] == [ComplaintEventKind.SOLUTION, ComplaintEventKind.DECLINED]


def test_a_solution_without_any_contact_counts_as_the_first_response(complaint, handler):
    with time_machine.travel(_at(5), tick=False):
        complaint_solution_record(
            actor=handler, complaint=complaint, solution="当场更换", accepted=True
        )
    complaint.refresh_from_db()
    assert complaint.first_response_at == _at(5)
    assert ComplaintEventKind.RESPONDED in _kinds(complaint)


def test_the_analysis_records_cause_and_actions(complaint, handler):
    complaint_analysis_record(
        actor=handler,
        complaint=complaint,
        root_cause="capacity",
        root_cause_detail="周末只有两个工位",
        corrective_action="增加周末班次",
        preventive_action="预约制分流",
    )
    complaint.refresh_from_db()
    assert complaint.root_cause == "capacity"
    assert complaint.preventive_action == "预约制分流"
    assert _kinds(complaint) == [ComplaintEventKind.ANALYSIS]


def test_the_analysis_needs_a_root_cause_and_a_corrective_action(complaint, handler):
    with pytest.raises(ValidationError) as caught:
        complaint_analysis_record(actor=handler, complaint=complaint, root_cause="")
    assert set(caught.value.message_dict) == {"root_cause", "corrective_action"}


def test_assigning_hands_over_and_tells_the_new_handler(complaint, make_user, manager):
    specialist = make_user(Role.CARE_SPECIALIST)
    complaint_assign(actor=manager, complaint=complaint, handler_id=specialist.pk)
    complaint.refresh_from_db()
    assert complaint.handler_id == specialist.pk
    assert _kinds(complaint) == [ComplaintEventKind.ASSIGNED]
    assert Notice.objects.filter(recipient=specialist, source_id=str(complaint.pk)).exists()


def test_only_a_colleague_who_handles_complaints_can_be_assigned(
    complaint, manager, make_user, other_dealer
):
    for user in (
        make_user(Role.SALES_CONSULTANT),
        make_user(Role.CARE_SPECIALIST, dealer_=other_dealer),
        make_user(Role.CARE_SPECIALIST, is_active=False),
    ):
        with pytest.raises(ValidationError) as caught:
            complaint_assign(actor=manager, complaint=complaint, handler_id=user.pk)
        assert "handler_id" in caught.value.message_dict
    complaint.refresh_from_db()
    assert complaint.handler_id is None and complaint.version == 1


@pytest.mark.usefixtures("english")
def test_a_stale_version_is_refused_and_nothing_changes(complaint, handler, manager):
    # Given two handlers who both opened the complaint at version 1
    seen = complaint.version
    complaint_contact_log(
        actor=handler, complaint=complaint, channel="phone", note="先到", version=seen
    )

    # When the second saves with the version they saw
    with pytest.raises(ValidationError) as caught:
        complaint_analysis_record(
            actor=manager,
            complaint=complaint,
            root_cause="process",
            corrective_action="后到",
            version=seen,
        )

    # Then they are told to reload, and nothing of theirs was written
    assert "someone else changed this complaint" in " ".join(caught.value.messages).lower()
    complaint.refresh_from_db()
    assert complaint.root_cause == "" and complaint.version == 2
    assert ComplaintEventKind.ANALYSIS not in _kinds(complaint)


def test_a_satisfied_follow_up_closes_the_complaint(complaint, handler):
    _solve(complaint, handler)
    with time_machine.travel(_at(24 * 60), tick=False):
        complaint_follow_up(actor=handler, complaint=complaint, satisfied=True, note="满意")
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.CLOSED
    assert complaint.closed_at == complaint.followed_up_at == _at(24 * 60)
    assert complaint.follow_up_satisfied is True
    assert _kinds(complaint)[-2:] == [ComplaintEventKind.FOLLOW_UP, ComplaintEventKind.CLOSED]


def test_a_dissatisfied_follow_up_reopens_and_restarts_the_solution_clock(complaint, handler):
    # Given a solved complaint
    _solve(complaint, handler)

    # When the customer says at the follow-up they are not satisfied
    with time_machine.travel(_at(6 * 60), tick=False):
        complaint_follow_up(actor=handler, complaint=complaint, satisfied=False, note="异响仍在")

    # Then it is in progress again, reopened once, awaiting a new solution due 24 h from now
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.IN_PROGRESS
    assert complaint.reopen_count == 1
    assert complaint.solution_accepted is None and complaint.solved_at is None
    assert complaint.solution_due_at == _at(6 * 60) + datetime.timedelta(hours=24)
    assert complaint.solution_warned_at is None
    assert _kinds(complaint)[-2:] == [ComplaintEventKind.FOLLOW_UP, ComplaintEventKind.REOPENED]
    assert complaint.closed_at is None


def test_the_follow_up_needs_the_root_cause(complaint, handler):
    _solve(complaint, handler, root_cause=False)
    version = Complaint.objects.get(pk=complaint.pk).version
    with pytest.raises(ValidationError) as caught:
        complaint_follow_up(actor=handler, complaint=complaint, satisfied=True)
    assert "root_cause" in caught.value.message_dict
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.SOLVED and complaint.version == version


@pytest.mark.usefixtures("english")
def test_closing_an_unsolved_complaint_is_refused_and_nothing_changes(complaint, handler):
    with time_machine.travel(_at(10), tick=False):
        complaint_contact_log(actor=handler, complaint=complaint, channel="phone", note="已致电")
    events = ComplaintEvent.objects.count()
    with pytest.raises(ValidationError) as caught:
        complaint_follow_up(actor=handler, complaint=complaint, satisfied=True)
    assert "A complaint closes only after the follow-up with the customer" in " ".join(
        caught.value.messages
    )
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.IN_PROGRESS and complaint.closed_at is None
    assert ComplaintEvent.objects.count() == events


@pytest.mark.usefixtures("english")
def test_a_second_follow_up_is_refused(complaint, handler):
    _solve(complaint, handler)
    complaint_follow_up(actor=handler, complaint=complaint, satisfied=True)
    closed = Complaint.objects.get(pk=complaint.pk)
    with pytest.raises(ValidationError) as caught:
        complaint_follow_up(actor=handler, complaint=complaint, satisfied=False)
    assert "already closed" in " ".join(caught.value.messages)
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.CLOSED
    assert complaint.version == closed.version and complaint.reopen_count == 0


@pytest.mark.usefixtures("english")
def test_the_status_cannot_be_set_directly(complaint, handler):
    with pytest.raises(ValidationError) as caught:
        complaint_details_update(actor=handler, complaint=complaint, status="closed")
    assert caught.value.message_dict["status"] == [
        "A complaint closes only after the follow-up with the customer."
    ]
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.OPEN and complaint.version == 1


def test_a_closed_complaint_takes_no_more_steps(complaint, handler):
    _solve(complaint, handler)
    complaint_follow_up(actor=handler, complaint=complaint, satisfied=True)
    with pytest.raises(ValidationError):
        complaint_contact_log(actor=handler, complaint=complaint, channel="phone", note="再联系")
    with pytest.raises(ValidationError):
        complaint_analysis_record(
            actor=handler, complaint=complaint, root_cause="other", corrective_action="无"
        )
