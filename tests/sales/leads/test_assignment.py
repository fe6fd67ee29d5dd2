"""Assignment: round-robin among consultants on duty, by load, manual; reassignment history;
the first-response deadline in opening hours; the sweep that flags, escalates and reassigns."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
import time_machine

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer
from dealercrm.sales.models import AssignmentMode, Lead, LeadEvent
from dealercrm.sales.services.activities import activity_log
from dealercrm.sales.services.assignment import (
    first_response_deadline,
    lead_assign,
    lead_response_sweep,
)
from dealercrm.sales.services.leads import lead_create
from dealercrm.worklist.models import Notice

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def new_lead(dealer, actor, **kwargs) -> Lead:  # noqa: ANN001
    kwargs.setdefault("name", "王先生")
    return lead_create(actor=actor, dealer_id=dealer.pk, channel="website", **kwargs)


# --- the deadline ---------------------------------------------------------------------------


def test_lead_at_1750_with_30_minutes_is_due_0920_next_open_day(policy):
    assert first_response_deadline(policy=policy, start=at(2025, 6, 18, 17, 50)) == at(
        2025, 6, 19, 9, 20
    )


def test_lead_inside_opening_hours_is_due_30_minutes_later(policy):
    assert first_response_deadline(policy=policy, start=at(2025, 6, 18, 10, 0)) == at(
        2025, 6, 18, 10, 30
    )


def test_lead_before_opening_counts_from_opening(policy):
    assert first_response_deadline(policy=policy, start=at(2025, 6, 18, 7, 0)) == at(
        2025, 6, 18, 9, 30
    )


def test_closed_days_are_skipped(policy):
    policy.open_weekdays = "12345"  # Monday to Friday
    # Friday 2025-06-20 17:50 → Monday 2025-06-23 09:20
    assert first_response_deadline(policy=policy, start=at(2025, 6, 20, 17, 50)) == at(
        2025, 6, 23, 9, 20
    )


def test_deadline_uses_the_dealers_time_zone(policy):
    policy.dealer.time_zone = "Asia/Urumqi"  # UTC+6: 17:50 in Shanghai is 15:50 there
    due = first_response_deadline(policy=policy, start=at(2025, 6, 18, 17, 50))
    assert due == at(2025, 6, 18, 18, 20)


# --- choosing the consultant ------------------------------------------------------------------


def test_round_robin_gives_each_consultant_on_duty_a_lead_in_turn(dealer, manager, consultants):
    given = [new_lead(dealer, manager).consultant for _ in range(6)]
    assert given == [*consultants, *consultants]


def test_round_robin_skips_consultants_off_duty_inactive_and_managers(dealer, manager, consultants):
    consultants[1].on_duty = False
    consultants[1].save(update_fields=["on_duty"])
    consultants[2].is_active = False
    consultants[2].save(update_fields=["is_active"])
    given = {new_lead(dealer, manager).consultant for _ in range(3)}
    assert given == {consultants[0]}


def test_round_robin_never_hands_to_another_dealers_consultant(
    dealer, other_dealer, manager, make_user
):
    mine = make_user(Role.SALES_CONSULTANT)
    make_user(Role.SALES_CONSULTANT, dealer_=other_dealer)
    assert {new_lead(dealer, manager).consultant for _ in range(3)} == {mine}


def test_by_load_gives_the_lead_to_the_consultant_with_fewest_open_leads(
    dealer, manager, consultants, policy
):
    policy.assignment_mode = AssignmentMode.BY_LOAD
    policy.save()
    for _ in range(2):
        lead_create(
            actor=manager,
            dealer_id=dealer.pk,
            channel="phone",
            name="甲",
            consultant_id=consultants[0].pk,
        )
    lead_create(
        actor=manager,
        dealer_id=dealer.pk,
        channel="phone",
        name="乙",
        consultant_id=consultants[1].pk,
    )
    assert new_lead(dealer, manager).consultant == consultants[2]
    assert new_lead(dealer, manager).consultant in (consultants[1], consultants[2])


def test_manual_mode_leaves_the_lead_unassigned_and_tells_the_managers(
    dealer, manager, consultants, policy
):
    policy.assignment_mode = AssignmentMode.MANUAL
    policy.save()
    lead = new_lead(dealer, consultants[0])
    assert lead.consultant is None
    assert Notice.objects.filter(recipient=manager, source_id=str(lead.pk)).exists()


def test_nobody_on_duty_leaves_the_lead_unassigned_and_tells_the_managers(
    dealer, manager, consultants
):
    for c in consultants:
        c.on_duty = False
        c.save(update_fields=["on_duty"])
    lead = new_lead(dealer, manager)
    assert lead.consultant is None
    assert Notice.objects.filter(recipient=manager, reason="unassigned").count() == 1


def test_reassignment_keeps_the_history_and_moves_the_customer(dealer, manager, consultants):
    lead = new_lead(dealer, manager)
    first = lead.consultant
    lead_assign(actor=manager, lead=lead, consultant=consultants[2], note="客户要求")
    kinds = list(
        LeadEvent.objects.filter(lead=lead).order_by("at", "id").values_list("kind", "to_value")
    )
    assert kinds == [
        ("created", "website"),
        ("assigned", str(first)),
        ("reassigned", str(consultants[2])),
    ]
    assert Customer.objects.get(pk=lead.customer_id).assigned_consultant == consultants[2]


def test_reassignment_keeps_a_customer_who_has_another_consultant(dealer, manager, consultants):
    lead = new_lead(dealer, manager)
    Customer.objects.filter(pk=lead.customer_id).update(assigned_consultant=consultants[1])
    lead.customer.refresh_from_db()
    lead_assign(actor=manager, lead=lead, consultant=consultants[2])
    assert Customer.objects.get(pk=lead.customer_id).assigned_consultant == consultants[1]


def test_assigning_to_another_dealers_staff_is_refused(
    dealer, other_dealer, manager, consultants, make_user
):
    outsider = make_user(Role.SALES_CONSULTANT, dealer_=other_dealer)
    lead = new_lead(dealer, manager)
    with pytest.raises(Exception) as exc:
        lead_assign(actor=manager, lead=lead, consultant=outsider)
    assert "consultant" in exc.value.message_dict
    assert Lead.objects.get(pk=lead.pk).consultant == lead.consultant


# --- the first-response sweep -----------------------------------------------------------------


def test_sweep_flags_escalates_and_notifies_once(dealer, manager, consultants):
    with time_machine.travel(at(2025, 6, 18, 17, 50), tick=False):
        lead = new_lead(dealer, manager)
    assert lead.first_response_due_at == at(2025, 6, 19, 9, 20)
    with time_machine.travel(at(2025, 6, 19, 9, 19), tick=False):
        assert lead_response_sweep() == 0
    with time_machine.travel(at(2025, 6, 19, 9, 21), tick=False):
        assert lead_response_sweep() == 1
        assert lead_response_sweep() == 0
    lead.refresh_from_db()
    assert lead.response_flagged_at == at(2025, 6, 19, 9, 21)
    assert lead.escalated_at == at(2025, 6, 19, 9, 21)
    assert lead.consultant == consultants[0]  # auto_reassign is off by default
    kinds = set(LeadEvent.objects.filter(lead=lead).values_list("kind", flat=True))
    assert {"response_overdue", "escalated"} <= kinds
    overdue = Notice.objects.filter(source_id=str(lead.pk), reason__startswith="overdue")
    assert set(overdue.values_list("recipient_id", flat=True)) == {manager.pk, consultants[0].pk}


def test_sweep_leaves_a_contacted_lead_alone(dealer, manager, consultants):
    with time_machine.travel(at(2025, 6, 18, 10, 0), tick=False):
        lead = new_lead(dealer, manager)
        activity_log(
            actor=lead.consultant,
            lead=lead,
            kind="call",
            result="reached",
            next_action="邀约试驾",
            next_action_due=datetime.date(2025, 6, 20),
        )
    with time_machine.travel(at(2025, 6, 18, 11, 0), tick=False):
        assert lead_response_sweep() == 0


def test_sweep_reassigns_to_the_next_consultant_when_the_dealer_wants_it(
    dealer, manager, consultants, policy
):
    policy.auto_reassign = True
    policy.save()
    with time_machine.travel(at(2025, 6, 18, 10, 0), tick=False):
        lead = new_lead(dealer, manager)
    assert lead.consultant == consultants[0]
    with time_machine.travel(at(2025, 6, 18, 10, 31), tick=False):
        assert lead_response_sweep() == 1
    lead.refresh_from_db()
    assert lead.consultant == consultants[1]
    assert lead.first_response_due_at == at(2025, 6, 18, 11, 1)
    assert lead.response_flagged_at is None and lead.escalated_at is not None
    event = LeadEvent.objects.get(lead=lead, kind="auto_reassigned")
    assert (event.from_value, event.to_value) == (str(consultants[0]), str(consultants[1]))
    assert Customer.objects.get(pk=lead.customer_id).assigned_consultant == consultants[1]
    assert Notice.objects.filter(recipient=consultants[1], reason__startswith="auto").exists()
    # The next consultant misses it too: it moves on again, and the manager hears again.
    with time_machine.travel(at(2025, 6, 18, 11, 2), tick=False):
        assert lead_response_sweep() == 1
    lead.refresh_from_db()
    assert lead.consultant == consultants[2]
    assert Notice.objects.filter(recipient=manager, reason__startswith="overdue").count() == 2


def test_sweep_runs_across_dealers(dealer, other_dealer, manager, make_user):
    make_user(Role.SALES_CONSULTANT)
    other_manager = make_user(Role.DEALER_MANAGER, dealer_=other_dealer)
    make_user(Role.SALES_CONSULTANT, dealer_=other_dealer)
    with time_machine.travel(at(2025, 6, 18, 10, 0), tick=False):
        new_lead(dealer, manager)
        new_lead(other_dealer, other_manager)
    with time_machine.travel(at(2025, 6, 18, 12, 0), tick=False):
        assert lead_response_sweep() == 2


@pytest.mark.django_db(transaction=True)
def test_two_leads_arriving_at_once_go_to_two_consultants(dealer, manager, consultants, policy):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    import threading

    from dealercrm.core.tenancy import dealer_scope

    given: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def arrive(n: int) -> None:
        try:
            with dealer_scope(dealer.pk):
                barrier.wait()
                given.append(new_lead(dealer, manager, name=f"并发{n}").consultant_id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=arrive, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(given) == sorted(c.pk for c in consultants[:2])
