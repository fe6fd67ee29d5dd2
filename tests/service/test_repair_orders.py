"""Repair orders: the VIN rules, numbering, the flagged mileage (saved, flagged, warned), line
totals, closing (the "closed" listeners once, on commit), the pages and the API."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from dealercrm.core.permissions import Role
from dealercrm.service.events import (
    register_repair_order_listener,
    unregister_repair_order_listener,
)
from dealercrm.service.models import RepairKind, RepairOrder, RepairOrderStatus
from dealercrm.service.models.records import LineType
from dealercrm.service.services.repair_orders import (
    repair_order_add_line,
    repair_order_cancel,
    repair_order_close,
    repair_order_open,
    repair_order_update,
)
from dealercrm.vehicles.models import MileageReading
from tests.service.factories import WORKSHOP_NOW, RepairOrderFactory, RepairOrderLineFactory
from tests.vehicles.factories import MileageReadingFactory, VehicleFactory, make_vin

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_clock_in_english():
    with time_machine.travel(WORKSHOP_NOW, tick=False), translation.override("en"):
        yield


@pytest.fixture
def advisor(make_user):
    return make_user(Role.SERVICE_ADVISOR, language="en")


@pytest.fixture
def car(dealer):
    return VehicleFactory(dealer=dealer, delivery_date=datetime.date(2024, 3, 8))


def open_ro(car, **kwargs):
    kwargs.setdefault("kind", RepairKind.MAINTENANCE)
    return repair_order_open(actor=None, dealer_id=car.dealer_id, vin=car.vin, **kwargs)


def test_an_unknown_vin_is_refused_naming_it(dealer):
    vin = make_vin(987654)
    with pytest.raises(ValidationError) as exc_info:
        repair_order_open(actor=None, dealer_id=dealer.pk, vin=vin, kind=RepairKind.REPAIR)
    assert exc_info.value.message_dict["vin"] == [
        f"No vehicle with VIN {vin} is known at this dealer; add the vehicle first."
    ]
    assert not RepairOrder.objects.exists()


def test_another_dealers_car_is_unknown_here(dealer, other_dealer):
    theirs = VehicleFactory(dealer=other_dealer)
    with pytest.raises(ValidationError) as exc_info:
        repair_order_open(actor=None, dealer_id=dealer.pk, vin=theirs.vin, kind=RepairKind.REPAIR)
    assert theirs.vin in exc_info.value.message_dict["vin"][0]


def test_a_vin_of_the_wrong_shape_gets_its_own_message(dealer):
    with pytest.raises(ValidationError) as exc_info:
        repair_order_open(actor=None, dealer_id=dealer.pk, vin="LSV123", kind=RepairKind.REPAIR)
    assert exc_info.value.message_dict["vin"] == ["A VIN has 17 characters; this one has 6."]


def test_opening_takes_the_owner_and_numbers_by_day(car, advisor):
    first = open_ro(car, advisor=advisor, mileage_km=15000)
    second = open_ro(car)
    assert (first.number, second.number) == ("R20260310001", "R20260310002")
    assert first.customer_id == car.owner_id
    assert (first.vin, first.plate) == (car.vin, car.plate)
    assert first.advisor_name == str(advisor)
    assert first.status == RepairOrderStatus.OPEN
    assert first.mileage_reading.km == 15000 and first.mileage_reading.flag == ""


def test_a_number_given_twice_is_refused(car):
    open_ro(car, number="DMS-001")
    with pytest.raises(ValidationError) as exc_info:
        open_ro(car, number="DMS-001")
    assert exc_info.value.message_dict["number"] == ["Repair order DMS-001 exists already."]


def test_a_lower_mileage_is_saved_flagged_and_warned(client_for, advisor, car):
    # Given an earlier reading of 20,000 km
    MileageReadingFactory(vehicle=car, km=20000, read_on=datetime.date(2026, 1, 5))
    # When a repair order is opened with 2,000 km (a digit missing)
    response = client_for(advisor).post(
        reverse("service:repair_order_create"),
        {"car": car.plate, "kind": RepairKind.MAINTENANCE, "mileage_km": 2000, "payer": "customer"},
    )
    # Then the repair order is saved, its reading kept and flagged
    repair_order = RepairOrder.objects.get()
    assert response.status_code == 302
    assert repair_order.mileage_km == 2000
    assert repair_order.mileage_reading.flag == MileageReading.Flag.LOWER
    # And its page warns, naming the earlier reading
    page = client_for(advisor).get(response.url).content.decode()
    assert "data-mileage-warning" in page
    assert "contradicts the reading of 20000 km on 2026-01-05" in page


def test_lines_give_the_totals(car):
    repair_order = open_ro(
        car,
        lines=[
            {"line_type": LineType.LABOUR, "description": "保养工时", "unit_price": "180"},
            {
                "line_type": LineType.PART,
                "description": "机油",
                "quantity": "4.5",
                "unit_price": "88",
            },
        ],
    )
    assert repair_order.labour_amount == Decimal("180.00")
    assert repair_order.parts_amount == Decimal("396.00")
    assert repair_order.total_amount == Decimal("576.00")
    line = repair_order_add_line(
        actor=None,
        repair_order=repair_order,
        line_type=LineType.OTHER,
        description="洗车",
        quantity=1,
        unit_price=50,
        amount="30",  # the DMS's discounted amount is kept
    )
    assert line.amount == Decimal("30.00")
    assert repair_order.total_amount == Decimal("606.00")
    assert RepairOrder.objects.get().total_amount == Decimal("606.00")


def test_a_wrong_line_is_refused_with_its_number(car):
    with pytest.raises(ValidationError) as exc_info:
        open_ro(car, lines=[{"line_type": "labour", "description": ""}])
    assert exc_info.value.message_dict["lines"] == [
        "Line 1, description: Describe the work or the part."
    ]


def test_update_recomputes_totals_from_lines(car):
    repair_order = RepairOrderFactory(vehicle=car, total_amount=0)
    RepairOrderLineFactory(repair_order=repair_order, amount=300)
    RepairOrderLineFactory(repair_order=repair_order, line_type=LineType.PART, amount=120)
    repair_order_update(actor=None, repair_order=repair_order, diagnosis="刹车片磨损")
    assert (repair_order.labour_amount, repair_order.parts_amount, repair_order.total_amount) == (
        Decimal("300.00"),
        Decimal("120.00"),
        Decimal("420.00"),
    )
    assert repair_order.diagnosis == "刹车片磨损"


def test_close_tells_the_closed_listeners_once_on_commit(car, django_capture_on_commit_callbacks):
    heard: list[tuple[int, int]] = []

    def listener(repair_order_id: int, dealer_id: int) -> None:
        heard.append((repair_order_id, dealer_id))

    register_repair_order_listener("closed", listener)
    try:
        repair_order = open_ro(car)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            repair_order_close(actor=None, repair_order=repair_order)
            assert heard == []  # not inside the writer's transaction
        assert heard == [(repair_order.pk, car.dealer_id)]
        assert len(callbacks) == 1
        with pytest.raises(ValidationError), django_capture_on_commit_callbacks(execute=True):
            repair_order_close(actor=None, repair_order=repair_order)
        assert len(heard) == 1
    finally:
        unregister_repair_order_listener("closed", listener)
    repair_order.refresh_from_db()
    assert repair_order.status == RepairOrderStatus.CLOSED
    assert repair_order.closed_at == WORKSHOP_NOW


def test_closing_refreshes_the_vehicles_last_visit(car):
    from dealercrm.service.models import VehicleServiceState

    repair_order_close(actor=None, repair_order=open_ro(car, mileage_km=15000))
    state = VehicleServiceState.objects.get(vehicle=car)
    assert state.last_visit_on == datetime.date(2026, 3, 10)


def test_a_cancelled_order_cannot_be_closed(car):
    repair_order = open_ro(car)
    repair_order_cancel(actor=None, repair_order=repair_order)
    with pytest.raises(ValidationError) as exc_info:
        repair_order_close(actor=None, repair_order=repair_order)
    assert "is cancelled" in exc_info.value.message_dict["status"][0]


# --- pages ---------------------------------------------------------------------------------


def test_the_create_page_refuses_an_unknown_vin_on_the_field(client_for, advisor, dealer):
    vin = make_vin(55555)
    response = client_for(advisor).post(
        reverse("service:repair_order_create"), {"car": vin, "kind": "repair", "payer": "customer"}
    )
    assert response.status_code == 400
    assert f"No vehicle with VIN {vin} is known at this dealer" in response.content.decode()


def test_the_detail_page_adds_a_line_and_closes(client_for, advisor, car):
    repair_order = open_ro(car)
    client = client_for(advisor)
    url = reverse("service:repair_order_detail", kwargs={"repair_order_id": repair_order.pk})
    response = client.post(
        url,
        {
            "action": "add_line",
            "line_type": "labour",
            "description": "更换刹车片",
            "quantity": "1",
            "unit_price": "260",
        },
    )
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "更换刹车片" in page and "260.00" in page
    assert client.post(url, {"action": "close"}).status_code == 302
    repair_order.refresh_from_db()
    assert repair_order.status == RepairOrderStatus.CLOSED
    assert repair_order.total_amount == Decimal("260.00")


def _list_queries(client, django_assert_max_num_queries, url, count):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_query_count_does_not_grow_with_rows(
    client_for, advisor, dealer, django_assert_max_num_queries
):
    client = client_for(advisor)
    url = reverse("service:repair_order_list") + "?status=open"
    client.get(url)  # warm the session
    RepairOrderFactory(dealer=dealer, vehicle=VehicleFactory(dealer=dealer), advisor=advisor)
    few = _list_queries(client, django_assert_max_num_queries, url, 1)
    for _n in range(6):
        RepairOrderFactory(dealer=dealer, vehicle=VehicleFactory(dealer=dealer), advisor=advisor)
    many = _list_queries(client, django_assert_max_num_queries, url, 7)
    assert few == many
    with django_assert_max_num_queries(12):
        page = client.get(url).content.decode()
    assert page.count("data-repair-order=") == 7


def test_the_list_filters_by_kind_and_date(client_for, advisor, dealer):
    car = VehicleFactory(dealer=dealer)
    RepairOrderFactory(vehicle=car, number="R-KEEP", kind=RepairKind.ACCIDENT)
    RepairOrderFactory(vehicle=car, number="R-OTHER", kind=RepairKind.MAINTENANCE)
    RepairOrderFactory(
        vehicle=car,
        number="R-OLD",
        kind=RepairKind.ACCIDENT,
        opened_at=WORKSHOP_NOW - datetime.timedelta(days=40),
    )
    page = client_for(advisor).get(
        reverse("service:repair_order_list"), {"kind": "accident", "opened_from": "2026-03-01"}
    )
    text = page.content.decode()
    assert "R-KEEP" in text and "R-OTHER" not in text and "R-OLD" not in text


# --- API -----------------------------------------------------------------------------------


def test_the_api_opens_with_lines_and_closes(client_for, advisor, car):
    client = client_for(advisor)
    response = client.post(
        "/api/service/repair-orders",
        {
            "vin": car.vin,
            "kind": "repair",
            "mileage_km": 16000,
            "lines": [
                {"line_type": "part", "description": "雨刮", "unit_price": "120", "quantity": 2}
            ],
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["total_amount"] == "240.00" or Decimal(body["total_amount"]) == Decimal("240")
    assert body["lines"][0]["description"] == "雨刮"
    closed = client.post(
        f"/api/service/repair-orders/{body['id']}/close", {}, content_type="application/json"
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


def test_the_api_refuses_an_unknown_vin_with_422(client_for, advisor, dealer):
    vin = make_vin(4242)
    response = client_for(advisor).post(
        "/api/service/repair-orders",
        {"vin": vin, "kind": "repair"},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert vin in str(response.json())
