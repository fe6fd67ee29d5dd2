"""Care task outcomes: each outcome's effects, retries and their spacing, the double submit,
the generic worklist closing a care task."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from dealercrm.care.models import CareOccurrence, CareOutcome, CareRuleCode, OccurrenceStatus
from dealercrm.care.services.outcomes import (
    AppointmentRequest,
    ComplaintRequest,
    care_task_record_outcome,
)
from dealercrm.core.permissions import Role
from dealercrm.customers.models import CustomerPhone
from dealercrm.feedback.models import Complaint, ComplaintChannel
from dealercrm.service.models import Appointment, AppointmentChannel
from dealercrm.worklist import services as worklist_services
from dealercrm.worklist.models import Notice, Task, TaskStatus
from tests.care.factories import CareRuleSettingFactory, make_care_task
from tests.customers.factories import CustomerPhoneFactory
from tests.service.factories import ServiceBayFactory
from tests.vehicles.factories import VehicleFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# A Tuesday morning at the dealer.
TUESDAY_10 = datetime.datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def specialist(make_user):
    return make_user(Role.CARE_SPECIALIST)


@pytest.fixture
def care_task(dealer, specialist):
    vehicle = VehicleFactory(dealer=dealer)
    CustomerPhoneFactory(customer=vehicle.owner, number="+8613800000001", is_primary=True)
    CustomerPhoneFactory(customer=vehicle.owner, number="+8613800000002", is_primary=False)
    return make_care_task(vehicle=vehicle, assignee=specialist, due_at=TUESDAY_10)


def _fresh(occurrence: CareOccurrence) -> tuple[CareOccurrence, Task]:
    occurrence = CareOccurrence.objects.get(pk=occurrence.pk)
    return occurrence, Task.objects.get(pk=occurrence.task_id)


@pytest.mark.parametrize("outcome", [CareOutcome.REACHED, CareOutcome.NOT_INTERESTED])
def test_reached_or_not_interested_closes_the_occurrence_and_its_task(
    care_task, specialist, outcome
):
    # Given an open care task, when the call ends with the customer on the line …
    care_task_record_outcome(actor=specialist, occurrence=care_task, outcome=outcome, note="周六来")

    # … then the occurrence is done with that outcome and the task done with it as its result.
    occurrence, task = _fresh(care_task)
    assert (occurrence.status, occurrence.outcome, occurrence.outcome_note) == (
        OccurrenceStatus.DONE,
        outcome,
        "周六来",
    )
    assert occurrence.closed_by == specialist
    assert task.status == TaskStatus.DONE
    assert task.outcome == f"{outcome}: 周六来"


@time_machine.travel(TUESDAY_10, tick=False)
def test_no_answer_retries_four_hours_later_then_next_day_at_ten_then_gives_up(
    care_task, specialist
):
    # Given the default settings (3 attempts), when the first call is not answered …
    care_task_record_outcome(actor=specialist, occurrence=care_task, outcome=CareOutcome.NO_ANSWER)
    occurrence, task = _fresh(care_task)
    # … then the task stays open, due again 4 hours later.
    assert (occurrence.status, occurrence.attempts) == (OccurrenceStatus.OPEN, 1)
    assert task.status == TaskStatus.OPEN
    assert task.due_at == at(10, 14)

    # When the second is not answered either (at 14:00), then it is due the next day at 10:00.
    with time_machine.travel(at(10, 14), tick=False):
        care_task_record_outcome(
            actor=specialist, occurrence=occurrence, outcome=CareOutcome.NO_ANSWER
        )
    occurrence, task = _fresh(care_task)
    assert occurrence.attempts == 2
    assert task.due_at == at(11, 10)

    # When the third is not answered, then the retries are over: unreachable, task done.
    with time_machine.travel(at(11, 10), tick=False):
        care_task_record_outcome(
            actor=specialist, occurrence=occurrence, outcome=CareOutcome.NO_ANSWER, note="关机"
        )
    occurrence, task = _fresh(care_task)
    assert (occurrence.status, occurrence.outcome, occurrence.attempts) == (
        OccurrenceStatus.DONE,
        CareOutcome.UNREACHABLE,
        3,
    )
    assert task.status == TaskStatus.DONE
    assert task.outcome.startswith("no_answer: ")
    assert len(occurrence.detail["attempt_log"]) == 3


@time_machine.travel(at(10, 16), tick=False)
def test_a_retry_that_falls_after_closing_moves_to_the_next_opening(care_task, specialist):
    # Given the workshop closes at 17:30, when a call at 16:00 is not answered …
    care_task_record_outcome(actor=specialist, occurrence=care_task, outcome=CareOutcome.NO_ANSWER)

    # … then 20:00 is outside the hours: the retry is due at the next day's opening, 08:30.
    _occurrence, task = _fresh(care_task)
    assert task.due_at == at(11, 8, 30)


@time_machine.travel(TUESDAY_10, tick=False)
def test_the_dealers_max_attempts_and_spacing_are_used(care_task, specialist, dealer):
    # Given the dealer allows 2 attempts and retries after 1 hour …
    CareRuleSettingFactory(
        dealer=dealer,
        rule=CareRuleCode.MAINTENANCE_DUE,
        config={"max_attempts": 2, "retry_after_hours": 1},
    )
    # … when the first call is not answered, then it is due an hour later …
    care_task_record_outcome(actor=specialist, occurrence=care_task, outcome=CareOutcome.NO_ANSWER)
    occurrence, task = _fresh(care_task)
    assert task.due_at == at(10, 11)
    # … and the second unanswered call closes it.
    care_task_record_outcome(actor=specialist, occurrence=occurrence, outcome=CareOutcome.NO_ANSWER)
    occurrence, task = _fresh(care_task)
    assert occurrence.outcome == CareOutcome.UNREACHABLE
    assert task.status == TaskStatus.DONE


def test_wrong_number_flags_the_primary_phone_only_and_closes_the_task(care_task, specialist):
    care_task_record_outcome(
        actor=specialist, occurrence=care_task, outcome=CareOutcome.WRONG_NUMBER
    )

    flagged = dict(
        CustomerPhone.objects.filter(customer_id=care_task.customer_id).values_list(
            "number", "wrong_number_reported_at"
        )
    )
    assert flagged["+8613800000001"] is not None
    assert flagged["+8613800000002"] is None
    occurrence, task = _fresh(care_task)
    assert occurrence.outcome == CareOutcome.WRONG_NUMBER
    assert task.status == TaskStatus.DONE


@time_machine.travel(TUESDAY_10, tick=False)
def test_appointment_booked_creates_the_appointment_from_the_care_call(
    care_task, specialist, dealer
):
    # Given the workshop has a bay, when the customer books tomorrow at 10:00 on the call …
    ServiceBayFactory(dealer=dealer)
    care_task_record_outcome(
        actor=specialist,
        occurrence=care_task,
        outcome=CareOutcome.APPOINTMENT_BOOKED,
        appointment=AppointmentRequest(starts_at=at(11, 10)),
    )

    # … then the appointment exists, booked by care call, pointing back at the occurrence …
    appointment = Appointment.objects.get(
        source_kind="care.occurrence", source_id=str(care_task.pk)
    )
    assert appointment.channel == AppointmentChannel.CARE_CALL
    assert appointment.starts_at == at(11, 10)
    assert appointment.customer_id == care_task.customer_id
    assert appointment.vehicle_id == care_task.vehicle_id
    # … and the occurrence and its task are closed, the task saying when.
    occurrence, task = _fresh(care_task)
    assert occurrence.outcome == CareOutcome.APPOINTMENT_BOOKED
    assert occurrence.detail["appointment_id"] == appointment.pk
    assert task.status == TaskStatus.DONE
    assert "2026-03-11 10:00" in task.outcome


@time_machine.travel(TUESDAY_10, tick=False)
def test_a_refused_appointment_records_nothing(care_task, specialist, dealer):
    # Given the workshop has a bay, when the slot asked for is after closing …
    ServiceBayFactory(dealer=dealer)
    with pytest.raises(ValidationError) as refused:
        care_task_record_outcome(
            actor=specialist,
            occurrence=care_task,
            outcome=CareOutcome.APPOINTMENT_BOOKED,
            appointment=AppointmentRequest(starts_at=at(11, 20)),
        )

    # … then the refusal names the slot, and nothing was written.
    assert "starts_at" in refused.value.message_dict
    occurrence, task = _fresh(care_task)
    assert (occurrence.status, occurrence.outcome) == (OccurrenceStatus.OPEN, "")
    assert task.status == TaskStatus.OPEN
    assert not Appointment.objects.exists()


def test_appointment_booked_without_a_slot_is_refused(care_task, specialist):
    with pytest.raises(ValidationError) as refused:
        care_task_record_outcome(
            actor=specialist, occurrence=care_task, outcome=CareOutcome.APPOINTMENT_BOOKED
        )
    assert "starts_at" in refused.value.message_dict


def test_complaint_opens_a_complaint_and_tells_the_managers(
    care_task, specialist, manager, make_user
):
    other_manager = make_user(Role.DEALER_MANAGER)
    care_task_record_outcome(
        actor=specialist,
        occurrence=care_task,
        outcome=CareOutcome.COMPLAINT,
        complaint=ComplaintRequest(description="上次保养后异响没修好", category="service_quality"),
    )

    complaint = Complaint.objects.get()
    assert complaint.channel == ComplaintChannel.CARE_TASK
    assert (complaint.source_kind, complaint.source_id) == ("care.occurrence", str(care_task.pk))
    assert complaint.category == "service_quality"
    assert complaint.customer_id == care_task.customer_id
    recipients = set(Notice.objects.values_list("recipient_id", flat=True))
    assert recipients == {manager.pk, other_manager.pk}
    occurrence, task = _fresh(care_task)
    assert occurrence.outcome == CareOutcome.COMPLAINT
    assert occurrence.detail["complaint_id"] == complaint.pk
    assert task.status == TaskStatus.DONE


def test_a_complaint_without_words_is_refused(care_task, specialist):
    with pytest.raises(ValidationError) as refused:
        care_task_record_outcome(
            actor=specialist, occurrence=care_task, outcome=CareOutcome.COMPLAINT
        )
    assert "description" in refused.value.message_dict
    assert _fresh(care_task)[0].status == OccurrenceStatus.OPEN


def test_a_second_submit_of_the_same_outcome_changes_nothing(care_task, specialist):
    first = care_task_record_outcome(
        actor=specialist, occurrence=care_task, outcome=CareOutcome.REACHED, note="好"
    )
    # The second click carries the object as the page had it (still open).
    again = care_task_record_outcome(
        actor=specialist, occurrence=care_task, outcome=CareOutcome.REACHED, note="好"
    )

    assert again.closed_at == first.closed_at
    assert Task.objects.get(pk=care_task.task_id).completed_at is not None


def test_a_double_clicked_no_answer_counts_once(care_task, specialist):
    for _click in range(2):
        care_task_record_outcome(
            actor=specialist,
            occurrence=care_task,
            outcome=CareOutcome.NO_ANSWER,
            seen_attempts=0,
        )
    assert _fresh(care_task)[0].attempts == 1


def test_another_outcome_on_a_closed_task_is_refused(care_task, specialist):
    care_task_record_outcome(actor=specialist, occurrence=care_task, outcome=CareOutcome.REACHED)
    with pytest.raises(ValidationError) as refused:
        care_task_record_outcome(
            actor=specialist, occurrence=care_task, outcome=CareOutcome.NOT_INTERESTED
        )
    assert "outcome" in refused.value.message_dict


def test_unreachable_is_not_a_choice(care_task, specialist):
    with pytest.raises(ValidationError):
        care_task_record_outcome(
            actor=specialist, occurrence=care_task, outcome=CareOutcome.UNREACHABLE
        )


def test_completing_a_care_task_on_the_worklist_page_closes_its_occurrence_as_reached(
    care_task, specialist
):
    task = Task.objects.get(pk=care_task.task_id)
    worklist_services.task_complete(actor=specialist, task=task, outcome="done: 已回访")

    occurrence = CareOccurrence.objects.get(pk=care_task.pk)
    assert (occurrence.status, occurrence.outcome) == (OccurrenceStatus.DONE, CareOutcome.REACHED)
    assert occurrence.closed_by_id == specialist.pk


def test_cancelling_a_care_task_cancels_its_occurrence(care_task, specialist):
    task = Task.objects.get(pk=care_task.task_id)
    worklist_services.task_cancel(actor=specialist, task=task)

    assert CareOccurrence.objects.get(pk=care_task.pk).status == OccurrenceStatus.CANCELLED
