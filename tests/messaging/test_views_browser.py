"""The messaging pages in a real browser: writing a template with the live SMS counter, the
variable picker and the preview for a real customer; then a campaign from its check to its
report."""

from __future__ import annotations

import datetime
import os
import re

import pytest
from playwright.sync_api import Page, expect

from dealercrm.core.permissions import Role
from dealercrm.messaging.models import Campaign, MessageTemplate, MessagingPolicy
from dealercrm.search.services import search_keys_refresh
from tests.customers.factories import (
    ConsentFactory,
    CustomerFactory,
    CustomerPhoneFactory,
    CustomerTagFactory,
    TagFactory,
)
from tests.e2e import conftest as e2e
from tests.e2e.test_customer_flow import log_in

pytestmark = pytest.mark.e2e

# The browser fixtures of tests/e2e (Debian's Chromium against the live server), used here too.
chromium = e2e.chromium
allow_orm_beside_playwright = e2e.allow_orm_beside_playwright
browser = e2e.browser
page = e2e.page

SCREENSHOTS = os.environ.get("E2E_SCREENSHOTS", "")


def _shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


@pytest.fixture
def care_with_customers(make_user, dealer, settings, tmp_path):
    settings.MESSAGING_FILE_DIR = tmp_path
    care = make_user(Role.CARE_SPECIALIST, username="li.care", language="en")
    MessagingPolicy.objects.create(
        dealer=dealer,
        sms_signature="极光浦东",
        quiet_start=datetime.time(0, 0),
        quiet_end=datetime.time(0, 0),
    )
    vip = TagFactory(dealer=dealer, name="VIP")
    customers = []
    for name, consent in (("张伟", True), ("李娜", False)):
        customer = CustomerFactory(
            dealer=dealer, name=name, gender="male" if name == "张伟" else "female"
        )
        CustomerPhoneFactory(customer=customer)
        CustomerTagFactory(customer=customer, tag=vip)
        if consent:
            ConsentFactory(customer=customer, channel="sms")
        customers.append(customer)
    search_keys_refresh(dealer_id=dealer.pk, customer_ids=[c.pk for c in customers])
    return care


def test_writing_a_template_counts_as_you_type_and_previews_for_a_customer(
    page: Page, care_with_customers
):
    # Given a care specialist on the new-template page …
    log_in(page, care_with_customers.username)
    page.goto("/messages/templates/new/")
    page.get_by_label("Template name").fill("春节问候")
    page.get_by_label("Purpose").select_option("holiday_greeting")

    # … when they type the text and pick a variable from the list …
    body = page.get_by_label("Text", exact=True)
    body.click()
    page.locator('[data-variable="salutation"]').click()
    body.press("End")
    body.press_sequentially("，新春快乐！", delay=20)

    # … then the counter, from the server, counts signature, text and 回T退订 …
    # 【极光浦东】 6 + "{{ salutation }}" 16 + 6 + " 回T退订" 5 = 33
    expect(body).to_have_value("{{ salutation }}，新春快乐！")
    expect(page.locator("#sms-length [data-chars]")).to_have_attribute("data-chars", "33")
    expect(page.locator("#sms-length")).to_contain_text("33/70")

    # … and picking a customer shows exactly what they would get.
    page.get_by_label("For the customer").press_sequentially("张伟", delay=30)
    page.locator("#customer-hits [data-customer]").first.click()
    expect(page.locator("[data-preview]")).to_have_text("【极光浦东】张先生，新春快乐！ 回T退订")
    _shot(page, "template_form")

    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(r"/messages/templates/$"))
    expect(page.get_by_role("cell", name="春节问候")).to_be_visible()
    assert MessageTemplate.objects.get().body == "{{ salutation }}，新春快乐！"


def test_a_campaign_goes_from_its_check_to_its_report(page: Page, care_with_customers, dealer):
    MessageTemplate.objects.create(
        dealer=dealer,
        name="春节问候",
        purpose="holiday_greeting",
        channel="sms",
        body="{{ salutation }}，新春快乐！",
    )
    log_in(page, care_with_customers.username)

    # Given a new campaign to the VIP customers …
    page.goto("/messages/campaigns/new/")
    page.get_by_label("Campaign name").fill("新春问候")
    page.get_by_label("Template").select_option(label="春节问候 · SMS · Simplified Chinese")
    page.get_by_label("VIP").check()
    page.get_by_role("button", name="Continue to the check").click()

    # … the check says one would get it and one has no consent, before anything is sent …
    expect(page.locator('#campaign-check [data-count="queued"]')).to_have_text("1")
    expect(page.locator('#campaign-check [data-count="no_consent"]')).to_have_text("1")
    _shot(page, "campaign_check")

    # … and queueing it leads, through the progress bar, to the report and its chart.
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile("Queue 1 message")).click()
    expect(page.locator('#campaign-report [data-count="queued"]')).to_have_text("1")
    expect(page.locator("#campaign-chart canvas")).to_be_visible()
    _shot(page, "campaign_report")
    assert Campaign.objects.get().status == Campaign.Status.QUEUED

    # The outbox lists the campaign's messages, the blocked one with its reason.
    page.get_by_role("link", name="Open in the outbox").click()
    expect(page.locator('[data-status="blocked"]')).to_be_visible()
    expect(page.locator("[data-reason]")).to_have_count(1)
    _shot(page, "outbox")
