"""The lead entries of the customer 360 timeline: one query per provider, newest first."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone, translation

from dealercrm.sales.selectors.leads import activity_timeline, lead_timeline
from dealercrm.sales.services.activities import activity_log
from dealercrm.sales.services.leads import lead_create, lead_stage_advance

pytestmark = pytest.mark.django_db


def test_lead_events_and_follow_ups_reach_the_timeline_in_one_query_each(
    dealer, manager, consultant, django_assert_num_queries
):
    with translation.override("en"):
        lead = lead_create(actor=manager, dealer_id=dealer.pk, channel="douyin", name="郑爽")
        activity_log(
            actor=consultant,
            lead=lead,
            kind="call",
            result="reached",
            note="想要SUV",
            next_action="约试驾",
            next_action_due=timezone.localdate() + datetime.timedelta(days=1),
        )
        lead_stage_advance(actor=consultant, lead=lead, stage="negotiation")
        customer = lead.customer
        with django_assert_num_queries(1):
            events = lead_timeline(customer, limit=10, before=None)
        with django_assert_num_queries(1):
            follow_ups = activity_timeline(customer, limit=10, before=None)
    titles = [e.title for e in events]
    assert titles[-1] == "New lead (Douyin)"
    assert "Lead moved to: Negotiation" in titles and "Lead moved to: Contacted" in titles
    assert follow_ups[0].title == "Phone call · Talked to the customer"
    assert "约试驾" in follow_ups[0].body
    assert all(e.url.endswith(f"/{lead.pk}/") for e in events + follow_ups)


def test_the_timeline_pages_by_before(dealer, manager, consultant):
    lead = lead_create(actor=manager, dealer_id=dealer.pk, channel="phone", name="郑爽")
    lead_stage_advance(actor=consultant, lead=lead, stage="contacted")
    newest = lead_timeline(lead.customer, limit=1, before=None)
    older = lead_timeline(lead.customer, limit=10, before=newest[0].occurred_at)
    assert all(e.occurred_at < newest[0].occurred_at for e in older)


def test_the_lead_events_are_found_through_the_leads_dealer_and_customer_index(
    dealer, manager, django_assert_num_queries
):
    # The lead index is (dealer, customer): with the customer alone the query walked the whole
    # index (25 ms a 360 page at 1,000,000 customers).
    lead = lead_create(actor=manager, dealer_id=dealer.pk, channel="phone", name="郑爽")
    with django_assert_num_queries(1) as captured:
        lead_timeline(lead.customer, limit=10, before=None)
    sql = captured.captured_queries[0]["sql"]
    assert f'"sales_lead"."dealer_id" = {dealer.pk}' in sql
    assert f'"sales_lead"."customer_id" = {lead.customer_id}' in sql
