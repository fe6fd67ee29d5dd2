"""The lead pages: list (filters, own leads only, fixed queries), intake with duplicates, the
lead page and its actions, follow-ups due, losses to approve, the sales settings."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from dealercrm.core.permissions import Role
from dealercrm.sales.models import Activity, Lead, LeadStage, SalesPolicy
from dealercrm.sales.services.loss import lead_loss_request
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.sales.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def many_leads(dealer, consultant, n):  # noqa: ANN001, ANN201
    leads = [LeadFactory(dealer=dealer, consultant=consultant) for _ in range(n)]
    for lead in leads:
        CustomerPhoneFactory(customer=lead.customer)
    return leads


# --- the list -------------------------------------------------------------------------------


def test_a_consultant_sees_only_their_own_leads(client_for, dealer, consultant, make_user):
    mine = LeadFactory(dealer=dealer, consultant=consultant)
    theirs = LeadFactory(dealer=dealer, consultant=make_user(Role.SALES_CONSULTANT))
    page = client_for(consultant).get(reverse("sales:leads"))
    assert page.status_code == 200
    ids = [lead.pk for lead in page.context["page"].object_list]
    assert ids == [mine.pk] and theirs.pk not in ids


def test_the_list_filters_by_stage_channel_and_name(client_for, dealer, manager):
    LeadFactory(dealer=dealer, stage=LeadStage.NEW, customer__name="钱一")
    wanted = LeadFactory(
        dealer=dealer, stage=LeadStage.NEGOTIATION, channel="douyin", customer__name="钱二"
    )
    client = client_for(manager)
    for query in ({"stage": "negotiation"}, {"channel": "douyin"}, {"q": "钱二"}):
        page = client.get(reverse("sales:leads"), query)
        assert [lead.pk for lead in page.context["page"].object_list] == [wanted.pk], query


def test_the_list_costs_the_same_queries_for_5_or_20_leads(
    client_for, dealer, manager, consultant, django_assert_max_num_queries
):
    many_leads(dealer, consultant, 5)
    client = client_for(manager)
    client.get(reverse("sales:leads"))
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("sales:leads"))
    many_leads(dealer, consultant, 15)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("sales:leads"))


def test_the_htmx_list_request_gets_the_results_partial(client_for, dealer, manager):
    LeadFactory(dealer=dealer)
    answer = client_for(manager).get(reverse("sales:leads"), HTTP_HX_REQUEST="true")
    assert b'id="lead-results"' in answer.content and b"<html" not in answer.content


# --- intake ---------------------------------------------------------------------------------


def test_the_duplicates_panel_offers_the_known_customer_and_their_open_lead(
    client_for, dealer, consultant
):
    known = CustomerFactory(dealer=dealer, name="周杰", assigned_consultant=consultant)
    CustomerPhoneFactory(customer=known, number="+8613812340000")
    lead = LeadFactory(dealer=dealer, customer=known, consultant=consultant)
    answer = client_for(consultant).get(
        reverse("sales:lead_matches"), {"name": "周杰", "phone": "13812340000"}
    )
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "周杰" in text and "138****0000" in text and "13812340000" not in text
    assert reverse("sales:lead", kwargs={"lead_id": lead.pk}) in text


def test_the_duplicates_panel_offers_to_attach_when_no_open_lead(client_for, dealer, consultant):
    known = CustomerFactory(dealer=dealer, name="周杰", assigned_consultant=consultant)
    CustomerPhoneFactory(customer=known, number="+8613812340000")
    answer = client_for(consultant).get(
        reverse("sales:lead_matches"), {"name": "周杰", "phone": "13812340001"}
    )
    assert f"?customer={known.pk}" in answer.content.decode()


def test_creating_a_lead_from_the_page(client_for, dealer, consultant):
    answer = client_for(consultant).post(
        reverse("sales:lead_create"),
        {
            "channel": "walk_in",
            "name": "吴昊",
            "phone": "13600005555",
            "purchase_timeframe": "1m",
            "scenario_tags": ["family_children"],
        },
    )
    lead = Lead.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse(
        "sales:lead", kwargs={"lead_id": lead.pk}
    )
    assert lead.consultant == consultant and lead.scenario_tags == ["family_children"]
    assert lead.customer.lifecycle_stage == "prospect"


def test_a_bad_phone_is_shown_on_the_phone_field(client_for, dealer, consultant):
    answer = client_for(consultant).post(
        reverse("sales:lead_create"),
        {"channel": "walk_in", "name": "吴昊", "phone": "123", "purchase_timeframe": "1m"},
    )
    assert answer.status_code == 200
    assert answer.context["form"].errors["phone"]
    assert not Lead.objects.exists()


def test_attaching_to_an_existing_customer_from_the_page(client_for, dealer, consultant):
    known = CustomerFactory(dealer=dealer, assigned_consultant=consultant)
    client = client_for(consultant)
    page = client.get(reverse("sales:lead_create"), {"customer": known.pk})
    assert page.context["attach"] == known
    client.post(
        reverse("sales:lead_create"),
        {"channel": "phone", "customer_id": known.pk, "purchase_timeframe": "undecided"},
    )
    assert Lead.objects.get().customer == known


# --- the lead page --------------------------------------------------------------------------


def test_the_lead_page_shows_a_masked_phone_to_the_oem(client_for, dealer, oem_analyst):
    lead = LeadFactory(dealer=dealer)
    CustomerPhoneFactory(customer=lead.customer, number="+8613812345678")
    text = client_for(oem_analyst).get(reverse("sales:lead", kwargs={"lead_id": lead.pk}))
    assert "138****5678" in text.content.decode()
    assert "13812345678" not in text.content.decode()


def test_the_lead_page_costs_the_same_queries_whatever_the_history(
    client_for, dealer, consultant, django_assert_max_num_queries
):
    lead = LeadFactory(dealer=dealer, consultant=consultant)
    url = reverse("sales:lead", kwargs={"lead_id": lead.pk})
    client = client_for(consultant)
    client.get(url)
    with django_assert_max_num_queries(30) as few:
        client.get(url)
    for n in range(10):
        Activity.objects.create(
            dealer=dealer,
            lead=lead,
            customer=lead.customer,
            kind="call",
            result="reached",
            author=consultant,
            note=f"第{n}次",
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)


def test_another_consultants_lead_page_is_404(client_for, dealer, consultant, make_user):
    lead = LeadFactory(dealer=dealer, consultant=make_user(Role.SALES_CONSULTANT))
    assert (
        client_for(consultant).get(reverse("sales:lead", kwargs={"lead_id": lead.pk})).status_code
        == 404
    )


def test_logging_a_follow_up_without_a_next_step_shows_the_error(client_for, dealer, consultant):
    lead = LeadFactory(dealer=dealer, consultant=consultant)
    answer = client_for(consultant).post(
        reverse("sales:lead_activity", kwargs={"lead_id": lead.pk}),
        {"kind": "call", "result": "reached"},
    )
    assert answer.status_code == 422
    assert "Say what the next step is." in answer.content.decode()
    assert not Activity.objects.exists()


def test_logging_a_follow_up_and_moving_the_stage(client_for, dealer, consultant):
    lead = LeadFactory(dealer=dealer, consultant=consultant)
    client = client_for(consultant)
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    answer = client.post(
        reverse("sales:lead_activity", kwargs={"lead_id": lead.pk}),
        {"kind": "visit", "result": "reached", "next_action": "报价", "next_action_due": tomorrow},
    )
    assert answer.status_code == 302
    client.post(reverse("sales:lead_stage", kwargs={"lead_id": lead.pk}), {"stage": "negotiation"})
    lead.refresh_from_db()
    assert lead.stage == "negotiation" and lead.next_action == "报价"


def test_the_order_stage_cannot_be_set_by_hand(client_for, dealer, consultant):
    lead = LeadFactory(dealer=dealer, consultant=consultant)
    client_for(consultant).post(
        reverse("sales:lead_stage", kwargs={"lead_id": lead.pk}), {"stage": "order"}
    )
    lead.refresh_from_db()
    assert lead.stage == "new"


def test_other_topics_sections_are_included_only_when_they_exist(client_for, dealer, consultant):
    lead = LeadFactory(dealer=dealer, consultant=consultant)
    page = client_for(consultant).get(reverse("sales:lead", kwargs={"lead_id": lead.pk}))
    from django.template.loader import get_template

    for name in page.context["sections"]:
        get_template(name)  # each listed section exists


# --- losses and follow-ups ------------------------------------------------------------------


def test_loss_request_and_approval_through_the_pages(client_for, dealer, consultant, manager):
    lead = LeadFactory(dealer=dealer, consultant=consultant)
    client_for(consultant).post(
        reverse("sales:lead_loss_request", kwargs={"lead_id": lead.pk}),
        {"reason": "competitor", "competitor": "理想 L6"},
    )
    client = client_for(manager)
    page = client.get(reverse("sales:losses"))
    assert [lead.pk for lead in page.context["leads"]] == [lead.pk]
    client.post(
        reverse("sales:lead_loss_decide", kwargs={"lead_id": lead.pk}),
        {"decision": "approve", "next": "losses"},
    )
    lead.refresh_from_db()
    assert lead.stage == "lost" and lead.loss_competitor == "理想 L6"
    assert client.get(reverse("sales:losses")).context["leads"] == []


def test_a_consultant_may_not_decide_a_loss(client_for, dealer, consultant):
    lead = LeadFactory(dealer=dealer, consultant=consultant)
    lead_loss_request(actor=consultant, lead=lead, reason="price")
    answer = client_for(consultant).post(
        reverse("sales:lead_loss_decide", kwargs={"lead_id": lead.pk}), {"decision": "approve"}
    )
    assert answer.status_code == 403


def test_follow_ups_list_overdue_today_and_missing_next_actions(
    client_for, dealer, consultant, make_user
):
    today = timezone.localdate()
    overdue = LeadFactory(
        dealer=dealer,
        consultant=consultant,
        stage="contacted",
        first_contacted_at=timezone.now(),
        next_action="回访",
        next_action_due=today - datetime.timedelta(days=2),
    )
    due_today = LeadFactory(
        dealer=dealer,
        consultant=consultant,
        stage="contacted",
        next_action="试驾",
        next_action_due=today,
    )
    missing = LeadFactory(
        dealer=dealer, consultant=consultant, stage="contacted", first_contacted_at=timezone.now()
    )
    LeadFactory(
        dealer=dealer,
        consultant=consultant,
        stage="contacted",
        next_action="报价",
        next_action_due=today + datetime.timedelta(days=3),
    )
    LeadFactory(
        dealer=dealer,
        consultant=make_user(Role.SALES_CONSULTANT),
        stage="contacted",
        next_action="x",
        next_action_due=today - datetime.timedelta(days=1),
    )
    due = client_for(consultant).get(reverse("sales:followups")).context["due"]
    assert due.overdue == [overdue] and due.today == [due_today]
    assert due.without_next_action == [missing]


def test_the_manager_sees_follow_ups_grouped_by_consultant(client_for, dealer, manager, make_user):
    today = timezone.localdate()
    a, b = make_user(Role.SALES_CONSULTANT), make_user(Role.SALES_CONSULTANT)
    for c in (a, b):
        LeadFactory(
            dealer=dealer, consultant=c, stage="contacted", next_action="x", next_action_due=today
        )
    groups = client_for(manager).get(reverse("sales:followups")).context["groups"]
    assert sorted(name for name, _ in groups) == sorted([str(a), str(b)])


def test_the_sales_settings_page_saves_the_policy(client_for, dealer, manager):
    answer = client_for(manager).post(
        reverse("sales:policy"),
        {
            "assignment_mode": "by_load",
            "first_response_minutes": "20",
            "opens_at": "08:30",
            "closes_at": "20:00",
            "open_weekdays": ["1", "2", "3", "4", "5", "6"],
            "auto_reassign": "on",
            "dispatch_release_days": "2",
            "test_drive_minutes": "45",
        },
    )
    assert answer.status_code == 302
    policy = SalesPolicy.objects.get(dealer=dealer)
    assert (policy.assignment_mode, policy.first_response_minutes, policy.open_weekdays) == (
        "by_load",
        20,
        "123456",
    )
    assert policy.auto_reassign and policy.opens_at == datetime.time(8, 30)


def test_closing_before_opening_is_refused_on_the_closing_field(client_for, dealer, manager):
    answer = client_for(manager).post(
        reverse("sales:policy"),
        {
            "assignment_mode": "round_robin",
            "first_response_minutes": "30",
            "opens_at": "18:00",
            "closes_at": "09:00",
            "open_weekdays": ["1"],
            "dispatch_release_days": "3",
            "test_drive_minutes": "60",
        },
    )
    assert answer.status_code == 200
    assert answer.context["form"].errors["closes_at"] == ["The showroom must close after it opens."]


def test_the_referrer_picker_finds_the_users_customers_by_name(client_for, dealer, consultant):
    from dealercrm.customers.services import customer_create

    referrer = customer_create(
        actor=consultant,
        dealer_id=dealer.pk,
        name="冯刚",
        phones=["13500006666"],
        assigned_consultant_id=consultant.pk,
    ).customer
    answer = client_for(consultant).get(reverse("sales:lead_referrers"), {"referrer_q": "冯刚"})
    assert answer.status_code == 200
    text = answer.content.decode()
    assert f'value="{referrer.pk}"' in text and "135****6666" in text


def test_a_referral_lead_keeps_the_referrer_chosen_in_the_picker(client_for, dealer, consultant):
    referrer = CustomerFactory(dealer=dealer, assigned_consultant=consultant)
    client_for(consultant).post(
        reverse("sales:lead_create"),
        {
            "channel": "referral",
            "name": "卫东",
            "phone": "13500007777",
            "referrer_id": referrer.pk,
            "purchase_timeframe": "1m",
        },
    )
    assert Lead.objects.get().referrer == referrer


def test_the_oem_filters_the_brands_leads_by_dealer(client_for, dealer, other_dealer, oem_analyst):
    # Given leads at two dealers of the brand …
    LeadFactory(dealer=dealer, customer__name="浦东的")
    LeadFactory(dealer=other_dealer, customer__name="朝阳的")
    client = client_for(oem_analyst)
    # … the OEM sees both, and the dealer filter keeps one dealer's.
    both = client.get(reverse("sales:leads")).content.decode()
    assert "浦东的" in both and "朝阳的" in both
    one = client.get(reverse("sales:leads"), {"dealer": other_dealer.pk}).content.decode()
    assert "朝阳的" in one and "浦东的" not in one
    assert f'value="{other_dealer.pk}" selected' in one


def test_a_dealer_user_cannot_widen_the_list_with_another_dealers_id(
    client_for, dealer, other_dealer, manager
):
    LeadFactory(dealer=other_dealer, customer__name="朝阳的")
    page = client_for(manager).get(reverse("sales:leads"), {"dealer": other_dealer.pk})
    assert page.status_code == 200 and "朝阳的" not in page.content.decode()
    assert 'id="filter-dealer"' not in page.content.decode()
