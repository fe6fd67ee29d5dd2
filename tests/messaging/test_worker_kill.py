"""Kill-and-retry (issue 3, point 4): a worker killed between the gateway's answer and the
status write must not make the customer get the SMS twice.

A real worker process sends through the SMS gateway adapter to the fake gateway (a real HTTP
server on 127.0.0.1) and is killed by SIGKILL at the crash point `after_provider_send`
(DEALERCRM_CRASH_AT, see dealercrm.messaging.outbox.crash_point): the gateway has taken the
message, our database still says "sending". A second worker then runs recovery and the
dispatcher again. The gateway must have received exactly ONE SendSms for the message's OutId,
and the message must end "sent" with the gateway's BizId.

The worker processes reach the test database as explained in test_outbox_processes.py
(PostgreSQL: by name; SQLite: the in-memory database copied to a file and back).
"""

from __future__ import annotations

import signal

import pytest

from dealercrm.messaging.models import Message, MessageStatus, MessagingPolicy
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.messaging.factories import MessageFactory, MessageTemplateFactory
from tests.messaging.test_outbox_processes import finish, worker_db  # noqa: F401 — fixture


@pytest.mark.django_db(transaction=True)
def test_worker_killed_after_the_gateway_answered_does_not_send_twice(
    dealer,
    sms_config,
    sms_gateway,
    worker_db,  # noqa: F811
):
    # Given two queued SMS of a dealer whose SMS goes through the gateway
    MessagingPolicy.objects.create(dealer=dealer, sms_signature=sms_gateway.sign_name)
    template = MessageTemplateFactory(dealer=dealer, provider_template_code="SMS_8001")
    messages = []
    for n in range(2):
        customer = CustomerFactory(dealer=dealer)
        phone = CustomerPhoneFactory(customer=customer, number=f"+861380013800{n}")
        messages.append(
            MessageFactory(
                customer=customer,
                template=template,
                to_address=phone.number,
                params={"salutation": "王先生"},
            )
        )
    keys = [m.idempotency_key for m in messages]
    worker_db.push()

    # When a worker sends them and is killed right after the gateway answered
    worker = worker_db.start(DEALERCRM_CRASH_AT="after_provider_send")
    code, _report, err = finish(worker)
    assert code == -signal.SIGKILL, err
    worker_db.pull()
    # (the gateway took both; our rows still say "sending": the worst moment to die)
    assert all(len(sms_gateway.requests_for(key)) == 1 for key in keys)
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in messages])} == {
        MessageStatus.SENDING
    }

    # … and a new worker recovers what was left "sending" and dispatches again
    worker = worker_db.start(WORKER_RECOVER="1")
    code, report, err = finish(worker)
    assert code == 0, err
    worker_db.pull()

    # Then the gateway got exactly one send per OutId …
    for key in keys:
        assert len(sms_gateway.requests_for(key)) == 1
    # … and each message ends "sent" with the gateway's BizId, found by looking it up
    assert report["recovered"] == 2
    assert report["claimed"] == 0
    for message in messages:
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT
        assert message.provider_message_id == sms_gateway.sent[message.idempotency_key]["BizId"]
        assert message.attempts == 1
