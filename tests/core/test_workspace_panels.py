"""Workspace panels: the registry in core, the sales panels and the notices panel on the
consultant's and the manager's workspace, and marking notices read."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from dealercrm.core.permissions import Role
from dealercrm.core.workspace_panels import (
    WorkspacePanel,
    register_workspace_panel,
    unregister_workspace_panel,
    workspace_panels,
)
from dealercrm.sales.models import LeadStage
from dealercrm.sales.services.loss import lead_loss_request
from dealercrm.sales.workspace import register_panels
from dealercrm.worklist.models import Notice
from tests.sales.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def consultant(make_user):
    # English pages: the middleware applies the signed-in user's language (default Chinese).
    return make_user(Role.SALES_CONSULTANT, language="en")


@pytest.fixture
def manager(make_user):
    return make_user(Role.DEALER_MANAGER, language="en")


@pytest.fixture(autouse=True)
def _panels_and_english():
    register_panels()  # hooks.register() does this in the app; idempotent
    with translation.override("en"):
        yield


def test_panels_come_in_their_order_and_none_means_no_panel(consultant):
    def late(user, *, today):  # noqa: ANN001, ANN202
        return WorkspacePanel(template="x.html", order=999)

    def early(user, *, today):  # noqa: ANN001, ANN202
        return WorkspacePanel(template="y.html", order=-1)

    def absent(user, *, today):  # noqa: ANN001, ANN202
        return None

    for panel in (late, early, absent):
        register_workspace_panel(panel)
    register_workspace_panel(late)  # twice: still once
    try:
        templates = [p.template for p in workspace_panels(consultant, today=datetime.date.today())]
        assert templates[0] == "y.html" and templates[-1] == "x.html"
        assert templates.count("x.html") == 1
    finally:
        for panel in (late, early, absent):
            unregister_workspace_panel(panel)


def test_the_consultant_sees_their_waiting_leads_with_the_late_ones_highlighted(
    client_for, dealer, consultant, make_user
):
    now = timezone.now()
    late = LeadFactory(
        dealer=dealer,
        consultant=consultant,
        first_response_due_at=now - datetime.timedelta(minutes=5),
        response_flagged_at=now,
        customer__name="迟到的",
    )
    LeadFactory(
        dealer=dealer,
        consultant=consultant,
        first_response_due_at=now + datetime.timedelta(minutes=20),
        customer__name="准时的",
    )
    LeadFactory(dealer=dealer, consultant=make_user(Role.SALES_CONSULTANT), customer__name="别人的")
    page = client_for(consultant).get(reverse("core:workspace"))
    text = page.content.decode()
    assert "Leads waiting for a first response" in text
    assert "迟到的" in text and "准时的" in text and "别人的" not in text
    waiting = next(p for p in page.context["panels"] if p.template.endswith("_panel_waiting.html"))
    assert [lead.is_late for lead in waiting.context["leads"]] == [True, False]
    assert late.pk == waiting.context["leads"][0].pk


def test_follow_ups_due_are_on_the_workspace(client_for, dealer, consultant):
    today = timezone.localdate()
    LeadFactory(
        dealer=dealer,
        consultant=consultant,
        stage=LeadStage.CONTACTED,
        next_action="回电",
        next_action_due=today,
        customer__name="今天的",
    )
    LeadFactory(
        dealer=dealer,
        consultant=consultant,
        stage=LeadStage.CONTACTED,
        next_action="回电",
        next_action_due=today + datetime.timedelta(days=4),
        customer__name="以后的",
    )
    text = client_for(consultant).get(reverse("core:workspace")).content.decode()
    assert "今天的" in text and "以后的" not in text


def test_the_manager_sees_losses_awaiting_approval_and_the_consultant_does_not(
    client_for, dealer, consultant, manager
):
    lead = LeadFactory(dealer=dealer, consultant=consultant, customer__name="要战败的")
    lead_loss_request(actor=consultant, lead=lead, reason="price")
    manager_page = client_for(manager).get(reverse("core:workspace")).content.decode()
    assert "Losses awaiting your approval" in manager_page and "要战败的" in manager_page
    consultant_page = client_for(consultant).get(reverse("core:workspace")).content.decode()
    assert "Losses awaiting your approval" not in consultant_page


def test_unread_notices_show_and_can_be_marked_read(client_for, dealer, consultant):
    first = Notice.objects.create(dealer=dealer, recipient=consultant, title="新线索给你")
    Notice.objects.create(dealer=dealer, recipient=consultant, title="另一条提醒")
    client = client_for(consultant)
    assert "新线索给你" in client.get(reverse("core:workspace")).content.decode()
    client.post(reverse("worklist:notices_read"), {"notice": first.pk})
    assert Notice.objects.unread().count() == 1
    answer = client.post(reverse("worklist:notices_read"), HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "No unread notices." in answer.content.decode()
    assert not Notice.objects.unread().exists()
    assert "Notices" not in [
        p.template for p in client.get(reverse("core:workspace")).context["panels"]
    ]


def test_marking_read_never_touches_someone_elses_notice(client_for, dealer, consultant, manager):
    theirs = Notice.objects.create(dealer=dealer, recipient=manager, title="经理的")
    client_for(consultant).post(reverse("worklist:notices_read"), {"notice": theirs.pk})
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_workspace_costs_the_same_queries_with_more_leads(
    client_for, dealer, manager, consultant, django_assert_max_num_queries
):
    def add(n: int) -> None:
        for _ in range(n):
            lead = LeadFactory(
                dealer=dealer,
                consultant=consultant,
                first_response_due_at=timezone.now(),
                next_action="x",
                next_action_due=timezone.localdate(),
            )
            lead_loss_request(actor=consultant, lead=lead, reason="price")
            Notice.objects.create(dealer=dealer, recipient=manager, title="n")

    add(9)  # beyond the panels' first screen of 8, where a count joins the list
    client = client_for(manager)
    client.get(reverse("core:workspace"))
    with django_assert_max_num_queries(60) as few:
        client.get(reverse("core:workspace"))
    add(12)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("core:workspace"))
