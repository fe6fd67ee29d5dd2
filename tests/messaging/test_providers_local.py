"""Providers that need no outside server: the registry, secrets, file log, phone tasks, mail."""

from __future__ import annotations

import json
import multiprocessing

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from dealercrm.core.tenancy import dealer_scope
from dealercrm.messaging.providers import default_provider, provider_for, provider_for_config
from dealercrm.messaging.providers.base import Outcome, WebhookRejected
from dealercrm.messaging.providers.configuration import ProviderSettings
from dealercrm.messaging.providers.file import FileProvider
from dealercrm.messaging.providers.mail_export import MailExportProvider, MailNotDispatched
from dealercrm.messaging.providers.phone_task import TASK_SOURCE_KIND, PhoneTaskProvider
from dealercrm.messaging.secrets import decrypt_secret, encrypt_secret
from dealercrm.worklist.models import Task, TaskKind
from tests.customers.factories import CustomerFactory
from tests.messaging.factories import ProviderConfigFactory

# --- secrets ---------------------------------------------------------------------------------


def test_a_secret_round_trips_and_is_not_stored_in_clear():
    token = encrypt_secret("access-key-secret-密")

    assert "access-key-secret" not in token
    assert decrypt_secret(token) == "access-key-secret-密"
    assert encrypt_secret("") == "" and decrypt_secret("") == ""


def test_a_secret_encrypted_with_another_key_says_so(settings):
    token = encrypt_secret("s3cret")
    settings.FIELD_ENCRYPTION_KEY = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMTI="

    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY"):
        decrypt_secret(token)


def test_rotated_keys_still_decrypt_old_secrets(settings):
    token = encrypt_secret("s3cret")
    settings.FIELD_ENCRYPTION_KEY = (
        "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktMTI=," + settings.FIELD_ENCRYPTION_KEY
    )

    assert decrypt_secret(token) == "s3cret"


# --- registry --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_dealer_without_a_config_gets_the_channel_default(dealer, settings):
    settings.MESSAGING_DEFAULT_PROVIDERS = {**settings.MESSAGING_DEFAULT_PROVIDERS, "sms": "file"}

    with dealer_scope(dealer.pk):
        assert isinstance(provider_for(dealer.pk, "sms"), FileProvider)
        assert isinstance(provider_for(dealer.pk, "phone"), PhoneTaskProvider)
        assert isinstance(provider_for(dealer.pk, "mail"), MailExportProvider)


@pytest.mark.django_db
def test_the_config_read_now_decides_so_a_change_applies_at_once(dealer, other_dealer):
    config = ProviderConfigFactory(
        dealer=dealer,
        channel="email",
        kind="smtp",
        options={"host": "smtp.example.cn"},
        secret_encrypted=encrypt_secret("pw"),
    )
    ProviderConfigFactory(dealer=other_dealer, channel="email", kind="django_email")

    with dealer_scope(dealer.pk):
        first = provider_for(dealer.pk, "email")
        config.kind = "django_email"
        config.save(update_fields=["kind"])
        second = provider_for(dealer.pk, "email")

    assert first.kind == "smtp"
    assert first.settings.secret == "pw"
    assert first.settings.webhook_key == config.webhook_key
    assert second.kind == "django_email"


@pytest.mark.django_db
def test_another_dealers_config_is_not_visible_from_a_dealer_scope(dealer, other_dealer, settings):
    ProviderConfigFactory(dealer=other_dealer, channel="sms", kind="sms_gateway")

    with dealer_scope(dealer.pk):
        provider = provider_for(other_dealer.pk, "sms")

    assert provider.kind == settings.MESSAGING_DEFAULT_PROVIDERS["sms"]


@pytest.mark.django_db
def test_looking_up_a_provider_costs_one_query(dealer, django_assert_num_queries):
    config = ProviderConfigFactory(dealer=dealer, channel="sms", kind="file")

    with dealer_scope(dealer.pk), django_assert_num_queries(1):
        provider = provider_for(dealer.pk, "sms")

    assert provider.settings.config_id == config.pk


def test_an_unknown_default_is_a_configuration_error(settings):
    settings.MESSAGING_DEFAULT_PROVIDERS = {"sms": "carrier_pigeon"}

    with pytest.raises(ImproperlyConfigured):
        default_provider("sms")


@pytest.mark.django_db
def test_every_provider_kind_can_be_built(dealer):
    for kind in ("file", "smtp", "django_email", "sms_gateway", "wechat", "phone_task"):
        config = ProviderConfigFactory.build(dealer=dealer, channel="sms", kind=kind)
        assert provider_for_config(config).kind == kind


# --- file ------------------------------------------------------------------------------------


@pytest.fixture
def file_provider(tmp_path, settings):
    settings.MESSAGING_FILE_DIR = tmp_path / "outbox"
    return FileProvider(ProviderSettings(kind="file", channel="sms", dealer_id=1))


