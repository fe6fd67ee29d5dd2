"""Booking from the calendar in a real browser: a consultant clicks a free slot of a demo car,
chooses their lead, books, and lands on the test drive's page; the slot then shows as taken."""

from __future__ import annotations

import datetime
import os

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dealercrm.core.permissions import Role
from dealercrm.sales.models import LeadStage, TestDrive
from tests.customers.factories import CustomerPhoneFactory
from tests.e2e.test_customer_flow import log_in
from tests.sales.factories import DemoCarFactory, LeadFactory

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _frozen_clock():
    # The browser runs in real time: these tests book for tomorrow by the real clock.
    yield


def test_a_consultant_books_a_free_slot_on_the_calendar(page: Page, make_user, dealer):
    consultant = make_user(Role.SALES_CONSULTANT, username="li.ming", language="en")
    DemoCarFactory(dealer=dealer, name="试驾车 1", plate="沪A12345")
    lead = LeadFactory(dealer=dealer, consultant=consultant, stage=LeadStage.CONTACTED)
    lead.customer.name = "张伟"
    lead.customer.save()
    CustomerPhoneFactory(customer=lead.customer, number="+8613812345678")
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)

    # Given the consultant on tomorrow's calendar
    log_in(page, consultant.username)
    page.goto(f"/sales/test-drives/?day={tomorrow.isoformat()}")
    slot = page.locator(f'td[data-slot^="{tomorrow.isoformat()}T10:00"][data-free] button')
    # When they click the free 10:00 slot, choose their lead and book
    slot.click()
    form = page.locator("#book-slot")
    expect(form).to_be_visible()
    form.get_by_label("For the lead").select_option(str(lead.pk))
    if os.environ.get("E2E_SCREENSHOTS"):
        page.screenshot(
            path=os.path.join(os.environ["E2E_SCREENSHOTS"], "calendar.png"), full_page=True
        )
    form.locator("button[type=submit]").click()
    # Then the test drive's page opens, and the slot is taken on the calendar
    expect(page.locator("[data-status=scheduled]")).to_be_visible()
    if os.environ.get("E2E_SCREENSHOTS"):
        page.screenshot(
            path=os.path.join(os.environ["E2E_SCREENSHOTS"], "detail.png"), full_page=True
        )
    test_drive = TestDrive.objects.get()
    assert timezone.localtime(test_drive.starts_at).strftime("%H:%M") == "10:00"
    page.goto(f"/sales/test-drives/?day={tomorrow.isoformat()}")
    expect(page.locator("td[data-booked]")).to_contain_text("张伟")
    expect(page.locator("td[data-booked]")).to_contain_text("138****5678")
    if os.environ.get("E2E_SCREENSHOTS"):
        page.screenshot(
            path=os.path.join(os.environ["E2E_SCREENSHOTS"], "booked.png"), full_page=True
        )
