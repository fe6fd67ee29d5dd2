"""An order in a real browser: the forecast slips past the promise, the consultant records that
the customer was told, delivers the car, and finds the 3-day follow-up call on their list; the
customer's tracking link shows the progress without logging in."""

from __future__ import annotations

import datetime
import os
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, LifecycleStage
from dealercrm.sales.models import Order
from dealercrm.sales.services import orders as services
from dealercrm.vehicles.models import Vehicle
from tests.customers.factories import CustomerPhoneFactory
from tests.e2e.test_customer_flow import log_in
from tests.sales.factories import LeadFactory
from tests.vehicles.factories import CarModelFactory, make_vin

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("ORDER_SCREENSHOTS", "")


def _shot(page: Page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_delay_told_delivery_and_the_follow_up_call_in_the_browser(page: Page, make_user, dealer):
    consultant = make_user(Role.SALES_CONSULTANT, username="wang.fang", language="en")
    model = CarModelFactory(brand=dealer.brand, series="极光 X5", name="2.0T 豪华版")
    lead = LeadFactory(dealer=dealer, consultant=consultant, car_model=model, stage="negotiation")
    CustomerPhoneFactory(customer=lead.customer, number="+8613912345678")
    today = timezone.localdate()
    order = services.order_create(
        actor=consultant,
        lead=lead,
        car_model=model,
        price=Decimal("199800"),
        deposit=Decimal("5000"),
        colour="珍珠白",
        promised_delivery_on=today + datetime.timedelta(days=20),
    )
    late = today + datetime.timedelta(days=27)

    # Given the consultant on the order's page …
    log_in(page, consultant.username)
    page.goto(f"/sales/orders/{order.pk}/")
    _shot(page, "1-order")
    # … when the forecast of the delivery moves past the promised date …
    row = page.locator('tr[data-stage="delivered"]')
    row.locator('input[name="expected_on"]').fill(late.isoformat())
    row.get_by_role("button", name="Save").click()
    # … then the page shows the delay, with the task to tell the customer.
    delay = page.locator("#order-delay")
    expect(delay).to_be_visible()
    expect(page.locator("[data-delay]")).to_have_attribute("data-delay", "not-told")
    _shot(page, "2-delayed")

    # When they record that the customer was told, it counts as told in time.
    delay.get_by_role("button", name="Record").click()
    expect(page.locator("[data-customer-told]")).to_contain_text("before the promised date")
    order.refresh_from_db()
    assert order.told_in_time is True

    # When they deliver the car …
    page.get_by_role("link", name="Deliver").click()
    vin = make_vin(31337)
    page.get_by_label("VIN").fill(vin)
    page.get_by_label("Licence plate").fill("沪A12345")
    page.get_by_role("button", name="Record the delivery").click()
    expect(page.locator("h2.page-title")).to_contain_text("Delivered")
    # … the customer owns the car, and the follow-up call is on the consultant's list.
    assert Vehicle.objects.get(vin=vin).owner_id == lead.customer_id
    assert Customer.objects.get(pk=lead.customer_id).lifecycle_stage == LifecycleStage.OWNER
    # The order list shows the dealer's delay-notice rate: 1 of 1 told in time.
    page.goto("/sales/orders/")
    expect(page.locator("[data-rate]")).to_contain_text("100.0%")
    _shot(page, "3-orders")
    page.goto("/tasks/")
    expect(page.get_by_text(f"order {order.number}").first).to_be_visible()
    _shot(page, "4-worklist")

    # And the customer's link opens without logging in, showing progress but not the price.
    token = Order.objects.get(pk=order.pk).tracking_token
    page.context.clear_cookies()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/p/t/{token}/")
    expect(page.locator('li[data-stage="delivered"]')).to_be_visible()
    assert "199" not in page.content()
    _shot(page, "5-tracking")
