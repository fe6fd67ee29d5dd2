"""Campaign pages: create, the check before sending, queueing in the background with a progress
bar, and the report."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from dealercrm.core.permissions import Role
from dealercrm.messaging.models import Campaign, Message, MessageStatus
from tests.customers.factories import (
    ConsentFactory,
    CustomerFactory,
    CustomerPhoneFactory,
    CustomerTagFactory,
    TagFactory,
)
from tests.messaging.factories import MessageFactory, MessageTemplateFactory

pytestmark = pytest.mark.django_db

# 10:00 in Shanghai: outside the quiet hours.
MORNING = datetime.datetime(2025, 3, 12, 2, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _frozen_clock_and_tmp_outbox(settings, tmp_path):
    settings.MESSAGING_FILE_DIR = tmp_path
    with time_machine.travel(MORNING, tick=False):
        yield


@pytest.fixture
def care(make_user):
    return make_user(Role.CARE_SPECIALIST)


@pytest.fixture
def template(dealer):
    return MessageTemplateFactory(
        dealer=dealer,
        name="车展邀请",
        purpose="campaign",
        channel="sms",
        body="{{ salutation }}，您的顾问{{ consultant_name }}邀您参加周末车展。",
    )


@pytest.fixture
def audience(dealer, consultant):
    """VIP customers, each ending in a different outcome; one customer outside the audience."""
    vip = TagFactory(dealer=dealer, name="VIP")

    def customer(name, *, phone=True, consent=True, consultant_=consultant):
        c = CustomerFactory(
            dealer=dealer, name=name, gender="male", assigned_consultant=consultant_
        )
        if phone:
            CustomerPhoneFactory(customer=c)
        if consent:
            ConsentFactory(customer=c, channel="sms")
        CustomerTagFactory(customer=c, tag=vip)
        return c

    people = {
        "gets": customer("张一"),
        "no_consent": customer("张二", consent=False),
        "capped": customer("张三"),
        "missing": customer("张四", consultant_=None),
        "no_phone": customer("张五", phone=False),
    }
    for _ in range(4):
        MessageFactory(
            customer=people["capped"],
            purpose="campaign",
            is_marketing=True,
            status=MessageStatus.DELIVERED,
            created_at=timezone.now() - datetime.timedelta(days=3),
        )
    CustomerFactory(dealer=dealer, name="不在名单")
    return people


@pytest.fixture
def campaign(dealer, template, care, audience):
    return Campaign.objects.create(
        dealer=dealer,
        name="三月车展",
        template=template,
        audience={"tags": ["VIP"]},
        created_by=care,
    )


def _counts(html: str) -> dict[str, int]:
    """The figures of the check or report table, by outcome."""
    import re

    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


# --- access ------------------------------------------------------------------------------------


def test_a_consultant_may_not_run_campaigns(client_for, consultant, campaign):
    client = client_for(consultant)

    assert client.get(reverse("messaging:campaigns")).status_code == 403
    assert client.get(reverse("messaging:campaign", args=[campaign.pk])).status_code == 403
    assert client.post(reverse("messaging:campaign_queue", args=[campaign.pk])).status_code == 403


def test_another_dealers_campaign_is_404(client_for, make_user, other_dealer, campaign):
    client = client_for(make_user(Role.DEALER_MANAGER, dealer_=other_dealer))

    for name in ("campaign", "campaign_progress"):
        assert client.get(reverse(f"messaging:{name}", args=[campaign.pk])).status_code == 404
    assert client.post(reverse("messaging:campaign_queue", args=[campaign.pk])).status_code == 404
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT


# --- create and check --------------------------------------------------------------------------


def test_creating_a_campaign_leads_to_its_check(client_for, care, template, audience):
    response = client_for(care).post(
        reverse("messaging:campaign_create"),
        {"name": "三月车展", "template": template.pk, "tags": ["VIP"]},
    )

    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("messaging:campaign", args=[campaign.pk])
    assert campaign.audience == {"tags": ["VIP"]}
    assert campaign.status == Campaign.Status.DRAFT
    assert not Message.objects.filter(campaign=campaign).exists()


def test_a_campaign_needs_a_tag_or_a_lifecycle_stage(client_for, care, template):
    response = client_for(care).post(
        reverse("messaging:campaign_create"), {"name": "给所有人", "template": template.pk}
    )

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Campaign.objects.exists()


def test_the_form_offers_only_the_dealers_active_templates(client_for, care, dealer, other_dealer):
    MessageTemplateFactory(dealer=dealer, name="可用模板")
    MessageTemplateFactory(dealer=dealer, name="停用模板", is_active=False)
    MessageTemplateFactory(dealer=other_dealer, name="别家模板")

    html = client_for(care).get(reverse("messaging:campaign_create")).content.decode()

    assert "可用模板" in html
    assert "停用模板" not in html and "别家模板" not in html


def test_the_check_counts_who_would_get_it_and_why_not_naming_missing_variables(
    client_for, care, campaign
):
    html = client_for(care).get(reverse("messaging:campaign", args=[campaign.pk])).content.decode()

    assert _counts(html) == {
        "total": 5,
        "queued": 1,
        "held_by_cap": 1,
        "no_consent": 1,
        "no_address": 1,
        "undeliverable": 0,
        "missing_variable": 1,
    }
    assert "张四" in html and "consultant_name" in html
    # Nothing was written by looking.
    assert not Message.objects.filter(campaign=campaign).exists()


def test_the_check_names_at_most_twenty_customers_missing_a_variable(
    client_for, care, dealer, template
):
    tag = TagFactory(dealer=dealer, name="老客户")
    for n in range(25):
        c = CustomerFactory(dealer=dealer, name=f"无顾问{n:02d}")
        CustomerPhoneFactory(customer=c)
        CustomerTagFactory(customer=c, tag=tag)
    campaign = Campaign.objects.create(
        dealer=dealer, name="回访", template=template, audience={"tags": ["老客户"]}
    )

    response = client_for(care).get(reverse("messaging:campaign", args=[campaign.pk]))

    html = response.content.decode()
    assert _counts(html)["missing_variable"] == 25
    assert html.count("<li>") == 20


# --- queueing and the report -------------------------------------------------------------------


def test_queueing_runs_the_job_and_the_page_then_shows_the_report(
    client_for, care, campaign, django_capture_on_commit_callbacks
):
    client = client_for(care)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("messaging:campaign_queue", args=[campaign.pk]))

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.QUEUED
    assert (campaign.progress, campaign.total) == (5, 5)
    outcomes = dict(
        Message.objects.filter(campaign=campaign).values_list("customer__name", "status")
    )
    assert outcomes["张一"] in (MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.DELIVERED)
    assert outcomes["张二"] == MessageStatus.BLOCKED
    assert outcomes["张三"] == MessageStatus.HELD
    assert "张四" not in outcomes and "张五" not in outcomes

    html = client.get(reverse("messaging:campaign", args=[campaign.pk])).content.decode()
    counts = _counts(html)
    assert (counts["queued"], counts["held_by_cap"], counts["no_consent"]) == (1, 1, 1)
    assert (counts["no_address"], counts["missing_variable"]) == (1, 1)
    assert 'id="campaign-chart"' in html
    chart = json.loads(
        html.split('id="campaign-chart-data" type="application/json">')[1].split("<")[0]
    )
    assert {row["key"]: row["value"] for row in chart}["queued"] == 1
    assert "张四" in html  # named in the report too


def test_pressing_queue_twice_starts_one_job(
    client_for, care, campaign, django_capture_on_commit_callbacks
):
    client = client_for(care)
    url = reverse("messaging:campaign_queue", args=[campaign.pk])

    with django_capture_on_commit_callbacks(execute=True) as first:
        client.post(url)
    with django_capture_on_commit_callbacks(execute=True) as second:
        client.post(url)

    assert len(first) >= 1 and len(second) == 0
    campaign.refresh_from_db()
    assert campaign.report["queued"] == 1 and campaign.report["already_queued"] == 0


def test_while_queueing_the_page_polls_the_progress_every_second(client_for, care, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.QUEUEING, progress=40, total=160
    )

    response = client_for(care).get(
        reverse("messaging:campaign_progress", args=[campaign.pk]), headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert "25%" in html and 'data-progress="40" data-total="160"' in html
    assert "<html" not in html


def test_once_queued_the_progress_answer_stops_polling_and_shows_the_report(
    client_for, care, campaign
):
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.QUEUED,
        progress=5,
        total=5,
        report={"queued": 4, "held_by_cap": 1, "no_consent": 0},
    )

    html = (
        client_for(care)
        .get(
            reverse("messaging:campaign_progress", args=[campaign.pk]),
            headers={"HX-Request": "true"},
        )
        .content.decode()
    )

    assert "every 1s" not in html
    assert _counts(html)["queued"] == 4
    assert 'id="campaign-chart"' in html


def test_an_htmx_queue_answers_the_progress_part(
    client_for, care, campaign, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        response = client_for(care).post(
            reverse("messaging:campaign_queue", args=[campaign.pk]),
            headers={"HX-Request": "true"},
            follow=True,
        )

    html = response.content.decode()
    # The job has not run yet (a worker picks it up): the bar is shown and polls.
    assert 'id="campaign-state"' in html and 'hx-trigger="every 1s"' in html


# --- the list ----------------------------------------------------------------------------------


def test_the_list_shows_campaigns_in_constant_queries(
    client_for, care, dealer, template, django_assert_max_num_queries
):
    client = client_for(care)
    Campaign.objects.create(dealer=dealer, name="活动0", template=template, created_by=care)
    with django_assert_max_num_queries(10) as few:
        client.get(reverse("messaging:campaigns"))
    for n in range(1, 20):
        Campaign.objects.create(dealer=dealer, name=f"活动{n}", template=template, created_by=care)

    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(reverse("messaging:campaigns")).content.decode()

    assert "活动19" in html and "活动0" in html


def test_a_system_administrator_runs_a_campaign_for_the_dealer_they_pick(
    client_for, make_user, dealer, other_dealer
):
    theirs = MessageTemplateFactory(dealer=other_dealer, name="北京模板", purpose="campaign")
    MessageTemplateFactory(dealer=dealer, name="上海模板")
    client = client_for(make_user(Role.SYSTEM_ADMIN))

    html = client.get(
        reverse("messaging:campaign_create"), {"dealer": other_dealer.pk}
    ).content.decode()
    response = client.post(
        reverse("messaging:campaign_create"),
        {
            "dealer": other_dealer.pk,
            "name": "北京车展",
            "template": theirs.pk,
            "lifecycle_stages": ["owner"],
        },
    )

    assert "北京模板" in html and "上海模板" not in html
    assert response.status_code == 302
    assert Campaign.objects.get().dealer_id == other_dealer.pk
