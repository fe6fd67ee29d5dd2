"""The care engine: idempotence, tasks and messages, assignment, dealer settings, catch-up."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dealercrm.care.models import CareRun, OccurrenceStatus
from dealercrm.care.services.assignment import care_tasks_reassign_departed
from dealercrm.core.permissions import Role
from dealercrm.messaging.models import Message, Purpose
from dealercrm.worklist.models import Task, TaskStatus
from dealercrm.worklist.services import task_complete
from tests.care.engine_helpers import SHANGHAI, at, created, occurrences, run
from tests.care.factories import CareRuleSettingFactory
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.messaging.factories import MessageTemplateFactory
from tests.service.factories import VehicleServiceStateFactory
from tests.vehicles.factories import VehicleFactory

pytestmark = pytest.mark.django_db

D = datetime.date(2027, 3, 10)


def _insured(dealer, *, consultant=None, expiry_in=30, **customer):
    owner = CustomerFactory(
        dealer=dealer, lifecycle_stage="owner", assigned_consultant=consultant, **customer
    )
    CustomerPhoneFactory(customer=owner)
    return VehicleFactory(
        dealer=dealer,
        owner=owner,
        purchase_date=D - datetime.timedelta(days=300),
        delivery_date=D - datetime.timedelta(days=300),
        warranty_end=D + datetime.timedelta(days=800),
        insurance_expiry=D + datetime.timedelta(days=expiry_in),
    )


def _care_tasks(dealer):
    return Task.objects.unscoped().filter(dealer_id=dealer.id, source_kind="care.occurrence")


def test_second_run_on_same_day_creates_nothing(dealer, make_user):
    # Given an insurance expiring in 30 days and a renewal template
    specialist = make_user(Role.CARE_SPECIALIST)
    vehicle = _insured(dealer)
    MessageTemplateFactory(
        dealer=dealer,
        purpose=Purpose.INSURANCE_RENEWAL,
        body="{{ salutation }}，保险{{ due_date }}到期。",
    )

    # When the engine runs twice on the same day
    first = run(D, dealer)
    second = run(D, dealer)

    # Then the first run made one occurrence, one task and one message, linked; the second none
    assert created(first, "insurance_renewal") == 1
    assert second.created == 0
    occurrence = occurrences(dealer, "insurance_renewal").get()
    assert occurrence.occasion == f"{vehicle.insurance_expiry.isoformat()}/30"
    task = _care_tasks(dealer).get()
    assert occurrence.task_id == task.id
    assert task.assignee_id == specialist.id
    assert task.source_id == str(occurrence.id)
    assert task.due_at == at(D, 10, 0)
    message = Message.objects.unscoped().get(dealer_id=dealer.id)
    assert occurrence.message_id == message.id
    expiry = vehicle.insurance_expiry
    assert f"{expiry.year}年{expiry.month}月{expiry.day}日" in message.body
    assert CareRun.objects.filter(dealer=dealer).count() == 2
    assert CareRun.objects.filter(dealer=dealer).first().created["insurance_renewal"]["tasks"] == 1


def test_task_closed_today_is_not_recreated_tomorrow(dealer, make_user):
    # Given a maintenance reminder whose task the specialist closed the same day
    specialist = make_user(Role.CARE_SPECIALIST)
    VehicleServiceStateFactory(
        vehicle=_insured(dealer, expiry_in=200),
        next_service_kind="regular",
        next_service_on=D + datetime.timedelta(days=7),
    )
    run(D, dealer)
    task = _care_tasks(dealer).get()
    with time_machine.travel(at(D, 15), tick=False):
        task_complete(actor=specialist, task=task, outcome="reached")

    # When the engine runs the next day, catching up the same day again by its window too
    CareRun.objects.filter(dealer=dealer).delete()
    report = run(D, dealer)
    tomorrow = run(D + datetime.timedelta(days=1), dealer)

    # Then nothing is made again for the same reason and due date
    assert report.created == 0 and tomorrow.created == 0
    assert _care_tasks(dealer).count() == 1


def test_missing_template_gives_task_only_and_reports_it(dealer):
    # Given an insurance reminder and no renewal template at the dealer
    _insured(dealer)

    # When the engine runs
    report = run(D, dealer)

    # Then the task is made, no message, and the report says why
    rule = report.dealers[0].rules["insurance_renewal"]
    assert (rule.occurrences, rule.tasks, rule.messages, rule.no_template) == (1, 1, 0, True)
    assert not Message.objects.unscoped().filter(dealer_id=dealer.id).exists()


def test_rule_switched_off_at_dealer_creates_nothing(dealer):
    # Given the dealer switched insurance renewal off
    _insured(dealer)
    CareRuleSettingFactory(dealer=dealer, rule="insurance_renewal", enabled=False)

    # When the engine runs
    report = run(D, dealer)

    # Then the rule is skipped
    assert report.dealers[0].rules["insurance_renewal"].skipped
    assert not occurrences(dealer, "insurance_renewal").exists()


def test_dealer_offsets_replace_the_defaults(dealer):
    # Given the dealer reminds 45 days before expiry only
    _insured(dealer, expiry_in=45)
    _insured(dealer, expiry_in=30)
    CareRuleSettingFactory(dealer=dealer, rule="insurance_renewal", config={"offsets": "45"})

    # When the engine runs
    run(D, dealer)

    # Then only the 45-day car is reminded
    assert list(occurrences(dealer, "insurance_renewal").values_list("occasion", flat=True)) == [
        f"{(D + datetime.timedelta(days=45)).isoformat()}/45"
    ]


def test_engine_catches_up_missed_days_at_most_a_week(dealer):
    # Given runs that stopped 10 days ago, and renewals due on several of the missed days
    with time_machine.travel(at(D - datetime.timedelta(days=10)), tick=False):
        CareRun.objects.create(dealer=dealer, run_on=D - datetime.timedelta(days=10))
    for days_ago in (8, 6, 1):  # reminder days D-8, D-6, D-1
        _insured(dealer, expiry_in=30 - days_ago)

    # When the engine runs today
    report = run(D, dealer)

    # Then the last 7 days are caught up (D-6 … D), not D-8, with tasks due today or on the day
    assert report.dealers[0].days[0] == D - datetime.timedelta(days=6)
    assert created(report, "insurance_renewal") == 2


def test_tasks_go_to_the_consultant_and_a_departed_one_is_replaced(dealer, make_user):
    # Given a replacement candidate whose consultant has left, and two care specialists
    gone = make_user(Role.SALES_CONSULTANT, is_active=False)
    here = make_user(Role.SALES_CONSULTANT)
    specialists = sorted([make_user(Role.CARE_SPECIALIST).id, make_user(Role.CARE_SPECIALIST).id])
    old = VehicleFactory(
        dealer=dealer,
        owner=CustomerFactory(dealer=dealer, assigned_consultant=gone),
        purchase_date=datetime.date(2020, 1, 1),
    )
    mine = VehicleFactory(
        dealer=dealer,
        owner=CustomerFactory(dealer=dealer, assigned_consultant=here),
        purchase_date=datetime.date(2020, 1, 1),
    )

    # When the engine runs
    run(D, dealer)

    # Then the active consultant gets theirs, the departed one's goes to a specialist in turn
    tasks = {t.customer_id: t.assignee_id for t in _care_tasks(dealer).filter(title__icontains="")}
    assert tasks[mine.owner_id] == here.id
    assert tasks[old.owner_id] == specialists[old.owner_id % 2]


def test_open_care_tasks_of_departed_staff_are_handed_on(dealer, make_user):
    # Given open care tasks of a consultant who then leaves
    consultant = make_user(Role.SALES_CONSULTANT)
    specialist = make_user(Role.CARE_SPECIALIST)
    VehicleFactory(
        dealer=dealer,
        owner=CustomerFactory(dealer=dealer, assigned_consultant=consultant),
        purchase_date=datetime.date(2020, 1, 1),
    )
    run(D, dealer)
    assert set(_care_tasks(dealer).values_list("assignee_id", flat=True)) == {consultant.id}
    consultant.is_active = False
    consultant.save(update_fields=["is_active"])

    # When the reassignment runs
    moved = care_tasks_reassign_departed(dealer.id)

    # Then their open care tasks go to the care specialist, in one go
    assert moved == 1
    assert set(_care_tasks(dealer).values_list("assignee_id", flat=True)) == {specialist.id}


def test_replacement_notice_names_a_suggestion(dealer, make_user, english):
    # Given a family that grew after buying a 5-seat car, and a 7-seat model in the catalogue
    from dealercrm.worklist.models import Notice
    from tests.vehicles.factories import CarModelFactory

    consultant = make_user(Role.SALES_CONSULTANT, language="en")
    CarModelFactory(
        brand=dealer.brand, series="极光 L", name="7座 旗舰版", seats=7, body_type="mpv"
    )
    owner = CustomerFactory(
        dealer=dealer, assigned_consultant=consultant, children_birth_years=[2023]
    )
    VehicleFactory(
        dealer=dealer,
        owner=owner,
        car_model=CarModelFactory(brand=dealer.brand, seats=5),
        purchase_date=datetime.date(2021, 5, 1),
    )

    # When the engine runs
    run(D, dealer)

    # Then the consultant is told, with the 7-seat suggestion and the model
    occurrence = occurrences(dealer, "replacement_candidate").get()
    assert occurrence.detail == {"suggestion": "seven_seat", "model": "极光 L 7座 旗舰版"}
    notice = Notice.objects.unscoped().get(recipient=consultant)
    assert "7-seat" in notice.body and "极光 L 7座 旗舰版" in notice.body


def test_query_count_of_a_run_does_not_grow_with_vehicles(dealer, make_user):
    # Given a run with 2 insured cars, then one with 6 (other days, same rules firing)
    make_user(Role.CARE_SPECIALIST)
    MessageTemplateFactory(
        dealer=dealer, purpose=Purpose.INSURANCE_RENEWAL, body="{{ salutation }}，保险快到期了。"
    )

    def queries_for(count: int, day: datetime.date) -> int:
        for _ in range(count):
            _insured(dealer, expiry_in=30 + (day - D).days)
        with CaptureQueriesContext(connection) as captured:
            report = run(day, dealer)
        assert created(report, "insurance_renewal") == count
        return len(captured)

    queries_for(1, D)  # the first run also reads and caches the dealer's messaging policy
    small = queries_for(2, D + datetime.timedelta(days=1))
    large = queries_for(6, D + datetime.timedelta(days=2))

    # Then the number of queries is the same
    assert small == large


def test_occurrence_without_task_is_recorded(dealer):
    # Given an owner gone for 18 months
    VehicleServiceStateFactory(
        vehicle=_insured(dealer, expiry_in=200), last_visit_on=datetime.date(2025, 9, 1)
    )

    # When the engine runs
    run(D, dealer)

    # Then the customer is lost, recorded without a task
    occurrence = occurrences(dealer, "dormant_lost").get()
    assert occurrence.status == OccurrenceStatus.NOTED and occurrence.task_id is None
    assert occurrence.customer.lifecycle_stage == "lost"
    assert not occurrences(dealer, "dormant_at_risk").exists()


def test_dormant_owner_at_risk_and_back_after_a_visit(dealer, make_user):
    # Given an owner last seen 13 months ago
    make_user(Role.CARE_SPECIALIST)
    state = VehicleServiceStateFactory(
        vehicle=_insured(dealer, expiry_in=200), last_visit_on=datetime.date(2026, 2, 1)
    )
    run(D, dealer)
    customer = occurrences(dealer, "dormant_at_risk").get().customer
    assert customer.lifecycle_stage == "at_risk"
    assert _care_tasks(dealer).filter(customer=customer, kind="call").exists()

    # When the owner visits again and the engine runs
    state.last_visit_on = D + datetime.timedelta(days=2)
    state.save(update_fields=["last_visit_on"])
    run(D + datetime.timedelta(days=3), dealer)

    # Then they are an owner again
    customer.refresh_from_db()
    assert customer.lifecycle_stage == "owner"


def test_task_statuses_stay_open_for_new_tasks(dealer, make_user):
    make_user(Role.CARE_SPECIALIST)
    _insured(dealer)
    run(D, dealer)
    assert set(_care_tasks(dealer).values_list("status", flat=True)) == {TaskStatus.OPEN}
    assert _care_tasks(dealer).get().due_at.astimezone(SHANGHAI).hour == 10
