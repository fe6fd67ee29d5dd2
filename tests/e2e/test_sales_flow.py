"""The whole sale in a real browser, as a consultant works it: a walk-in becomes a lead, the first
follow-up makes it contacted, a demo car is booked and driven (licence checked), a quote is
given, the order is signed, the car is delivered — and the follow-up call due within 3 days of
delivery is then on the consultant's own task list.

The live server's clock is moved to 09:00 (Shanghai) of the next real day, and ticks from there:
the test drive is booked for 11:00 that day and driven the same day, whatever the hour the suite
runs at. (Moving forward, not back, keeps the browser's session cookie in date.)
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import Page, expect

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, LifecycleStage
from dealercrm.sales.models import Lead, LeadStage, Order, Quote, TestDrive
from dealercrm.vehicles.models import Vehicle
from dealercrm.worklist.models import Task, TaskStatus
from tests.e2e.test_customer_flow import log_in
from tests.sales.factories import DemoCarFactory
from tests.vehicles.factories import CarModelFactory, make_vin

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def morning():
    """09:00 in Shanghai on the next real day, the clock running on from there."""
    day = datetime.datetime.now(SHANGHAI).date() + datetime.timedelta(days=1)
    start = datetime.datetime.combine(day, datetime.time(9, 0), tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=True):
        yield day


def test_lead_to_delivery_puts_the_three_day_follow_up_call_on_the_consultants_list(
    page: Page, make_user, dealer, morning
):
    day = morning
    consultant = make_user(Role.SALES_CONSULTANT, username="sun.li", language="en")
    model = CarModelFactory(
        brand=dealer.brand,
        series="极光 X5",
        name="2.0T 豪华版",
        powertrain="ice",
        list_price=Decimal("199800.00"),
    )
    demo_car = DemoCarFactory(dealer=dealer, name="试驾车 X5", plate="沪A66666", car_model=model)

    log_in(page, consultant.username)

    # 1. A walk-in: a new prospect, handed to the consultant who entered it.
    page.goto("/sales/leads/new/")
    page.get_by_label("Channel").select_option("walk_in")
    page.get_by_label("Name", exact=True).fill("周杰")
    page.get_by_label("Mobile phone").fill("13700001234")
    page.get_by_label("Model of interest").select_option(str(model.pk))
    page.get_by_role("button", name="Create lead").click()
    expect(page).to_have_url(re.compile(r"/sales/leads/\d+/$"))
    lead = Lead.objects.get()
    assert lead.consultant_id == consultant.pk and lead.stage == LeadStage.NEW

    # 2. The first follow-up, with its next step: the lead is contacted.
    page.get_by_label("Next step", exact=True).fill("Test drive at 11:00")
    page.get_by_label("Next step on").fill(day.isoformat())
    page.get_by_role("button", name="Log follow-up").click()
    expect(page.locator(".alert-success")).to_contain_text("Follow-up logged.")

    # 3. A test drive at 11:00 today in the demo car; licence checked; driven.
    page.get_by_role("link", name="Book a test drive").click()
    page.get_by_label("Demo car").select_option(str(demo_car.pk))
    page.get_by_label("Starts at").fill(f"{day.isoformat()}T11:00")
    page.locator("form.card").get_by_role("button", name="Book").click()
    expect(page.locator("[data-status=scheduled]")).to_be_visible()
    page.get_by_label("Driving licence valid until").fill(
        (day + datetime.timedelta(days=800)).isoformat()
    )
    page.get_by_role("button", name="Record the check").click()
    page.get_by_label("The customer's rating").select_option("5")
    page.get_by_label("What the customer said").fill("加速很好，后排宽敞")
    page.get_by_role("button", name="Driven").click()
    expect(page.locator("[data-status=completed]")).to_be_visible()
    assert TestDrive.objects.get().lead_id == lead.pk

    # 4. A quote: the list price, the purchase tax computed on the server.
    page.goto(f"/sales/leads/{lead.pk}/")
    page.get_by_role("link", name="New quote").click()
    page.get_by_role("button", name="Save quote").click()
    expect(page).to_have_url(re.compile(r"/sales/quotes/\d+/$"))
    quote = Quote.objects.get(lead=lead)
    assert quote.purchase_tax == Decimal("17681.42")  # 199,800 / 1.13 × 10%

    # 5. The order, with its deposit and the promised delivery date.
    page.goto(f"/sales/leads/{lead.pk}/")
    page.get_by_role("link", name="New order").click()
    page.get_by_label("Deposit (¥)").fill("5000")
    page.get_by_label("Promised delivery date").fill(
        (day + datetime.timedelta(days=30)).isoformat()
    )
    page.get_by_role("button", name="Create the order").click()
    expect(page).to_have_url(re.compile(r"/sales/orders/\d+/$"))
    order = Order.objects.get(lead=lead)

    # 6. Delivery: VIN and plate; the prospect becomes the owner of a registered car.
    page.get_by_role("link", name="Deliver").click()
    vin = make_vin(4242)
    page.get_by_label("VIN").fill(vin)
    page.get_by_label("Licence plate").fill("沪A88888")
    page.get_by_role("button", name="Record the delivery").click()
    expect(page.locator("h2.page-title")).to_contain_text("Delivered")

    lead.refresh_from_db()
    assert lead.stage == LeadStage.DELIVERED
    assert [lead.first_contacted_at is not None, lead.test_drive_at is not None] == [True, True]
    assert lead.negotiation_at is not None and lead.ordered_at is not None
    customer = Customer.objects.get(pk=lead.customer_id)
    assert customer.lifecycle_stage == LifecycleStage.OWNER
    vehicle = Vehicle.objects.get(vin=vin)
    assert vehicle.owner_id == customer.pk and vehicle.plate == "沪A88888"

    # 7. The follow-up call is on the consultant's own list, due within 3 days of delivery.
    follow_up = Task.objects.get(source_kind="sales.order", source_id=f"{order.pk}:followup")
    assert follow_up.assignee_id == consultant.pk and follow_up.status == TaskStatus.OPEN
    due_day = follow_up.due_at.astimezone(SHANGHAI).date()
    assert day < due_day <= day + datetime.timedelta(days=3)
    page.goto("/tasks/")
    expect(page.get_by_text(f"order {order.number}").first).to_be_visible()
