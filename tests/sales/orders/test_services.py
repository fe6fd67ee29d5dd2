"""Orders: creating one, sold vehicles refused, progress and delays, telling the customer in time,
delivery completing the sale."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from dealercrm.customers.models import Customer, LifecycleStage
from dealercrm.messaging.models import Message, Purpose
from dealercrm.sales.models import Lead, Order, OrderMilestone, OrderStage, Quote
from dealercrm.sales.models.orders import ORDER_STAGE_SEQUENCE
from dealercrm.sales.services import orders as services
from dealercrm.vehicles.models import Vehicle, VehicleOwnership
from dealercrm.worklist.models import Task, TaskKind, TaskStatus
from dealercrm.worklist.selectors import my_tasks
from dealercrm.worklist.services import task_cancel, task_complete
from tests.customers.factories import CustomerFactory
from tests.sales.factories import LeadFactory, OrderFactory, QuoteFactory
from tests.vehicles.factories import VehicleFactory, make_vin

from .conftest import NOW, TODAY

pytestmark = pytest.mark.django_db


def _create(lead, actor, **kwargs):
    values = {
        "actor": actor,
        "lead": lead,
        "car_model": lead.car_model,
        "price": Decimal("199800"),
        "deposit": Decimal("5000"),
        "promised_delivery_on": TODAY + datetime.timedelta(days=60),
    }
    values.update(kwargs)
    return services.order_create(**values)


def _delay_tasks(order):
    return Task.objects.filter(source_kind="sales.order", source_id=f"{order.pk}:delay")


# --- create ---------------------------------------------------------------------------------


def test_order_create_numbers_the_order_plans_every_stage_and_moves_lead_and_customer(
    lead, consultant
):
    order = _create(lead, consultant)

    assert order.number == "SO20260302001"
    assert order.stage == OrderStage.ORDERED
    assert order.deposit_paid_on == TODAY
    milestones = {m.stage: m for m in OrderMilestone.objects.filter(order=order)}
    assert list(milestones) == [s.value for s in ORDER_STAGE_SEQUENCE] or set(milestones) == {
        s.value for s in ORDER_STAGE_SEQUENCE
    }
    assert milestones["ordered"].reached_on == TODAY
    assert milestones["delivered"].expected_on == order.promised_delivery_on
    expected = [milestones[s.value].expected_on for s in ORDER_STAGE_SEQUENCE]
    assert expected == sorted(expected)
    assert order.expected_delivery_on == order.promised_delivery_on
    lead.refresh_from_db()
    assert lead.stage == "order"
    assert lead.ordered_at is not None
    assert Customer.objects.get(pk=lead.customer_id).lifecycle_stage == LifecycleStage.IN_ORDER


def test_second_order_of_the_day_gets_the_next_number(dealer, consultant, car_model, lead):
    first = _create(lead, consultant)
    other = LeadFactory(dealer=dealer, consultant=consultant, car_model=car_model, stage="new")
    second = _create(other, consultant)
    assert (first.number, second.number) == ("SO20260302001", "SO20260302002")


def test_tracking_token_is_long_random_and_unique(lead, dealer, consultant, car_model):
    tokens = {_create(lead, consultant).tracking_token}
    for _n in range(3):
        other = LeadFactory(dealer=dealer, consultant=consultant, car_model=car_model)
        tokens.add(_create(other, consultant).tracking_token)
    assert len(tokens) == 4
    # 32 random bytes: 43 URL-safe characters, 256 bits.
    assert all(len(t) >= 43 for t in tokens)


def test_order_from_the_current_quote_takes_model_colour_and_price(lead, consultant):
    quote = QuoteFactory(
        lead=lead,
        colour="星光银",
        vehicle_price=Decimal("209800.00"),
        discount=Decimal("8000.00"),
    )
    order = _create(lead, consultant, car_model=None, price=None, quote=quote)
    assert (order.car_model_id, order.colour, order.price) == (
        quote.car_model_id,
        "星光银",
        Decimal("201800.00"),
    )
    assert Quote.objects.get(pk=quote.pk).status == Quote.Status.ACCEPTED


# --- refusals: nothing saved ----------------------------------------------------------------


def _nothing_saved(lead):
    assert not Order.objects.exists()
    assert not OrderMilestone.objects.exists()
    assert Lead.objects.get(pk=lead.pk).stage == "negotiation"
    assert Customer.objects.get(pk=lead.customer_id).lifecycle_stage == LifecycleStage.PROSPECT


def test_order_for_a_vehicle_owned_by_a_customer_is_refused_and_nothing_saved(
    lead, consultant, dealer
):
    sold = VehicleFactory(dealer=dealer)  # registered to another customer
    with pytest.raises(ValidationError) as refused:
        _create(lead, consultant, vehicle=sold)
    assert "vehicle" in refused.value.message_dict
    assert "sold" in " ".join(refused.value.message_dict["vehicle"]).lower() or refused.value
    _nothing_saved(lead)


def test_order_for_a_delivered_vehicle_is_refused(lead, consultant, stock_car):
    Vehicle.objects.filter(pk=stock_car.pk).update(delivery_date=datetime.date(2025, 5, 1))
    stock_car.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        _create(lead, consultant, vehicle=stock_car)
    assert list(refused.value.message_dict) == ["vehicle"]
    _nothing_saved(lead)


def test_order_for_a_vehicle_on_another_live_order_is_refused(
    lead, consultant, stock_car, dealer, car_model
):
    other = LeadFactory(dealer=dealer, consultant=consultant, car_model=car_model)
    first = _create(other, consultant, vehicle=stock_car)
    with pytest.raises(ValidationError) as refused:
        _create(lead, consultant, vehicle=stock_car)
    assert first.number in refused.value.message_dict["vehicle"][0]
    assert Order.objects.count() == 1
    # Once that order is cancelled the car is free again.
    services.order_cancel(actor=consultant, order=first, reason="客户改主意")
    assert _create(lead, consultant, vehicle=stock_car).vehicle_id == stock_car.pk


def test_database_refuses_two_live_orders_for_one_vehicle(lead, stock_car):
    OrderFactory(lead=lead, vehicle=stock_car)
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(lead=lead, vehicle=stock_car)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"deposit": Decimal("-1")}, "deposit"),
        ({"deposit": Decimal("250000")}, "deposit"),
        ({"price": Decimal("0")}, "price"),
        ({"promised_delivery_on": TODAY - datetime.timedelta(days=1)}, "promised_delivery_on"),
    ],
)
def test_bad_order_input_is_refused_by_field_and_nothing_saved(lead, consultant, kwargs, field):
    with pytest.raises(ValidationError) as refused:
        _create(lead, consultant, **kwargs)
    assert field in refused.value.message_dict
    _nothing_saved(lead)


def test_order_on_a_closed_lead_is_refused(lead, consultant):
    Lead.objects.filter(pk=lead.pk).update(stage="lost")
    with pytest.raises(ValidationError) as refused:
        _create(lead, consultant)
    assert "lead" in refused.value.message_dict
    assert not Order.objects.exists()


# --- progress and delays --------------------------------------------------------------------


def test_reaching_a_stage_moves_the_order_forward(lead, consultant):
    order = _create(lead, consultant)
    order = services.order_milestone_set(
        actor=consultant, order=order, stage="in_transit", reached_on=TODAY
    )
    assert order.stage == "in_transit"
    # An earlier stage reached later does not move it back.
    order = services.order_milestone_set(
        actor=consultant, order=order, stage="in_production", reached_on=TODAY
    )
    assert order.stage == "in_transit"


def test_a_stage_cannot_be_reached_in_the_future_nor_delivered_by_a_milestone(lead, consultant):
    order = _create(lead, consultant)
    with pytest.raises(ValidationError) as refused:
        services.order_milestone_set(
            actor=consultant,
            order=order,
            stage="arrived",
            reached_on=TODAY + datetime.timedelta(days=1),
        )
    assert "reached_on" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.order_milestone_set(
            actor=consultant, order=order, stage="delivered", reached_on=TODAY
        )


def test_forecast_past_the_promise_creates_one_mandatory_task_for_the_consultant(lead, consultant):
    order = _create(lead, consultant)
    late = order.promised_delivery_on + datetime.timedelta(days=10)

    order = services.order_milestone_set(
        actor=consultant, order=order, stage="delivered", expected_on=late
    )

    assert order.expected_delivery_on == late
    assert order.delay_detected_at == NOW
    (task,) = _delay_tasks(order)
    assert task.assignee_id == consultant.pk
    assert task.kind == TaskKind.CALL
    assert task.status == TaskStatus.OPEN
    assert timezone.localtime(task.due_at).date() == TODAY
    assert late.isoformat() in task.body


def test_delay_detection_twice_makes_exactly_one_task(lead, consultant):
    order = _create(lead, consultant)
    late = order.promised_delivery_on + datetime.timedelta(days=10)
    services.order_milestone_set(actor=consultant, order=order, stage="delivered", expected_on=late)
    services.order_milestone_set(
        actor=consultant, order=order, stage="delivered", expected_on=late + datetime.timedelta(1)
    )
    assert services.order_delays_detect() == 0
    assert services.order_delays_detect() == 0
    assert _delay_tasks(order).count() == 1


def test_daily_detection_catches_up_set_based_and_runs_twice_without_harm(
    dealer, other_dealer, consultant, django_assert_max_num_queries, frozen
):
    promised = TODAY + datetime.timedelta(days=5)
    late = [
        OrderFactory(
            lead__dealer=d,
            lead__consultant=consultant if d == dealer else None,
            promised_delivery_on=promised,
            expected_delivery_on=promised + datetime.timedelta(days=3),
        )
        for d in (dealer, dealer, other_dealer)
    ]
    on_time = OrderFactory(lead__dealer=dealer, promised_delivery_on=promised)

    with django_assert_max_num_queries(10):
        assert services.order_delays_detect() == 3
    assert services.order_delays_detect() == 0

    for order in late:
        assert _delay_tasks(order).count() == 1
    assert not _delay_tasks(on_time).exists()
    assert Order.objects.get(pk=on_time.pk).delay_detected_at is None


def _delayed_order(lead, consultant):
    order = _create(lead, consultant, promised_delivery_on=TODAY + datetime.timedelta(days=10))
    return services.order_milestone_set(
        actor=consultant,
        order=order,
        stage="delivered",
        expected_on=TODAY + datetime.timedelta(days=20),
    )


def test_customer_told_before_the_promised_date_counts_in_time(lead, consultant, frozen):
    order = _delayed_order(lead, consultant)
    frozen.shift(datetime.timedelta(days=9))  # the day before the promised date
    order = services.order_customer_told(actor=consultant, order=order)
    assert order.told_in_time is True
    # The task is done with it, and telling again changes nothing.
    assert _delay_tasks(order).get().status == TaskStatus.DONE
    again = services.order_customer_told(actor=consultant, order=order)
    assert again.customer_told_at == order.customer_told_at


def test_customer_told_on_the_promised_date_is_too_late(lead, consultant, frozen):
    order = _delayed_order(lead, consultant)
    # 00:30 in Shanghai on the promised date (16:30 UTC the day before).
    frozen.move_to(
        datetime.datetime.combine(
            order.promised_delivery_on - datetime.timedelta(days=1),
            datetime.time(16, 30),
            tzinfo=datetime.UTC,
        )
    )
    order = services.order_customer_told(actor=consultant, order=order)
    assert order.told_in_time is False


def test_completing_the_delay_task_with_the_customer_reached_tells_them(lead, consultant, frozen):
    order = _delayed_order(lead, consultant)
    frozen.shift(datetime.timedelta(days=2))
    task = _delay_tasks(order).get()
    task_complete(actor=consultant, task=task, outcome="reached: 客户表示理解")
    order.refresh_from_db()
    assert order.customer_told_at == NOW + datetime.timedelta(days=2)
    assert order.told_in_time is True


@pytest.mark.parametrize("close", ["cancel", "no_answer"])
def test_cancelling_the_task_or_not_reaching_the_customer_does_not_count(lead, consultant, close):
    order = _delayed_order(lead, consultant)
    task = _delay_tasks(order).get()
    if close == "cancel":
        task_cancel(actor=consultant, task=task, outcome="")
    else:
        task_complete(actor=consultant, task=task, outcome="no_answer")
    order.refresh_from_db()
    assert order.customer_told_at is None
    assert order.told_in_time is None


def test_promise_passing_untold_settles_not_told_in_time(lead, consultant, frozen):
    order = _delayed_order(lead, consultant)
    frozen.shift(datetime.timedelta(days=11))
    services.order_delays_detect()
    order.refresh_from_db()
    assert order.told_in_time is False
    assert order.customer_told_at is None


def test_delay_message_from_the_order_is_a_service_message_and_tells_the_customer(lead, consultant):
    order = _delayed_order(lead, consultant)
    message = services.order_delay_message_send(actor=consultant, order=order, channel="sms")
    assert message.purpose == Purpose.DELIVERY_DELAY
    assert message.source_kind == Message.SourceKind.SALES
    assert message.source_id == f"order:{order.pk}:delay"
    assert order.expected_delivery_on.isoformat() in message.body
    order.refresh_from_db()
    assert order.told_in_time is True
    # Sending again (a double click) queues nothing new.
    services.order_delay_message_send(actor=consultant, order=order, channel="sms")
    assert Message.objects.filter(source_id=f"order:{order.pk}:delay").count() == 1


def test_customer_told_without_a_delay_is_refused(lead, consultant):
    order = _create(lead, consultant)
    with pytest.raises(ValidationError):
        services.order_customer_told(actor=consultant, order=order)


# --- delivery -------------------------------------------------------------------------------


def test_delivery_makes_the_customer_an_owner_registers_the_car_and_plans_the_3_day_call(
    lead, consultant, frozen
):
    order = _create(lead, consultant, promised_delivery_on=TODAY + datetime.timedelta(days=30))
    frozen.shift(datetime.timedelta(days=28))
    delivered_on = TODAY + datetime.timedelta(days=28)
    vin = make_vin(4242)

    order = services.order_deliver(
        actor=consultant, order=order, vin=vin, plate="沪A12345", delivered_on=delivered_on
    )

    assert order.stage == OrderStage.DELIVERED
    assert order.delivered_on == delivered_on
    assert OrderMilestone.objects.get(order=order, stage="delivered").reached_on == delivered_on
    vehicle = Vehicle.objects.get(vin=vin)
    assert order.vehicle_id == vehicle.pk
    assert vehicle.owner_id == lead.customer_id
    assert (vehicle.purchase_date, vehicle.delivery_date) == (delivered_on, delivered_on)
    assert vehicle.plate == "沪A12345"
    assert VehicleOwnership.objects.get(vehicle=vehicle).started_on == delivered_on
    assert Customer.objects.get(pk=lead.customer_id).lifecycle_stage == LifecycleStage.OWNER
    lead.refresh_from_db()
    assert lead.stage == "delivered"
    # The follow-up call is on the consultant's own list, due 3 days later at opening time.
    (task,) = [t for t in my_tasks(consultant).object_list if t.source_kind == "sales.order"]
    assert task.kind == TaskKind.FOLLOW_UP
    assert task.source_id == f"{order.pk}:followup"
    due = timezone.localtime(task.due_at)
    assert (due.date(), due.time()) == (
        delivered_on + datetime.timedelta(days=3),
        datetime.time(9, 0),
    )


def test_delivery_of_a_stock_car_registers_it_to_the_customer(lead, consultant, stock_car):
    order = _create(lead, consultant, vehicle=stock_car)
    order = services.order_deliver(actor=consultant, order=order, vin=stock_car.vin.lower())
    stock_car.refresh_from_db()
    assert stock_car.owner_id == lead.customer_id
    assert stock_car.delivery_date == TODAY
    assert order.vehicle_id == stock_car.pk


def test_delivery_of_a_car_owned_by_someone_else_is_refused(lead, consultant, dealer):
    theirs = VehicleFactory(dealer=dealer, owner=CustomerFactory(dealer=dealer))
    order = _create(lead, consultant)
    with pytest.raises(ValidationError) as refused:
        services.order_deliver(actor=consultant, order=order, vin=theirs.vin)
    assert "vin" in refused.value.message_dict
    order.refresh_from_db()
    assert order.stage == OrderStage.ORDERED
    assert Customer.objects.get(pk=lead.customer_id).lifecycle_stage == LifecycleStage.IN_ORDER
    assert not Task.objects.filter(source_id=f"{order.pk}:followup").exists()


def test_delivery_of_a_car_on_another_live_order_is_refused(
    lead, consultant, dealer, car_model, stock_car
):
    other = _create(
        LeadFactory(dealer=dealer, consultant=consultant, car_model=car_model),
        consultant,
        vehicle=stock_car,
    )
    order = _create(lead, consultant)
    with pytest.raises(ValidationError) as refused:
        services.order_deliver(actor=consultant, order=order, vin=stock_car.vin)
    assert other.number in refused.value.message_dict["vin"][0]


def test_delivery_with_an_invalid_vin_is_refused_by_the_vehicles_rules(lead, consultant):
    order = _create(lead, consultant)
    with pytest.raises(ValidationError) as refused:
        services.order_deliver(actor=consultant, order=order, vin="LSVAB1234")
    assert "vin" in refused.value.message_dict
    assert not Vehicle.objects.exists()


# --- the customer 360 timeline --------------------------------------------------------------


def test_orders_are_on_the_customer_timeline_in_one_query(
    lead, consultant, django_assert_num_queries
):
    from dealercrm.sales.selectors.orders import order_timeline

    order = _create(lead, consultant)
    customer = Customer.objects.get(pk=lead.customer_id)
    with django_assert_num_queries(1):
        (entry,) = order_timeline(customer, limit=10, before=None)
    assert order.number in entry.title
    assert entry.url.endswith(f"/orders/{order.pk}/")
    assert order_timeline(customer, limit=10, before=order.created_at) == []


def test_delivery_closes_an_open_delay_task_without_counting_the_customer_told(lead, consultant):
    order = _delayed_order(lead, consultant)
    order = services.order_deliver(actor=consultant, order=order, vin=make_vin(5150))
    assert _delay_tasks(order).get().status == TaskStatus.CANCELLED
    assert order.customer_told_at is None


def test_delay_notice_rate_counts_per_dealer_what_the_documents_measured(
    dealer, other_dealer, frozen
):
    from dealercrm.sales.selectors.orders import delay_notice_rate

    past = TODAY - datetime.timedelta(days=3)
    ahead = TODAY + datetime.timedelta(days=3)
    detected = NOW - datetime.timedelta(days=10)

    def delayed(d, promised, **fields):
        return OrderFactory(
            lead__dealer=d,
            promised_delivery_on=promised,
            expected_delivery_on=promised + datetime.timedelta(days=7),
            delay_detected_at=detected,
            **fields,
        )

    delayed(dealer, past, customer_told_at=detected, told_in_time=True)
    delayed(dealer, past, customer_told_at=NOW, told_in_time=False)
    delayed(dealer, past)  # the promise broke untold
    delayed(dealer, ahead)  # can still be told in time: pending
    delayed(dealer, past, stage="cancelled")  # not counted
    delayed(dealer, past, stage="delivered", delivered_on=past)  # on time after all
    delayed(other_dealer, past, customer_told_at=detected, told_in_time=True)
    OrderFactory(lead__dealer=dealer)  # never delayed

    rates = delay_notice_rate([dealer.pk, other_dealer.pk], None, None)

    mine = rates[dealer.pk]
    assert (mine.delayed, mine.decided, mine.told, mine.told_in_time, mine.pending) == (
        4,
        3,
        2,
        1,
        1,
    )
    assert mine.rate == Decimal("0.333")
    assert mine.percent == Decimal("33.3")
    assert rates[other_dealer.pk].rate == Decimal("1.000")
    # The period is by promised date.
    assert delay_notice_rate([dealer.pk], ahead, None)[dealer.pk].delayed == 1
