"""The day-before reminder: one message per test drive whatever runs, through messaging."""

from __future__ import annotations

import pytest

from dealercrm.messaging.models import Message, Purpose
from dealercrm.sales import tasks
from dealercrm.sales.models import TestDrive
from dealercrm.sales.services import test_drives as svc
from tests.customers.factories import CustomerPhoneFactory
from tests.messaging.factories import MessageTemplateFactory
from tests.sales.factories import LeadFactory
from tests.sales.test_drives.conftest import TODAY, at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _outbox_in_tmp(settings, tmp_path):
    settings.MESSAGING_FILE_DIR = tmp_path


def book(lead, car, start):
    return svc.test_drive_book(actor=lead.consultant, lead=lead, demo_car=car, starts_at=start)


def test_reminder_is_queued_once_the_day_before(lead, car, clock):
    # Given a test drive tomorrow at 10:00
    test_drive = book(lead, car, at(10))
    # When the hourly job runs this morning, and again later the same day
    clock.move_to(at(9, 15, day=TODAY))
    assert svc.test_drive_reminders_send() == 1
    clock.move_to(at(15, 15, day=TODAY))
    assert svc.test_drive_reminders_send() == 0
    # Then exactly one SMS is queued, a service message of the sales source
    message = Message.objects.get()
    assert message.purpose == Purpose.TEST_DRIVE_REMINDER
    assert message.channel == "sms"
    assert (message.source_kind, message.source_id) == (
        "sales",
        f"test_drive:{test_drive.pk}:reminder",
    )
    assert message.customer_id == lead.customer_id
    assert message.to_address == "+8613812345678"
    assert "3月11日 10:00" in message.body
    assert "张先生" in message.body
    test_drive.refresh_from_db()
    assert test_drive.reminder_sent_at is not None


def test_a_run_that_lost_its_mark_finds_the_message_instead_of_sending_again(lead, car, clock):
    test_drive = book(lead, car, at(10))
    clock.move_to(at(9, 15, day=TODAY))
    svc.test_drive_reminders_send()
    # As if the run crashed between queueing and marking
    TestDrive.objects.filter(pk=test_drive.pk).update(reminder_sent_at=None)
    clock.move_to(at(10, 15, day=TODAY))
    svc.test_drive_reminders_send()
    assert Message.objects.count() == 1


def test_no_reminder_two_days_ahead_nor_for_a_cancelled_drive(lead, car, dealer, consultant):
    day_after = book(lead, car, at(10, day=TODAY.replace(day=12)))
    cancelled = book(LeadFactory(dealer=dealer, consultant=consultant), car, at(14))
    svc.test_drive_cancel(actor=None, test_drive=cancelled)
    assert svc.test_drive_reminders_send() == 0
    assert not Message.objects.exists()
    day_after.refresh_from_db()
    assert day_after.reminder_sent_at is None


def test_a_customer_without_a_mobile_is_skipped_and_counted(lead, car, dealer, consultant):
    # Given two test drives tomorrow, one for a prospect with no phone at all
    no_phone = LeadFactory(dealer=dealer, consultant=consultant)
    book(no_phone, car, at(14))
    book(lead, car, at(10))
    # When the job runs, then the other one still gets its reminder and the skip is counted
    report = svc.test_drive_reminders_run()
    assert (report.sent, report.no_address, report.failed) == (1, 1, 0)
    assert Message.objects.get().customer_id == lead.customer_id


def test_a_customer_with_only_wechat_gets_it_on_wechat(dealer, consultant, car):
    wechat_lead = LeadFactory(dealer=dealer, consultant=consultant)
    wechat_lead.customer.wechat_id = "wx_zhangwei"
    wechat_lead.customer.save()
    book(wechat_lead, car, at(10))
    assert svc.test_drive_reminders_send() == 1
    assert Message.objects.get().channel == "wechat"


def test_the_dealers_own_template_is_used(lead, car, dealer):
    MessageTemplateFactory(
        dealer=dealer,
        purpose=Purpose.TEST_DRIVE_REMINDER,
        channel="sms",
        body="{{ salutation }}：明天{{ time }}试驾，{{ dealer_name }}恭候。",
    )
    book(lead, car, at(10))
    svc.test_drive_reminders_send()
    assert "明天10:00试驾" in Message.objects.get().body


def test_the_hourly_job_runs_across_dealers(lead, car, other_dealer, make_user):
    from dealercrm.core.permissions import Role
    from tests.sales.factories import DemoCarFactory

    other_consultant = make_user(Role.SALES_CONSULTANT, dealer_=other_dealer)
    other_lead = LeadFactory(dealer=other_dealer, consultant=other_consultant)
    CustomerPhoneFactory(customer=other_lead.customer, number="+8613900001111")
    other_car = DemoCarFactory(dealer=other_dealer, plate="京A12345")
    book(lead, car, at(10))
    book(other_lead, other_car, at(10))
    assert tasks.test_drive_reminders.call_local() == 2
    assert Message.objects.count() == 2
