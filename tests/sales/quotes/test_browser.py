"""The quote form in a real browser: the totals follow what is typed (computed on the server),
a line added with the button counts, saving opens the quote, and its share link opens for
someone not signed in."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from dealercrm.core.permissions import Role
from dealercrm.sales.models import Quote
from tests.e2e.conftest import (  # noqa: F401 (fixtures)
    allow_orm_beside_playwright,
    browser,
    chromium,
    page,
)
from tests.e2e.test_customer_flow import log_in
from tests.sales.factories import LeadFactory

pytestmark = pytest.mark.e2e


@pytest.fixture
def _frozen_clock():
    # The browser and the live server need a clock that moves: no frozen time here.
    yield


@pytest.fixture
def consultant_lead(make_user, dealer, petrol_model):
    consultant = make_user(Role.SALES_CONSULTANT, username="zhao.lei", language="en")
    lead = LeadFactory(
        dealer=dealer, consultant=consultant, car_model=petrol_model, stage="contacted"
    )
    return consultant, lead


def test_totals_follow_the_form_and_the_share_link_opens_without_login(
    page: Page,  # noqa: F811 (the e2e fixture imported above)
    browser,  # noqa: F811
    live_server,
    consultant_lead,
):
    consultant, lead = consultant_lead
    log_in(page, consultant.username)
    page.goto(f"/sales/leads/{lead.pk}/quotes/new/")
    totals = page.locator("#quote-totals")
    # The first quote starts at the model's list price, taxed at once.
    expect(totals.locator('[data-figure="purchase_tax"]')).to_have_text("17,681.42")

    page.get_by_label("Vehicle price (¥)").fill("150000")
    page.get_by_label("Compulsory insurance (¥)").fill("0")
    page.get_by_label("Finance term").select_option("36")
    page.get_by_label("Annual rate (%)").fill("4.8")
    page.get_by_label("Down payment (¥)").fill("50000")
    expect(totals.locator('[data-figure="monthly_payment"]')).to_have_text("2,988.12")

    page.locator("[data-add-line]").click()
    page.locator('input[name="line_description"]').last.fill("Floor mats")
    page.locator('input[name="line_amount"]').last.fill("800")
    expect(totals.locator('[data-figure="loan_amount"]')).to_have_text("100,800.00")

    page.get_by_role("button", name="Save quote").click()
    expect(page).to_have_url(re.compile(r"/sales/quotes/\d+/$"))
    quote = Quote.objects.get(lead=lead)
    assert quote.lines.get().description == "Floor mats"

    share = page.locator("#quote-share-url").input_value()
    assert share.startswith("http") and quote.share_token in share  # absolute, for the customer
    anonymous = browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        public = anonymous.new_page()
        public.goto(urlsplit(share).path)
        expect(public.locator('[data-item="monthly_payment"]')).to_have_text(
            re.compile(r"3,?012\.02")
        )
    finally:
        anonymous.close()
