"""The outbox engine in one process: claiming, sending through real providers, result writes,
retries with backoff, consent re-checked at claim time, recovery of rows left "sending".

Processes (two workers at once, a worker killed mid-batch) are in test_outbox_processes.py and
test_worker_kill.py.
"""

from __future__ import annotations

import datetime
import json
import zoneinfo

import pytest
import time_machine
from django.utils import timezone, translation

from dealercrm.messaging.models import Campaign, Message, MessageStatus, MessagingPolicy
from dealercrm.messaging.outbox import dispatch_due, recover_stuck
from dealercrm.messaging.tasks import (
    campaign_queue_job,
    outbox_dispatch,
    outbox_sweep,
    schedule_dispatch,
)
from dealercrm.worklist.models import Task, TaskKind
from tests.customers.factories import ConsentFactory, CustomerFactory, CustomerPhoneFactory
from tests.messaging.factories import MessageFactory, MessageTemplateFactory, ProviderConfigFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
T0 = datetime.datetime(2025, 5, 6, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _english():
    # Reasons are stored as translated text; the tests read the English source.
    with translation.override("en"):
        yield


@pytest.fixture
def outbox_dir(settings, tmp_path):
    settings.MESSAGING_FILE_DIR = tmp_path / "outbox"
    return settings.MESSAGING_FILE_DIR


def log_lines(outbox_dir, channel: str = "sms") -> list[dict]:
    path = outbox_dir / f"{channel}.log"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def refreshed(message: Message) -> Message:
    return Message.objects.unscoped().get(pk=message.pk)


# --- dispatching ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_due_messages_are_sent_and_future_and_direct_mail_ones_wait(dealer, outbox_dir):
    # Given two due SMS, one held until later (quiet hours) and a direct-mail letter
    customer = CustomerFactory(dealer=dealer)
    due = MessageFactory.create_batch(2, customer=customer, not_before=T0)
    later = MessageFactory(customer=customer, not_before=T0 + datetime.timedelta(hours=1))
    letter = MessageFactory(
        customer=customer, channel="mail", to_address="上海市浦东新区", not_before=T0
    )

    # When the outbox runs
    claimed = dispatch_due(now=T0)

    # Then the due ones went to the file provider once each, marked sent, and the others wait
    assert claimed == 2
    assert sorted(line["id"] for line in log_lines(outbox_dir)) == sorted(m.pk for m in due)
    for message in due:
        message = refreshed(message)
        assert message.status == MessageStatus.SENT
        assert message.sent_at == T0
        assert message.provider == "file"
        assert message.attempts == 1
    assert refreshed(later).status == MessageStatus.QUEUED
    assert refreshed(letter).status == MessageStatus.QUEUED
    assert not log_lines(outbox_dir, "mail")


@pytest.mark.django_db
def test_a_dispatch_job_run_twice_sends_each_message_once(dealer, outbox_dir):
    # Given five queued messages
    messages = MessageFactory.create_batch(5, customer__dealer=dealer, dealer=dealer)

    # When the job runs, and runs again (a duplicate enqueue, a retry of the job)
    outbox_dispatch()
    outbox_dispatch()

    # Then each message was written once and is sent
    keys = [line["key"] for line in log_lines(outbox_dir)]
    assert sorted(keys) == sorted(m.idempotency_key for m in messages)
    assert {refreshed(m).status for m in messages} == {MessageStatus.SENT}


@pytest.mark.django_db
def test_schedule_dispatch_runs_the_job_when_the_transaction_commits(
    dealer, outbox_dir, django_capture_on_commit_callbacks
):
    # Given a message queued in a transaction that schedules the dispatch
    message = MessageFactory(customer__dealer=dealer, dealer=dealer)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        schedule_dispatch()
    # Then nothing was sent before the commit …
    assert refreshed(message).status == MessageStatus.QUEUED

    # … and when the transaction commits, the job sends it
    for callback in callbacks:
        callback()
    assert refreshed(message).status == MessageStatus.SENT


@pytest.mark.django_db
def test_each_dealer_and_channel_goes_to_its_own_provider(
    dealer, other_dealer, outbox_dir, tmp_path
):
    # Given dealer A's SMS on the default file log, dealer B's SMS on a file provider of its own,
    # and an e-mail of dealer A
    ProviderConfigFactory(
        dealer=other_dealer, channel="sms", kind="file", options={"directory": str(tmp_path / "b")}
    )
    sms_a = MessageFactory(customer__dealer=dealer, dealer=dealer)
    sms_b = MessageFactory(customer__dealer=other_dealer, dealer=other_dealer)
    mail_a = MessageFactory(
        customer__dealer=dealer, dealer=dealer, channel="email", to_address="wang@example.cn"
    )

    # When the outbox runs
    assert dispatch_due() == 3

    # Then each provider got only its own
    assert [line["id"] for line in log_lines(outbox_dir, "sms")] == [sms_a.pk]
    assert [line["id"] for line in log_lines(tmp_path / "b", "sms")] == [sms_b.pk]
    assert [line["id"] for line in log_lines(outbox_dir, "email")] == [mail_a.pk]


@pytest.mark.django_db
def test_sms_carries_the_dealer_signature_and_template_code(dealer, sms_config, sms_gateway):
    # Given the dealer's SMS signature and a template registered at the gateway
    MessagingPolicy.objects.create(dealer=dealer, sms_signature=sms_gateway.sign_name)
    template = MessageTemplateFactory(dealer=dealer, provider_template_code="SMS_1234")
    message = MessageFactory(
        customer__dealer=dealer,
        dealer=dealer,
        template=template,
        to_address="+8613812340001",
        params={"salutation": "张先生"},
    )

    # When the outbox runs
    dispatch_due()

    # Then the gateway got the signature, template code and parameters, and gave its BizId
    taken = sms_gateway.sent[message.idempotency_key]
    assert taken["SignName"] == sms_gateway.sign_name
    assert taken["TemplateCode"] == "SMS_1234"
    assert json.loads(taken["TemplateParam"]) == {"salutation": "张先生"}
    message = refreshed(message)
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == taken["BizId"]


@pytest.mark.django_db
def test_phone_message_becomes_a_call_task_for_the_customers_consultant(
    dealer, consultant, outbox_dir
):
    # Given a phone message to a customer assigned to a consultant
    customer = CustomerFactory(dealer=dealer, assigned_consultant=consultant)
    message = MessageFactory(customer=customer, channel="phone", body="请提醒客户保养。")

    # When the outbox runs
    dispatch_due()

    # Then the consultant has a call task with the script
    task = Task.objects.get(customer=customer)
    assert task.kind == TaskKind.CALL
    assert task.assignee == consultant
    assert "请提醒客户保养。" in task.body
    assert refreshed(message).status == MessageStatus.SENT


@pytest.mark.django_db
def test_dispatch_queries_do_not_grow_with_the_batch(
    dealer, outbox_dir, django_assert_max_num_queries
):
    # Given a small batch sent, to learn the cost of one …
    customer = CustomerFactory(dealer=dealer)
    MessageFactory.create_batch(3, customer=customer, is_marketing=True, purpose="campaign")
    ConsentFactory(customer=customer, channel="sms", granted=True)
    with django_assert_max_num_queries(100) as small:
        dispatch_due()
    # … when a batch twenty times bigger, of as many customers, is sent
    for _ in range(60):
        other = CustomerFactory(dealer=dealer)
        ConsentFactory(customer=other, channel="sms", granted=True)
        MessageFactory(customer=other, is_marketing=True, purpose="campaign")
    # Then it takes the same number of queries (everything is read and written set-based)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert dispatch_due() == 60


# --- consent at claim time --------------------------------------------------------------------


@pytest.mark.django_db
def test_marketing_message_is_blocked_if_consent_went_after_queueing(dealer, outbox_dir):
    # Given a marketing SMS queued while the customer consented, and a service SMS
    customer = CustomerFactory(dealer=dealer)
    ConsentFactory(customer=customer, channel="sms", granted=True)
    marketing = MessageFactory(customer=customer, is_marketing=True, purpose="campaign")
    service = MessageFactory(customer=customer, is_marketing=False, purpose="recall")
    # … and the customer withdrew (a reply of T) before the worker came to it
    customer.consents.filter(channel="sms").update(granted=False, source="SMS reply T")

    # When the outbox runs
    assert dispatch_due() == 2

    # Then the marketing message is not sent, with a reason; the service message is
    marketing = refreshed(marketing)
    assert marketing.status == MessageStatus.BLOCKED
    assert "withdrew consent" in marketing.status_reason
    assert refreshed(service).status == MessageStatus.SENT
    assert [line["id"] for line in log_lines(outbox_dir)] == [service.pk]


@pytest.mark.django_db
def test_marketing_consent_of_another_channel_does_not_count(dealer, outbox_dir):
    # Given consent for e-mail only, and a marketing SMS
    customer = CustomerFactory(dealer=dealer)
    ConsentFactory(customer=customer, channel="email", granted=True)
    message = MessageFactory(customer=customer, is_marketing=True, purpose="campaign")

    # When the outbox runs, then the SMS is blocked
    dispatch_due()
    assert refreshed(message).status == MessageStatus.BLOCKED


# --- retries ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_passing_failures_are_retried_with_doubling_backoff_then_failed(
    dealer, sms_config, sms_gateway, settings
):
    # Given a number the gateway keeps refusing for flow control (a passing problem)
    settings.MESSAGING_RETRY_BASE_SECONDS = 60
    settings.MESSAGING_MAX_ATTEMPTS = 4
    template = MessageTemplateFactory(dealer=dealer, provider_template_code="SMS_1234")
    message = MessageFactory(
        customer__dealer=dealer,
        dealer=dealer,
        template=template,
        to_address="+8613800000001",
        not_before=T0,
    )
    sms_gateway.fail_numbers = {"13800000001": "isv.BUSINESS_LIMIT_CONTROL"}

    with time_machine.travel(T0, tick=False) as clock:
        # When the outbox runs, then the message waits 60 s, 120 s, 240 s between attempts
        waited = []
        for attempt in (1, 2, 3):
            assert dispatch_due() == 1
            message = refreshed(message)
            assert message.status == MessageStatus.QUEUED
            assert message.attempts == attempt
            assert message.status_reason  # why it is waiting, for the sender
            wait = message.not_before - datetime.datetime.now(tz=SHANGHAI)
            waited.append(wait.total_seconds())
            # … and is not tried a second before its time
            clock.shift(wait - datetime.timedelta(seconds=1))
            assert dispatch_due() == 0
            clock.shift(datetime.timedelta(seconds=1))
        assert waited == [60, 120, 240]

        # … and the fourth failure is final
        assert dispatch_due() == 1
    message = refreshed(message)
    assert message.status == MessageStatus.FAILED
    assert message.attempts == 4
    assert message.status_reason.startswith("gave up after 4 attempts: ")
    assert len(sms_gateway.requests_for(message.idempotency_key)) == 4


