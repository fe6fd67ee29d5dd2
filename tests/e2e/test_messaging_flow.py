"""Sending a one-off SMS from the customer 360 page, in a real browser: log in, open a customer
who agreed to SMS, write the message, see the preview counted as the gateway counts it, send,
and find the message on the timeline with its status "Sent" — once, whatever the clicks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Consent, Customer, CustomerPhone
from dealercrm.messaging.models import Message, MessageStatus, MessagingPolicy
from tests.e2e.test_customer_flow import log_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def outbox_dir(settings, tmp_path):
    # The SMS provider by default is the file provider: it appends each message to a log here.
    settings.MESSAGING_FILE_DIR = tmp_path
    return tmp_path


@pytest.fixture
def consultant_with_customer(make_user, dealer):
    consultant = make_user(Role.SALES_CONSULTANT, username="li.ming", language="en")
    customer = Customer.objects.create(
        dealer=dealer, name="张伟", gender="male", assigned_consultant=consultant
    )
    CustomerPhone.objects.create(
        dealer=dealer, customer=customer, number="+8613912345678", is_primary=True
    )
    Consent.objects.create(
        dealer=dealer, customer=customer, channel="sms", granted=True, source="展厅签字"
    )
    # No quiet hours for this dealer: the browser test must not depend on the hour it runs at
    # (at night an SMS waits for the morning; tests/messaging/test_send_views.py covers that).
    MessagingPolicy.objects.create(dealer=dealer, quiet_channels="", sms_signature="极光汽车")
    return consultant, customer


def test_a_consultant_sends_an_sms_from_the_360_page_and_sees_it_sent_on_the_timeline(
    page: Page, consultant_with_customer, outbox_dir
):
    consultant, customer = consultant_with_customer
    text = "张先生您好，您订的车已到店，欢迎周六来提车。"

    # Given a sales consultant signed in, on their customer's 360 page …
    log_in(page, consultant.username)
    page.goto(f"/customers/{customer.pk}/")
    timeline = page.locator("#timeline")

    # … when they open the send panel, SMS to the customer's (masked) mobile is offered first …
    page.get_by_role("button", name="Send message").click()
    panel = page.locator("#send-panel")
    expect(panel).to_be_visible()
    channel = panel.get_by_label("Channel")
    expect(channel).to_have_value("sms")
    expect(channel.locator("option:checked")).to_contain_text("139****5678")

    # … and as they type, the preview shows the SMS as the phone will, signature counted.
    panel.get_by_label("Text", exact=True).fill(text)
    preview = panel.locator("#send-preview-text")
    expect(preview).to_contain_text(f"【极光汽车】{text}")
    expect(panel.locator("#send-sms-length")).to_have_text(f"{len(text) + 6}/70")

    # When they send it (an impatient double click) …
    panel.get_by_role("button", name="Send").dblclick()

    # … then the panel says it went, and the timeline shows it with the status "Sent".
    expect(page.locator("#send-notice")).to_contain_text("Sent")
    entry = timeline.locator(".timeline-entry", has_text=text)
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("SMS · Sent · Service")
    expect(entry).to_contain_text(str(consultant))

    # It is still there after a reload; it was sent once, by them, to the file provider's log.
    page.reload()
    expect(page.locator("#timeline .timeline-entry", has_text=text)).to_contain_text(
        re.compile(r"SMS · Sent")
    )
    message = Message.objects.get(customer=customer)
    assert message.status == MessageStatus.SENT
    assert message.created_by_id == consultant.pk
    assert message.body == f"【极光汽车】{text}"
    assert (outbox_dir / "sms.log").read_text().count(text) == 1


@pytest.fixture
def call_tasks_report_back():
    """Closing a call task tells its message how the call went (messaging's completion hook)."""
    from dealercrm.messaging.task_hooks import TASK_SOURCE_KIND, message_task_closed
    from dealercrm.worklist.services import register_task_completion_hook

    register_task_completion_hook(TASK_SOURCE_KIND, message_task_closed)


def test_a_phone_message_becomes_a_call_task_and_completing_it_marks_the_message_delivered(
    page: Page, consultant_with_customer, outbox_dir, call_tasks_report_back
):
    consultant, customer = consultant_with_customer
    script = "张先生您好，提醒您明天上午九点来店做首保，请带好行驶证。"

    # Given a consultant who sends a phone message from the 360 page: nothing can dial, so it
    # becomes a call on their worklist, with the script to read.
    log_in(page, consultant.username)
    page.goto(f"/customers/{customer.pk}/")
    page.get_by_role("button", name="Send message").click()
    panel = page.locator("#send-panel")
    with page.expect_response(re.compile(r"/send/\?")):  # the panel redraws for the channel
        panel.get_by_label("Channel").select_option("phone")
    expect(panel.get_by_label("Channel")).to_have_value("phone")
    panel.get_by_label("Text", exact=True).fill(script)
    panel.get_by_role("button", name="Send").click()
    expect(page.locator("#send-notice")).to_contain_text("Sent")

    # When they open their tasks, the call is there with the script …
    page.goto("/tasks/")
    row = page.locator(".task-row", has_text=customer.name)
    expect(row).to_have_count(1)
    expect(row.locator(".task-script")).to_have_text(script)

    # … and they complete it: the customer was reached.
    row.get_by_role("button", name="Complete").click()
    row.get_by_label("Result").select_option("reached")
    row.get_by_label("Note").fill("客户确认明早到店")
    row.get_by_role("button", name="Done").click()

    # Then the row shows the call done with its outcome, in place, without leaving the page …
    done = page.locator(".task-row", has_text=customer.name)
    expect(done).to_have_attribute("data-status", "done")
    expect(done).to_contain_text("Reached the customer · 客户确认明早到店")
    expect(page).to_have_url(re.compile(r"/tasks/$"))

    # … and on the customer's timeline the phone message is delivered.
    page.goto(f"/customers/{customer.pk}/")
    entry = page.locator("#timeline .timeline-entry", has_text=script)
    expect(entry).to_contain_text("Phone call · Delivered · Service")
    assert Message.objects.get(customer=customer).status == MessageStatus.DELIVERED
