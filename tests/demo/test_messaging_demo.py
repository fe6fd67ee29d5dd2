"""The demo's messaging: templates for every purpose at every dealer, a signed policy, and a
message history that keeps the rules the services enforce (consent, cap, quiet hours), rendered
as the services render, with replies, an unsubscribe reflected in consent, and campaign reports
that add up."""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections import Counter, defaultdict

import pytest
from django.db.models import Q, QuerySet

from dealercrm.core.models import Dealer
from dealercrm.customers.models import Consent, Customer
from dealercrm.demo.generators.messaging import TEMPLATES, short_name
from dealercrm.demo.runner import delete_demo, run_demo
from dealercrm.messaging.models import (
    Campaign,
    Message,
    MessageStatus,
    MessageTemplate,
    MessagingPolicy,
    Purpose,
)
from dealercrm.messaging.rendering import customer_contexts, render, validate_template
from dealercrm.messaging.sms_length import segments_for, sms_text
from dealercrm.worklist.models import Task, TaskKind
from tests.demo.conftest import demo_fixture

TODAY = dt.date(2026, 6, 30)
CUSTOMERS = 1500
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
SENT = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FAILED,
        MessageStatus.UNDELIVERABLE)  # fmt: skip


demo = demo_fixture(customers=CUSTOMERS, seed=11, today=TODAY)


pytestmark = pytest.mark.usefixtures("db_demo")


def outbound() -> QuerySet[Message]:
    return Message.objects.unscoped().filter(direction=Message.Direction.OUTBOUND)


def test_every_dealer_has_a_template_for_every_purpose_and_a_signed_policy():
    dealers = list(Dealer.objects.all())
    for dealer in dealers:
        templates = list(MessageTemplate.objects.unscoped().filter(dealer=dealer))
        # Every purpose, SMS mostly, some e-mail and WeChat, a few in English
        assert {t.purpose for t in templates} == set(Purpose.values)
        assert {t.channel for t in templates} == {"sms", "email", "wechat"}
        assert {t.language for t in templates} == {"zh-hans", "en"}
        assert len(templates) == len(TEMPLATES)
        policy = MessagingPolicy.objects.unscoped().get(dealer=dealer)
        assert policy.sms_signature == short_name(dealer.name, dealer.city)
        assert (policy.cap_count, policy.quiet_start) == (4, dt.time(21, 0))
    shanghai = next(d for d in dealers if d.code == "SH01")
    assert MessagingPolicy.objects.unscoped().get(dealer=shanghai).sms_signature == "极光浦东店"


def test_templates_use_only_the_variable_catalogue():
    for spec in TEMPLATES:
        validate_template(spec.body, spec.subject)  # raises naming an unknown variable


def test_the_history_spans_three_years_and_every_purpose():
    messages = outbound()
    first = messages.order_by("created_at").first().created_at.date()
    last = messages.order_by("-created_at").first().created_at.date()
    assert TODAY - dt.timedelta(days=3 * 365) <= first and last <= TODAY
    assert set(messages.values_list("purpose", flat=True).distinct()) == set(Purpose.values)
    assert set(messages.values_list("channel", flat=True).distinct()) == {"sms", "email", "wechat"}
    assert messages.filter(language="en").exists()
    # About one message for every two customers: a history, not a flood
    assert 0.3 * CUSTOMERS < messages.count() < CUSTOMERS


def test_statuses_are_mostly_delivered_and_failures_say_why():
    counts = Counter(outbound().values_list("status", flat=True))
    total = sum(counts.values())
    assert (counts["delivered"] + counts["sent"]) / total > 0.85
    assert counts["failed"] and counts["undeliverable"]
    unexplained = outbound().filter(
        status__in=["failed", "undeliverable", "blocked", "held"], status_reason=""
    )
    assert not unexplained.exists()
    # E-mail has no delivery receipt: it ends "sent" (or bounced)
    assert set(outbound().filter(channel="email").values_list("status", flat=True)) <= {
        "sent",
        "undeliverable",
    }


def test_messages_are_rendered_as_the_services_render_them():
    # Given the birthday greetings (salutation and dealer name only), when the real renderer
    # fills their template for the same customer, then the text is the same, signature and
    # 回T退订 included
    greetings = list(
        outbound()
        .filter(purpose=Purpose.BIRTHDAY_GREETING, channel="sms")
        .select_related("template")
    )
    assert greetings
    policies = dict(MessagingPolicy.objects.unscoped().values_list("dealer_id", "sms_signature"))
    for message in greetings:
        template = message.template
        context = customer_contexts(message.dealer_id, [message.customer_id], template.language)
        expected = sms_text(
            render(template.body, context[message.customer_id]),
            signature=policies[message.dealer_id],
            marketing=True,
        )
        assert message.body == expected
    # Every SMS carries its signature and its segments as the gateway counts them
    for body, segments, marketing in (
        outbound().filter(channel="sms").values_list("body", "segments", "is_marketing")
    ):
        assert body.startswith("【") and "{" not in body
        assert segments == segments_for(len(body))
        assert body.endswith(" 回T退订") == marketing