@pytest.mark.django_db
def test_lasting_failures_are_not_retried(dealer, sms_config, sms_gateway):
    # Given a landline number (the gateway answers "illegal mobile number")
    template = MessageTemplateFactory(dealer=dealer, provider_template_code="SMS_1234")
    message = MessageFactory(
        customer__dealer=dealer, dealer=dealer, template=template, to_address="+862150501234"
    )

    # When the outbox runs
    dispatch_due()

    # Then the message is undeliverable with the reason, after one attempt
    message = refreshed(message)
    assert message.status == MessageStatus.UNDELIVERABLE
    assert message.status_reason
    assert message.attempts == 1


# --- recovery ---------------------------------------------------------------------------------


def _left_sending(message: Message, minutes_ago: int = 10) -> None:
    claimed = T0 - datetime.timedelta(minutes=minutes_ago)
    Message.objects.unscoped().filter(pk=message.pk).update(
        status=MessageStatus.SENDING, claimed_at=claimed, status_changed_at=claimed, attempts=1
    )


@pytest.mark.django_db
def test_recovery_marks_sent_what_the_provider_took_and_requeues_what_it_never_got(
    dealer, outbox_dir
):
    # Given two messages a dead worker left "sending": the file log holds the first only
    taken, lost = MessageFactory.create_batch(2, customer__dealer=dealer, dealer=dealer)
    outbox_dir.mkdir(parents=True)
    (outbox_dir / "sms.log").write_text(
        json.dumps({"dealer": dealer.pk, "id": taken.pk, "key": taken.idempotency_key}) + "\n"
    )
    _left_sending(taken)
    _left_sending(lost)

    # When recovery runs
    assert recover_stuck(now=T0) == 2

    # Then the first is sent, the second queued again to go now
    assert refreshed(taken).status == MessageStatus.SENT
    lost = refreshed(lost)
    assert lost.status == MessageStatus.QUEUED
    assert lost.not_before == T0


