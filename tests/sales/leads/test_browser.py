"""In a real browser: a consultant enters a walk-in, sees the customer the dealer already knows
as they type the phone, attaches the lead to them, and logs the first follow-up."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, CustomerPhone
from dealercrm.sales.models import Lead
from tests.e2e.test_customer_flow import log_in

pytestmark = pytest.mark.e2e


def test_intake_offers_the_known_customer_and_the_follow_up_makes_the_lead_contacted(
    page: Page, make_user, dealer
):
    consultant = make_user(Role.SALES_CONSULTANT, username="li.lei", language="en")
    known = Customer.objects.create(dealer=dealer, name="陈晨", assigned_consultant=consultant)
    CustomerPhone.objects.create(
        dealer=dealer, customer=known, number="+8613911112222", is_primary=True
    )
    log_in(page, consultant.username)

    # When they type the name and the phone of someone the dealer knows …
    page.goto("/sales/leads/new/")
    page.get_by_label("Name", exact=True).fill("陈晨")
    page.get_by_label("Mobile phone").fill("13911112222")
    # … the duplicates panel offers the customer, with the phone masked …
    panel = page.locator("#lead-matches")
    expect(panel).to_contain_text("139****2222")
    page.get_by_role("link", name="Attach the lead to this customer").click()
    expect(page.locator("main")).to_contain_text("The lead is attached to the existing customer")
    page.get_by_label("Channel").select_option("walk_in")
    page.get_by_role("button", name="Create lead").click()
    expect(page).to_have_url(re.compile(r"/sales/leads/\d+/$"))
    lead = Lead.objects.get()
    assert lead.customer_id == known.pk

    # Then the first follow-up, with its next step, makes the lead contacted.
    page.get_by_label("Next step", exact=True).fill("Invite to a test drive")
    due = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    page.get_by_label("Next step on").fill(due)
    page.get_by_role("button", name="Log follow-up").click()
    expect(page.locator(".alert-success")).to_contain_text("Follow-up logged.")
    lead.refresh_from_db()
    assert lead.stage == "contacted" and lead.next_action == "Invite to a test drive"