def test_marketing_went_only_with_consent_within_the_cap_and_outside_quiet_hours():
    consents = {(c.customer_id, c.channel): c for c in Consent.objects.unscoped().all()}
    sent_marketing = list(
        outbound().filter(is_marketing=True, status__in=SENT).order_by("customer_id", "created_at")
    )
    assert sent_marketing
    days_of: dict[int, list[dt.date]] = defaultdict(list)
    for message in sent_marketing:
        consent = consents.get((message.customer_id, message.channel))
        # Granted then: still granted, or withdrawn later (a reply of T)
        assert consent is not None, message
        assert consent.granted or consent.changed_at > message.created_at, message
        days_of[message.customer_id].append(message.created_at.date())
    for days in days_of.values():
        for day in days:
            window = [d for d in days if day - dt.timedelta(days=30) < d <= day]
            assert len(window) <= 4
    for message in outbound().filter(channel="sms"):
        local = message.created_at.astimezone(SHANGHAI).time()
        assert dt.time(8, 0) <= local < dt.time(21, 0), message.created_at


def test_a_reply_of_t_withdrew_sms_consent_and_no_marketing_sms_followed():
    stops = list(Message.objects.unscoped().filter(direction="in", body__in=["T", "TD", "退订"]))
    assert stops
    for stop in stops:
        consent = Consent.objects.unscoped().get(customer_id=stop.customer_id, channel="sms")
        assert consent.granted is False
        assert consent.source == f"SMS reply {stop.body}"
        assert consent.changed_at == stop.created_at
        assert stop.in_reply_to.is_marketing and stop.in_reply_to.channel == "sms"
        later = outbound().filter(
            customer_id=stop.customer_id,
            channel="sms",
            is_marketing=True,
            created_at__gt=stop.created_at,
        )
        assert not later.filter(status__in=SENT).exists()


def test_other_replies_became_tasks_for_the_customers_consultant():
    replies = list(
        Message.objects.unscoped()
        .filter(direction="in")
        .exclude(body__in=["T", "TD", "退订"])
        .select_related("customer")
    )
    assert replies
    tasks = {t.source_id: t for t in Task.objects.unscoped().filter(kind=TaskKind.REPLY)}
    for reply in replies:
        task = tasks[str(reply.pk)]
        assert task.source_kind == "messaging.message"
        assert task.assignee_id == reply.customer.assigned_consultant_id
        assert task.body == reply.body and reply.status == MessageStatus.RECEIVED


def test_campaign_reports_add_up_to_their_messages():
    campaigns = list(Campaign.objects.unscoped().all())
    assert len(campaigns) == 4  # every third of the 12 dealers
    for campaign in campaigns:
        by_status = Counter(
            Message.objects.unscoped().filter(campaign=campaign).values_list("status", flat=True)
        )
        report = campaign.report
        assert report["no_consent"] == by_status["blocked"]
        assert report["held_by_cap"] == by_status["held"]
        assert report["queued"] + report["no_consent"] + report["held_by_cap"] == campaign.total
        assert campaign.total == sum(by_status.values()) == campaign.progress
        assert campaign.status == Campaign.Status.QUEUED
        # Its audience is a lifecycle stage: every message went to a customer in it
        stages = set(
            Customer.objects.unscoped()
            .filter(messages__campaign=campaign)
            .values_list("lifecycle_stage", flat=True)
        )
        assert stages <= set(campaign.audience["lifecycle_stages"])
    assert sum(c.report["no_consent"] for c in campaigns) > 0


def test_idempotency_keys_are_unique_per_dealer():
    keys = outbound().exclude(idempotency_key="").values_list("dealer_id", "idempotency_key")
    assert len(set(keys)) == keys.count() == outbound().count()
    assert (
        not Message.objects.unscoped().filter(Q(direction="in") & ~Q(idempotency_key="")).exists()
    )


def _digest() -> str:
    h = hashlib.sha256()
    for row in (
        Message.objects.unscoped()
        .order_by("id")
        .values_list(
            "customer__name", "direction", "channel", "purpose", "status", "body", "created_at"
        )
    ):
        h.update(repr(row).encode())
    for row in Consent.objects.unscoped().order_by("id").values_list("granted", "source"):
        h.update(repr(row).encode())
    return h.hexdigest()


def test_the_same_seed_gives_the_same_messages_in_one_process_or_two():
    # Given a network made in one process (the module's is removed; the test's savepoint
    # brings it back afterwards)
    delete_demo()
    run_demo(customers=600, seed=5, today=TODAY, chunk_size=200, parallel=False)
    first = _digest()
    delete_demo()
    # When the same is made by a child process while this one writes
    run_demo(customers=600, seed=5, today=TODAY, chunk_size=200, parallel=True)
    # Then the messages, and the consents their replies changed, are the same
    assert _digest() == first
    assert Message.objects.unscoped().exists()