@pytest.mark.django_db
def test_recovery_leaves_recent_sending_messages_alone(dealer, outbox_dir):
    # Given a message a live worker claimed a minute ago
    message = MessageFactory(customer__dealer=dealer, dealer=dealer)
    _left_sending(message, minutes_ago=1)

    # When recovery runs, then it is not touched
    assert recover_stuck(now=T0) == 0
    assert refreshed(message).status == MessageStatus.SENDING


@pytest.mark.django_db
def test_recovery_fails_messages_whose_provider_cannot_be_asked(dealer, smtp_config, smtp_server):
    # Given an e-mail left "sending" (SMTP cannot tell whether it was taken)
    message = MessageFactory(
        customer__dealer=dealer, dealer=dealer, channel="email", to_address="li@example.cn"
    )
    _left_sending(message)

    # When recovery runs
    recover_stuck(now=T0)

    # Then it is failed with a reason the sender sees, and nothing was sent again
    message = refreshed(message)
    assert message.status == MessageStatus.FAILED
    assert message.status_reason == (
        "interrupted while sending; not resent so the customer does not get it twice"
    )
    assert smtp_server.messages == []


# --- the jobs ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_minute_sweep_recovers_stuck_messages_and_sends_what_fell_due(dealer, outbox_dir):
    # Given a message a dead worker left "sending" (the file log holds it) and one now due
    stuck, due = MessageFactory.create_batch(2, customer__dealer=dealer, dealer=dealer)
    outbox_dir.mkdir(parents=True)
    (outbox_dir / "sms.log").write_text(
        json.dumps({"dealer": dealer.pk, "id": stuck.pk, "key": stuck.idempotency_key}) + "\n"
    )
    ten_minutes_ago = timezone.now() - datetime.timedelta(minutes=10)
    Message.objects.unscoped().filter(pk=stuck.pk).update(
        status=MessageStatus.SENDING, claimed_at=ten_minutes_ago, attempts=1
    )

    # When the periodic sweep runs
    outbox_sweep()

    # Then both are sent, and the stuck one was not written a second time
    assert {refreshed(m).status for m in (stuck, due)} == {MessageStatus.SENT}
    assert sorted(line["id"] for line in log_lines(outbox_dir)) == sorted([stuck.pk, due.pk])


