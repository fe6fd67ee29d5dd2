"""Roadside rescue: the steps in order with their times, the follow-up call created once, the
repair order of a car towed in, the pages and the timeline."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation

from dealercrm.core.permissions import Role
from dealercrm.customers.timeline import customer_timeline
from dealercrm.service.models import RepairOrder, RescueOutcome, RescueProblem, RescueStatus
from dealercrm.service.services import rescue as services
from dealercrm.worklist.models import Task
from tests.core.factories import UserFactory
from tests.customers.factories import CustomerPhoneFactory
from tests.vehicles.factories import VehicleFactory

T0 = datetime.datetime(2026, 5, 6, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def advisor(make_user):
    return make_user(Role.SERVICE_ADVISOR, language="en")


@pytest.fixture
def vehicle(dealer):
    vehicle = VehicleFactory(dealer=dealer)
    CustomerPhoneFactory(customer=vehicle.owner)
    return vehicle


def log_call(advisor, vehicle, **extra):
    return services.rescue_create(
        actor=advisor,
        dealer_id=vehicle.dealer_id,
        vehicle=vehicle,
        caller_phone="13900001111",
        location="沪宁高速 K12 往南京方向",
        problem=extra.pop("problem", RescueProblem.BATTERY),
        **extra,
    )


def test_every_step_is_timestamped_in_order(advisor, vehicle):
    # Given a call taken at 9:00
    with time_machine.travel(T0, tick=False):
        rescue = log_call(advisor, vehicle)
    # When someone is dispatched at 9:05, arrives at 9:40 and is done at 10:10
    with time_machine.travel(T0 + datetime.timedelta(minutes=5), tick=False):
        services.rescue_dispatch(actor=advisor, rescue=rescue, partner="平安救援 张师傅")
    with time_machine.travel(T0 + datetime.timedelta(minutes=40), tick=False):
        services.rescue_arrive(actor=advisor, rescue=rescue)
    with time_machine.travel(T0 + datetime.timedelta(minutes=70), tick=False):
        services.rescue_finish(actor=advisor, rescue=rescue, outcome=RescueOutcome.FIXED_ON_SITE)

    rescue.refresh_from_db()
    # Then each step has its time, the owner and caller number are recorded
    assert rescue.status == RescueStatus.DONE
    assert rescue.customer_id == vehicle.owner_id
    assert rescue.caller_phone == "+8613900001111"
    assert (rescue.called_at, rescue.dispatched_at, rescue.arrived_at, rescue.done_at) == (
        T0,
        T0 + datetime.timedelta(minutes=5),
        T0 + datetime.timedelta(minutes=40),
        T0 + datetime.timedelta(minutes=70),
    )
    assert rescue.dispatched_to == "平安救援 张师傅"


def test_a_step_out_of_order_is_refused_with_a_message(advisor, vehicle):
    rescue = log_call(advisor, vehicle)
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        services.rescue_arrive(actor=advisor, rescue=rescue)
    assert caught.value.message_dict == {"status": ["Dispatch someone first."]}

    with translation.override("en"), pytest.raises(ValidationError) as caught:
        services.rescue_finish(actor=advisor, rescue=rescue, outcome=RescueOutcome.FIXED_ON_SITE)
    assert caught.value.message_dict["status"] == ["Dispatch someone first."]

    services.rescue_dispatch(actor=advisor, rescue=rescue, responder=advisor)
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        services.rescue_dispatch(actor=advisor, rescue=rescue, partner="again")
    assert "already" in caught.value.message_dict["status"][0]
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        services.rescue_finish(actor=advisor, rescue=rescue, outcome=RescueOutcome.TOWED_ELSEWHERE)
    assert caught.value.message_dict["status"] == ["Record the arrival on site first."]
    rescue.refresh_from_db()
    assert rescue.status == RescueStatus.DISPATCHED and rescue.done_at is None


def test_a_dispatch_needs_someone_to_send(advisor, vehicle):
    rescue = log_call(advisor, vehicle)
    with pytest.raises(ValidationError) as caught:
        services.rescue_dispatch(actor=advisor, rescue=rescue)
    assert "responder" in caught.value.message_dict


def test_the_customer_can_cancel_before_the_truck_arrives(advisor, vehicle):
    rescue = log_call(advisor, vehicle)
    services.rescue_dispatch(actor=advisor, rescue=rescue, partner="拖车")

    services.rescue_finish(actor=advisor, rescue=rescue, outcome=RescueOutcome.CANCELLED)

    rescue.refresh_from_db()
    assert rescue.status == RescueStatus.CANCELLED and rescue.done_at is not None
    assert rescue.follow_up_task_id is None


def finish(advisor, vehicle, **kwargs):
    rescue = log_call(advisor, vehicle)
    services.rescue_dispatch(actor=advisor, rescue=rescue, responder=advisor)
    services.rescue_arrive(actor=advisor, rescue=rescue)
    return services.rescue_finish(actor=advisor, rescue=rescue, **kwargs)


def test_done_creates_one_follow_up_call_for_the_next_day(advisor, vehicle, dealer):
    # Given a care specialist of the dealer
    specialist = UserFactory(role=Role.CARE_SPECIALIST, dealer=dealer)
    with time_machine.travel(T0, tick=False):
        rescue = finish(advisor, vehicle, outcome=RescueOutcome.TOWED_ELSEWHERE)
    # Then one call task, for the specialist, due the next morning at the dealer
    (task,) = Task.objects.filter(source_kind=services.TASK_SOURCE_KIND)
    assert rescue.follow_up_task_id == task.pk
    assert task.assignee_id == specialist.pk and task.customer_id == vehicle.owner_id
    assert timezone.localtime(task.due_at).date() == datetime.date(2026, 5, 7)
    # … and finishing again is refused, creating nothing more
    with pytest.raises(ValidationError):
        services.rescue_finish(actor=advisor, rescue=rescue, outcome=RescueOutcome.FIXED_ON_SITE)
    assert Task.objects.filter(source_kind=services.TASK_SOURCE_KIND).count() == 1


def test_a_caller_who_is_not_a_customer_gets_no_task(advisor, dealer):
    rescue = services.rescue_create(
        actor=advisor,
        dealer_id=dealer.pk,
        caller_name="路人",
        caller_phone="13900002222",
        location="中山路",
        problem=RescueProblem.TYRE,
    )
    services.rescue_dispatch(actor=advisor, rescue=rescue, partner="拖车")
    services.rescue_arrive(actor=advisor, rescue=rescue)
    services.rescue_finish(actor=advisor, rescue=rescue, outcome=RescueOutcome.FIXED_ON_SITE)
    assert not Task.objects.exists()


def test_a_car_towed_to_the_workshop_can_get_its_repair_order(advisor, vehicle):
    rescue = finish(advisor, vehicle, outcome=RescueOutcome.TOWED_TO_DEALER, open_repair_order=True)
    order = RepairOrder.objects.get(pk=rescue.repair_order_id)
    assert order.vehicle_id == vehicle.pk


def test_a_bad_call_back_number_is_refused_naming_the_field(advisor, vehicle):
    with pytest.raises(ValidationError) as caught:
        services.rescue_create(
            actor=advisor,
            dealer_id=vehicle.dealer_id,
            caller_phone="123",
            location="",
            problem="boom",
        )
    assert set(caught.value.message_dict) == {"caller_phone", "location", "problem"}


# --- pages ---------------------------------------------------------------------------------------


def test_the_list_shows_open_rescues_first_with_averages(client_for, advisor, vehicle):
    with time_machine.travel(T0, tick=False):
        done = finish(advisor, vehicle, outcome=RescueOutcome.FIXED_ON_SITE)
        open_one = log_call(advisor, vehicle, problem=RescueProblem.TYRE)

    response = client_for(advisor).get(reverse("service:rescue_list"))

    html = response.content.decode()
    assert response.status_code == 200
    first = html.index(reverse("service:rescue_detail", kwargs={"rescue_id": open_one.pk}))
    second = html.index(reverse("service:rescue_detail", kwargs={"rescue_id": done.pk}))
    assert first < second
    assert "Call → dispatched" in html


def test_the_steps_page_records_a_dispatch_and_refuses_an_early_finish(
    client_for, advisor, vehicle
):
    rescue = log_call(advisor, vehicle)
    client = client_for(advisor)
    url = reverse("service:rescue_detail", kwargs={"rescue_id": rescue.pk})

    early = client.post(url, {"action": "finish", "outcome": RescueOutcome.FIXED_ON_SITE})
    assert early.status_code == 400
    assert "Dispatch someone first." in early.content.decode()

    response = client.post(url, {"action": "dispatch", "partner": "救援车队"})
    assert response.status_code == 302
    rescue.refresh_from_db()
    assert rescue.status == RescueStatus.DISPATCHED


def test_a_call_is_logged_for_a_customer_found_by_plate(client_for, advisor, vehicle):
    from dealercrm.search.services import search_keys_refresh

    search_keys_refresh(dealer_id=vehicle.dealer_id, customer_ids=[vehicle.owner_id])
    client = client_for(advisor)
    found = client.get(reverse("service:rescue_create"), {"q": vehicle.plate})
    assert vehicle.owner.name in found.content.decode()

    response = client.post(
        reverse("service:rescue_create"),
        {
            "customer": vehicle.owner_id,
            "vehicle": vehicle.pk,
            "caller_phone": "13900003333",
            "location": "外环高速",
            "problem": RescueProblem.BREAKDOWN,
        },
    )

    assert response.status_code == 302
    rescue = services.RescueCall.objects.get()
    assert (rescue.customer_id, rescue.vehicle_id) == (vehicle.owner_id, vehicle.pk)


def test_another_dealers_rescue_is_not_found(client_for, advisor, other_dealer):
    other_vehicle = VehicleFactory(dealer=other_dealer)
    other_advisor = UserFactory(role=Role.SERVICE_ADVISOR, dealer=other_dealer)
    rescue = log_call(other_advisor, other_vehicle)

    response = client_for(advisor).get(
        reverse("service:rescue_detail", kwargs={"rescue_id": rescue.pk})
    )

    assert response.status_code == 404


def test_a_rescue_is_on_the_customer_timeline(advisor, vehicle):
    with translation.override("en"):
        finish(advisor, vehicle, outcome=RescueOutcome.FIXED_ON_SITE)
        entries = [e for e in customer_timeline(vehicle.owner) if e.kind == "rescue"]
    assert len(entries) == 1
    assert "Flat battery" in entries[0].title


def test_the_list_costs_the_same_queries_whatever_the_number_of_rescues(
    client_for, advisor, vehicle
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(advisor)
    url = reverse("service:rescue_list")
    finish(advisor, vehicle, outcome=RescueOutcome.FIXED_ON_SITE)
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _n in range(5):
        finish(advisor, vehicle, outcome=RescueOutcome.FIXED_ON_SITE)
        log_call(advisor, vehicle)
    with CaptureQueriesContext(connection) as eleven:
        client.get(url)
    assert len(one) == len(eleven)


def test_the_api_refuses_a_step_out_of_order(client_for, advisor, vehicle):
    rescue = log_call(advisor, vehicle)
    response = client_for(advisor).post(
        f"/api/service/rescues/{rescue.pk}/arrived", content_type="application/json"
    )
    assert response.status_code == 422
    assert "Dispatch someone first." in response.content.decode()
