"""Intake (duplicates, the prospect customer, idempotency), stages, follow-ups and losses."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer
from dealercrm.sales.models import Activity, Lead, LeadEvent, LeadStage
from dealercrm.sales.services.activities import activity_log
from dealercrm.sales.services.leads import (
    lead_create,
    lead_matches,
    lead_stage_advance,
    lead_update,
    phones_similar,
)
from dealercrm.sales.services.loss import lead_loss_approve, lead_loss_request, lead_loss_return
from dealercrm.worklist.models import Notice
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.sales.factories import LeadFactory

pytestmark = pytest.mark.django_db


def create(dealer, actor, **kwargs) -> Lead:  # noqa: ANN001
    kwargs.setdefault("channel", "walk_in")
    kwargs.setdefault("name", "张伟")
    return lead_create(actor=actor, dealer_id=dealer.pk, **kwargs)


# --- duplicates -------------------------------------------------------------------------------


@pytest.fixture
def known(dealer):
    customer = CustomerFactory(dealer=dealer, name="张伟", wechat_id="zhangwei88")
    CustomerPhoneFactory(customer=customer, number="+8613812345678")
    return customer


def test_same_phone_matches_whatever_the_name(dealer, known):
    matches = lead_matches(dealer_id=dealer.pk, name="李娜", phone="138 1234 5678")
    assert [m.customer for m in matches.customers] == [known]
    assert matches.customers[0].masked_phones == ["138****5678"]


def test_same_name_with_the_same_last_eight_digits_matches(dealer, known):
    matches = lead_matches(dealer_id=dealer.pk, name="张伟", phone="13912345678")
    assert [m.customer for m in matches.customers] == [known]


def test_same_name_with_one_digit_off_matches(dealer, known):
    matches = lead_matches(dealer_id=dealer.pk, name="张伟", phone="13812345679")
    assert [m.customer for m in matches.customers] == [known]


def test_another_name_with_a_similar_phone_does_not_match(dealer, known):
    assert not lead_matches(dealer_id=dealer.pk, name="李娜", phone="13812345679")


def test_same_wechat_id_matches(dealer, known):
    matches = lead_matches(dealer_id=dealer.pk, name="张先生", wechat_id="zhangwei88")
    assert [m.customer for m in matches.customers] == [known]


def test_another_dealers_customer_never_matches(other_dealer, known):
    assert not lead_matches(dealer_id=other_dealer.pk, name="张伟", phone="13812345678")


def test_matches_carry_the_customers_open_leads_only(dealer, known):
    open_lead = LeadFactory(dealer=dealer, customer=known)
    LeadFactory(dealer=dealer, customer=known, stage=LeadStage.LOST)
    matches = lead_matches(dealer_id=dealer.pk, name="张伟", phone="13812345678")
    assert matches.open_leads == [open_lead]


def test_similar_phones():
    assert phones_similar("+8613812345678", "+8613912345678")  # last 8 the same
    assert phones_similar("+8613812345678", "+8613812345670")  # one digit off
    assert not phones_similar("+8613812345678", "+8613812345600")
    assert not phones_similar("", "+8613812345678")


# --- intake ---------------------------------------------------------------------------------


def test_a_new_person_becomes_a_prospect_customer_with_the_mapped_source(
    dealer, consultant, manager
):
    lead = create(dealer, manager, channel="douyin", phone="13800001111", wechat_id="wx1")
    customer = Customer.objects.get(pk=lead.customer_id)
    assert customer.lifecycle_stage == "prospect"
    assert customer.source_channel == "social_media"
    assert customer.wechat_id == "wx1"
    assert customer.assigned_consultant == consultant == lead.consultant
    assert lead.first_response_due_at is not None
    assert LeadEvent.objects.filter(lead=lead, kind="created").exists()


def test_attaching_to_an_existing_customer_makes_no_new_customer(dealer, manager, known):
    before = Customer.objects.count()
    lead = create(dealer, manager, customer=known)
    assert lead.customer == known
    assert Customer.objects.count() == before


def test_interest_spin_and_scenarios_are_kept(dealer, manager, car_model):
    lead = create(
        dealer,
        manager,
        car_model_id=car_model.pk,
        budget_min="150000",
        budget_max="200000",
        purchase_timeframe="3m",
        trade_in_description="2016 大众朗逸",
        trade_in_year=2016,
        spin_situation="两个孩子",
        spin_need_payoff="七座",
        scenario_tags=["family_children", "outdoor_trips"],
        campaign="618车展",
    )
    lead.refresh_from_db()
    assert lead.car_model == car_model
    assert lead.scenario_tags == ["family_children", "outdoor_trips"]
    assert lead.campaign == "618车展"
    assert str(lead.budget_max) == "200000.00"


def test_each_bad_field_is_named_and_nothing_is_saved(dealer, manager):
    before = (Lead.objects.count(), Customer.objects.count())
    with pytest.raises(ValidationError) as exc:
        create(
            dealer,
            manager,
            name="",
            phone="12345",
            channel="referral",
            budget_min="300000",
            budget_max="100000",
            scenario_tags=["space_travel"],
        )
    errors = exc.value.message_dict
    assert {"name", "phone", "referrer_id", "budget_max", "scenario_tags"} <= set(errors)
    assert (Lead.objects.count(), Customer.objects.count()) == before


def test_a_referral_names_the_referring_customer(dealer, manager, known):
    lead = create(dealer, manager, channel="referral", referrer_id=known.pk, phone="13700001111")
    assert lead.referrer == known


def test_the_same_idempotency_key_gives_the_same_lead(dealer, manager):
    first = create(dealer, manager, phone="13800002222", idempotency_key="form-1")
    again = create(dealer, manager, phone="13800002222", idempotency_key="form-1")
    assert again.pk == first.pk
    assert (first.was_created, again.was_created) == (True, False)
    assert Lead.objects.filter(idempotency_key="form-1").count() == 1


def test_lead_update_changes_interest(dealer, manager):
    lead = create(dealer, manager)
    lead_update(actor=manager, lead=lead, spin_problem="油耗高", purchase_timeframe="1m")
    lead.refresh_from_db()
    assert (lead.spin_problem, lead.purchase_timeframe) == ("油耗高", "1m")


# --- stages ---------------------------------------------------------------------------------


def test_advancing_stamps_every_stage_on_the_way(dealer, manager):
    lead = create(dealer, manager)
    lead_stage_advance(actor=manager, lead=lead, stage="order")
    lead.refresh_from_db()
    assert lead.stage == "order"
    assert lead.first_contacted_at and lead.test_drive_at and lead.negotiation_at
    assert lead.ordered_at and lead.delivered_at is None
    event = LeadEvent.objects.get(lead=lead, kind="stage")
    assert (event.from_value, event.to_value) == ("new", "order")


def test_an_earlier_stage_does_nothing(dealer, manager):
    lead = create(dealer, manager)
    lead_stage_advance(actor=manager, lead=lead, stage="negotiation")
    lead_stage_advance(actor=manager, lead=lead, stage="test_drive")
    lead.refresh_from_db()
    assert lead.stage == "negotiation"
    assert LeadEvent.objects.filter(lead=lead, kind="stage").count() == 1


def test_a_lost_lead_cannot_move_on(dealer, manager):
    lead = LeadFactory(dealer=dealer, stage=LeadStage.LOST)
    with pytest.raises(ValidationError):
        lead_stage_advance(actor=manager, lead=lead, stage="order")


def test_lost_is_not_a_stage_to_advance_to(dealer, manager):
    lead = create(dealer, manager)
    with pytest.raises(ValidationError):
        lead_stage_advance(actor=manager, lead=lead, stage="lost")


def test_an_order_withdraws_a_pending_loss_request(dealer, manager, consultant):
    lead = create(dealer, manager)
    lead_loss_request(actor=consultant, lead=lead, reason="price")
    lead_stage_advance(actor=consultant, lead=lead, stage="order")
    lead.refresh_from_db()
    assert lead.loss_requested_at is None and not lead.loss_pending


# --- follow-ups -----------------------------------------------------------------------------


def test_a_reached_call_is_the_first_response_and_sets_the_next_action(dealer, manager, consultant):
    lead = create(dealer, manager)
    due = datetime.date.today() + datetime.timedelta(days=2)
    activity = activity_log(
        actor=consultant,
        lead=lead,
        kind="call",
        result="reached",
        next_action="邀约到店",
        next_action_due=due,
    )
    lead.refresh_from_db()
    assert lead.stage == "contacted" and lead.first_contacted_at == activity.occurred_at
    assert (lead.next_action, lead.next_action_due) == ("邀约到店", due)


def test_an_unanswered_call_does_not_count_as_contact(dealer, manager, consultant):
    lead = create(dealer, manager)
    activity_log(
        actor=consultant,
        lead=lead,
        kind="call",
        result="no_answer",
        next_action="再打",
        next_action_due=datetime.date.today(),
    )
    lead.refresh_from_db()
    assert lead.stage == "new" and lead.first_contacted_at is None


def test_a_follow_up_needs_a_next_step_with_a_date(dealer, manager, consultant):
    lead = create(dealer, manager)
    with pytest.raises(ValidationError) as exc:
        activity_log(actor=consultant, lead=lead, kind="call", result="reached")
    assert {"next_action", "next_action_due"} <= set(exc.value.message_dict)
    assert not Activity.objects.exists()


def test_not_interested_needs_no_next_step(dealer, manager, consultant):
    lead = create(dealer, manager)
    activity_log(actor=consultant, lead=lead, kind="call", result="not_interested")
    lead.refresh_from_db()
    assert lead.next_action_due is None


def test_a_next_step_in_the_past_is_refused(dealer, manager, consultant):
    lead = create(dealer, manager)
    with pytest.raises(ValidationError) as exc:
        activity_log(
            actor=consultant,
            lead=lead,
            kind="call",
            result="reached",
            next_action="x",
            next_action_due=datetime.date.today() - datetime.timedelta(days=1),
        )
    assert "next_action_due" in exc.value.message_dict


# --- losses ---------------------------------------------------------------------------------


def test_a_loss_request_tells_the_managers_and_approval_closes_the_lead(
    dealer, manager, consultant
):
    lead = create(dealer, manager)
    lead_loss_request(
        actor=consultant, lead=lead, reason="competitor", competitor="比亚迪 宋", note="已订"
    )
    assert Notice.objects.filter(recipient=manager, reason__startswith="loss:").count() == 1
    assert Lead.objects.loss_pending().get() == lead
    lead_loss_approve(actor=manager, lead=lead)
    lead.refresh_from_db()
    assert lead.stage == "lost" and lead.lost_at and lead.loss_decided_by == manager
    assert lead.loss_competitor == "比亚迪 宋"
    assert Notice.objects.filter(recipient=consultant, reason="loss_approved").exists()


def test_a_competitor_loss_names_the_competitor(dealer, manager, consultant):
    lead = create(dealer, manager)
    with pytest.raises(ValidationError) as exc:
        lead_loss_request(actor=consultant, lead=lead, reason="competitor")
    assert "competitor" in exc.value.message_dict


def test_a_consultant_cannot_approve_a_loss(dealer, manager, consultant):
    lead = create(dealer, manager)
    lead_loss_request(actor=consultant, lead=lead, reason="price")
    with pytest.raises(PermissionDenied):
        lead_loss_approve(actor=consultant, lead=lead)


def test_sending_back_to_another_consultant_reassigns_with_a_next_action_today(
    dealer, manager, consultant, make_user
):
    lead = create(dealer, manager)
    lead_loss_request(actor=consultant, lead=lead, reason="timing")
    colleague = make_user(Role.SALES_CONSULTANT)
    lead_loss_return(actor=manager, lead=lead, note="再约一次试驾", reassign_to=colleague)
    lead.refresh_from_db()
    assert lead.is_open and not lead.loss_pending
    assert lead.consultant == colleague
    assert lead.next_action == "再约一次试驾"
    kinds = list(LeadEvent.objects.filter(lead=lead).values_list("kind", flat=True))
    assert "loss_returned" in kinds and kinds[-1] == "reassigned"


def test_a_second_request_while_one_is_pending_is_refused(dealer, manager, consultant):
    lead = create(dealer, manager)
    lead_loss_request(actor=consultant, lead=lead, reason="price")
    with pytest.raises(ValidationError):
        lead_loss_request(actor=consultant, lead=lead, reason="price")


# --- idempotency under a race (PostgreSQL: real concurrent transactions) --------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_with_one_key_make_one_lead(dealer, manager):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    from dealercrm.core.tenancy import dealer_scope

    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def post() -> None:
        try:
            with dealer_scope(dealer.pk):
                barrier.wait()
                results.append(
                    create(dealer, manager, phone="13800003333", idempotency_key="race").pk
                )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    assert Lead.objects.filter(idempotency_key="race").count() == 1