@pytest.mark.django_db
def test_campaign_job_queues_the_campaign_and_its_messages_go_out(
    dealer, outbox_dir, django_capture_on_commit_callbacks
):
    # Given a marketing SMS campaign to three consenting customers (in the daytime)
    template = MessageTemplateFactory(dealer=dealer, body="{{ salutation }}，春季保养八折。")
    customers = CustomerFactory.create_batch(3, dealer=dealer, lifecycle_stage="owner")
    for n, customer in enumerate(customers):
        CustomerPhoneFactory(customer=customer, number=f"+8613700000{n:03d}")
        ConsentFactory(customer=customer, channel="sms", granted=True)
    campaign = Campaign.objects.create(
        dealer=dealer, name="春季保养", template=template, audience={"lifecycle_stages": ["owner"]}
    )

    # When the campaign job runs (and the dispatch it schedules on commit)
    with time_machine.travel(T0, tick=False), django_capture_on_commit_callbacks(execute=True):
        campaign_queue_job(campaign_id=campaign.pk, dealer_id=dealer.pk)

    # Then the campaign is queued and each customer's SMS was sent once
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.QUEUED
    sent = Message.objects.filter(campaign=campaign)
    assert sent.count() == 3
    assert set(sent.values_list("status", flat=True)) == {MessageStatus.SENT}
    assert sorted(line["id"] for line in log_lines(outbox_dir)) == sorted(
        sent.values_list("pk", flat=True)
    )