def test_the_file_provider_writes_one_json_line_a_message(file_provider, make_outgoing, tmp_path):
    messages = [make_outgoing(), make_outgoing(to_address="+8613900000000", body="第二条\n两行")]

    results = file_provider.send(messages)

    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    lines = (tmp_path / "outbox" / "sms.log").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["id"] == messages[0].message_id
    assert first["key"] == messages[0].idempotency_key
    assert first["dealer"] == 1
    assert first["to"] == "+8613812345678"
    assert first["body"] == messages[0].body
    assert {"subject", "at"} <= first.keys()
    assert second["body"] == "第二条\n两行"


def test_file_lookup_finds_what_was_written_and_nothing_else(file_provider, make_outgoing):
    written, never = make_outgoing(), make_outgoing()
    file_provider.send([make_outgoing(), written, make_outgoing()])

    assert file_provider.lookup(written).outcome == Outcome.SENT
    assert file_provider.lookup(never) is None


def test_file_lookup_ignores_another_dealers_line_with_the_same_key(file_provider, make_outgoing):
    file_provider.send([make_outgoing(dealer_id=2, idempotency_key="manual:x:1:sms")])

    assert (
        file_provider.lookup(make_outgoing(dealer_id=1, idempotency_key="manual:x:1:sms")) is None
    )


def test_file_lookup_survives_a_torn_last_line(file_provider, make_outgoing, tmp_path):
    message = make_outgoing()
    file_provider.send([message])
    with (tmp_path / "outbox" / "sms.log").open("a") as log:
        log.write('{"dealer": 1, "key": "' + message.idempotency_key)  # crash mid-write

    assert file_provider.lookup(message) is not None


def test_the_file_provider_takes_no_webhooks(file_provider):
    with pytest.raises(WebhookRejected):
        file_provider.verify_webhook(RequestFactory().post("/"))


def _append_batches(directory: str, worker: int) -> None:
    from dealercrm.messaging.providers.base import OutgoingMessage

    provider = FileProvider(
        ProviderSettings(kind="file", channel="sms", options={"directory": directory})
    )
    for batch in range(20):
        provider.send(
            [
                OutgoingMessage(
                    message_id=worker * 100_000 + batch * 100 + n,
                    dealer_id=1,
                    idempotency_key=f"w{worker}:{batch}:{n}",
                    channel="sms",
                    to_address="+8613812345678",
                    subject="",
                    body="保养提醒" * 20,
                    params={},
                )
                for n in range(100)
            ]
        )


def test_two_processes_appending_at_once_never_tear_a_line(tmp_path):
    # given two worker processes writing batches to the same log at the same time
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_batches, args=(str(tmp_path), n)) for n in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    # then every line is whole JSON and every message is there once
    assert [w.exitcode for w in workers] == [0, 0]
    lines = (tmp_path / "sms.log").read_text(encoding="utf-8").splitlines()
    keys = [json.loads(line)["key"] for line in lines]
    assert len(keys) == 2 * 20 * 100 == len(set(keys))


# --- phone task ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_phone_message_becomes_a_call_task_with_the_script(dealer, consultant, make_outgoing):
    customer = CustomerFactory(dealer=dealer, name="张三")
    message = make_outgoing(
        dealer_id=dealer.pk,
        channel="phone",
        customer_id=customer.pk,
        customer_name="张先生",
        assignee_id=consultant.pk,
        subject="保养提醒",
        body="张先生您好，我是极光4S店的顾问……",
    )
    provider = PhoneTaskProvider(ProviderSettings(kind="phone_task", channel="phone"))

    with dealer_scope(dealer.pk):
        [result] = provider.send([message])
        again = provider.send([message])  # a run twice after a crash
        found = provider.lookup(message)
        tasks = list(Task.objects.filter(customer=customer))

    assert result.outcome == Outcome.SENT
    assert again[0].outcome == Outcome.SENT
    [task] = tasks
    assert task.kind == TaskKind.CALL
    assert task.assignee_id == consultant.pk
    assert task.body == "张先生您好，我是极光4S店的顾问……"
    assert "张先生" in task.title and "保养提醒" in task.title
    assert (task.source_kind, task.source_id) == (TASK_SOURCE_KIND, str(message.message_id))
    assert found is not None and found.outcome == Outcome.SENT


@pytest.mark.django_db
def test_a_phone_message_without_a_customer_fails(dealer, make_outgoing):
    provider = PhoneTaskProvider(ProviderSettings(kind="phone_task", channel="phone"))

    with dealer_scope(dealer.pk):
        [result] = provider.send([make_outgoing(dealer_id=dealer.pk, channel="phone")])

    assert result.outcome == Outcome.FAILED


@pytest.mark.django_db
def test_phone_lookup_of_a_message_never_sent_is_none(dealer, make_outgoing):
    provider = PhoneTaskProvider(ProviderSettings(kind="phone_task", channel="phone"))

    with dealer_scope(dealer.pk):
        assert provider.lookup(make_outgoing(dealer_id=dealer.pk, channel="phone")) is None


# --- direct mail -----------------------------------------------------------------------------


def test_direct_mail_is_never_dispatched_by_the_outbox(make_outgoing):
    provider = MailExportProvider(ProviderSettings(kind="mail_export", channel="mail"))

    assert provider.dispatched_by_outbox is False
    with pytest.raises(MailNotDispatched, match="address-list export"):
        provider.send([make_outgoing(channel="mail")])
