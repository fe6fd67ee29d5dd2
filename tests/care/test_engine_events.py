"""Festival greetings are personal; the CLI; service-to-sales the same hour."""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from dealercrm.care.models import CareRun
from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import dealer_scope
from dealercrm.messaging.models import Message, Purpose
from dealercrm.service.models import RepairOrderStatus
from dealercrm.worklist.models import Notice, Task
from tests.care.engine_helpers import at, occurrences, run
from tests.customers.factories import ConsentFactory, CustomerFactory, CustomerPhoneFactory
from tests.messaging.factories import MessageTemplateFactory
from tests.service.factories import RepairOrderFactory
from tests.vehicles.factories import CarModelFactory, VehicleFactory

pytestmark = pytest.mark.django_db

MID_AUTUMN = datetime.date(2027, 9, 15)


def _owner_with_car(dealer, consultant, model_name, *, delivered):
    owner = CustomerFactory(
        dealer=dealer, lifecycle_stage="owner", gender="male", assigned_consultant=consultant
    )
    CustomerPhoneFactory(customer=owner)
    ConsentFactory(customer=owner)
    car = VehicleFactory(
        dealer=dealer,
        owner=owner,
        car_model=CarModelFactory(brand=dealer.brand, name=model_name),
        purchase_date=delivered,
        delivery_date=delivered,
        warranty_end=delivered + datetime.timedelta(days=2000),
        insurance_expiry=delivered + datetime.timedelta(days=364),
    )
    return owner, car


def test_festival_greeting_is_personal(dealer, make_user):
    # Given two owners: one serviced twice this year, one who bought their car this year
    consultant = make_user(Role.SALES_CONSULTANT, display_name="王芳")
    MessageTemplateFactory(
        dealer=dealer,
        purpose=Purpose.HOLIDAY_GREETING,
        language="en",
        body="Dear {{ salutation }}, happy {{ festival }}! {{ year_summary }}. {{ consultant_name }}",
    )
    regular, car = _owner_with_car(
        dealer, consultant, "2.0T 豪华版", delivered=datetime.date(2024, 5, 1)
    )
    for month in (3, 7):
        RepairOrderFactory(
            vehicle=car,
            opened_at=at(datetime.date(2027, month, 2), 9),
            status=RepairOrderStatus.CLOSED,
        )
    RepairOrderFactory(
        vehicle=car, opened_at=at(datetime.date(2026, 8, 2), 9), status=RepairOrderStatus.CLOSED
    )
    new, _car = _owner_with_car(
        dealer, consultant, "1.5T 运动版", delivered=datetime.date(2027, 6, 1)
    )

    # When the engine runs on Mid-Autumn 2027
    with time_machine.travel(at(MID_AUTUMN, 3), tick=False):
        run(MID_AUTUMN, dealer)

    # Then each greeting says what that customer did with the dealer this year
    bodies = dict(
        Message.objects.unscoped().filter(dealer_id=dealer.id).values_list("customer_id", "body")
    )
    assert "happy Mid-Autumn Festival!" in bodies[regular.id]
    assert "this year you had your car maintained with us 2 times" in bodies[regular.id]
    assert "this year you drove home your new 1.5T 运动版 from us" in bodies[new.id]
    assert bodies[regular.id].replace(regular.name[0], "") != bodies[new.id].replace(
        new.name[0], ""
    )
    assert all("王芳" in body for body in bodies.values())
    assert occurrences(dealer, "festival").filter(occasion="mid_autumn/2027").count() == 2


def test_cli_runs_for_a_date_and_a_dealer(dealer, other_dealer):
    # Given an insurance renewal at each dealer on 10 March 2027
    for each in (dealer, other_dealer):
        VehicleFactory(
            dealer=each,
            insurance_expiry=datetime.date(2027, 4, 9),
            purchase_date=datetime.date(2026, 1, 1),
        )
    out = io.StringIO()

    # When the CLI runs for that date and one dealer
    call_command("care", "run", "--date", "2027-03-10", "--dealer", dealer.code, stdout=out)

    # Then only that dealer's run is recorded, and the table shows what each rule created
    assert list(CareRun.objects.values_list("dealer_id", "run_on", "triggered_by")) == [
        (dealer.id, datetime.date(2027, 3, 10), "cli")
    ]
    with dealer_scope(None):
        assert occurrences(dealer, "insurance_renewal").count() == 1
        assert not occurrences(other_dealer, "insurance_renewal").exists()
    text = out.getvalue()
    assert "2027-03-10" in text


def test_cli_refuses_an_unknown_dealer_and_a_bad_date(dealer):
    with pytest.raises(CommandError):
        call_command("care", "run", "--dealer", "nope", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("care", "run", "--date", "10/03/2027", stdout=io.StringIO())


def test_repair_order_opened_for_a_replacement_candidate_alerts_the_consultant_at_once(
    dealer, make_user, django_capture_on_commit_callbacks
):
    # Given an owner with a 4-year-old car and a consultant
    from dealercrm.service.services.repair_orders import repair_order_open

    consultant = make_user(Role.SALES_CONSULTANT)
    advisor = make_user(Role.SERVICE_ADVISOR)
    owner = CustomerFactory(dealer=dealer, assigned_consultant=consultant, lifecycle_stage="owner")
    car = VehicleFactory(dealer=dealer, owner=owner, purchase_date=datetime.date(2022, 1, 5))

    # When the advisor opens a repair order for it (the listener runs on commit)
    with dealer_scope(dealer.id), django_capture_on_commit_callbacks(execute=True):
        order = repair_order_open(
            actor=advisor, dealer_id=dealer.id, vin=car.vin, kind="maintenance", mileage_km=60000
        )

    # Then the consultant has a notice and a task already, keyed by the repair order
    with dealer_scope(dealer.id):
        occurrence = occurrences(dealer, "service_to_sales").get()
        assert occurrence.occasion == f"ro/{order.pk}"
        assert Notice.objects.filter(recipient=consultant, reason="service_to_sales").count() == 1
        task = Task.objects.get(source_kind="care.occurrence", source_id=str(occurrence.id))
        assert task.assignee_id == consultant.id

    # And the hourly sweep (or the night's run) does not alert twice
    from dealercrm.care.services.engine import care_service_to_sales

    assert care_service_to_sales(dealer_id=dealer.id, triggered_by="sweep").occurrences == 0
    assert not CareRun.objects.filter(triggered_by="sweep").exists()
