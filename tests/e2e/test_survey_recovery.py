"""Catching an unhappy customer in a real browser: a repair order closes, the survey job sends
the personal link, the customer answers on a phone-sized page with a low score — and the
dealer manager, logging in, finds the recovery task on their worklist and the complaint opened
from the survey."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dealercrm.core.permissions import Role
from dealercrm.feedback.models import (
    Complaint,
    ComplaintChannel,
    InvitationStatus,
    SurveyInvitation,
    SurveyResponse,
)
from dealercrm.feedback.services.invitations import (
    survey_invitations_schedule,
    survey_invitations_send_due,
)
from dealercrm.messaging.models import Message
from dealercrm.service.models import RepairOrderStatus
from dealercrm.worklist.models import Task, TaskKind
from tests.customers.factories import CustomerPhoneFactory
from tests.e2e.test_customer_flow import log_in
from tests.feedback.factories import make_questionnaire
from tests.service.factories import RepairOrderFactory
from tests.vehicles.factories import VehicleFactory

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 667}


def _choose(page: Page, question_id: int, value: object) -> None:
    page.locator(f"label[for='q{question_id}-{value}']").click()


def test_a_low_answer_on_a_phone_reaches_the_manager_as_a_recovery_task_and_a_complaint(
    browser, page: Page, live_server, make_user, dealer
):
    # Given a manager, the brand's service questionnaire, and a repair order closed 4 hours ago
    manager = make_user(Role.DEALER_MANAGER, username="zhou.manager", language="en")
    questionnaire = make_questionnaire(brand=dealer.brand, title="售后满意度回访")
    questions = {q.position: q for q in questionnaire.current_version.questions.all()}
    vehicle = VehicleFactory(dealer=dealer, owner__name="陈磊")
    CustomerPhoneFactory(customer=vehicle.owner, number="+8613900001111")
    RepairOrderFactory(
        vehicle=vehicle,
        status=RepairOrderStatus.CLOSED,
        opened_at=timezone.now() - datetime.timedelta(hours=6),
        closed_at=timezone.now() - datetime.timedelta(hours=4),
    )

    # When the survey jobs run, the customer's SMS carries the personal link
    survey_invitations_schedule(dealer_ids=[dealer.pk])
    survey_invitations_send_due(dealer_ids=[dealer.pk])
    message = Message.objects.get(customer=vehicle.owner)
    link = re.search(r"/s/[A-Za-z0-9_\-]+/", message.body)
    assert link is not None

    # And the customer opens it on a phone and answers: NPS 2, quality 2, waiting 1
    phone = browser.new_context(
        base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True
    )
    try:
        mobile = phone.new_page()
        mobile.goto(link.group(0))
        expect(mobile.locator("[data-page='answer']")).to_contain_text("售后满意度回访")
        # Nothing wider than the phone: no sideways scrolling.
        assert mobile.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        _choose(mobile, questions[1].pk, 2)
        _choose(mobile, questions[2].pk, 4)
        _choose(mobile, questions[3].pk, 2)
        _choose(mobile, questions[4].pk, 1)
        mobile.locator(f"label[for='q{questions[5].pk}-1']").click()
        mobile.locator(f"textarea[name='q{questions[6].pk}']").fill("等了三个小时也没人解释")
        # The page must let Chromium send its Origin: with a Referrer-Policy of "no-referrer"
        # a form post carries `Origin: null`, which Django's CSRF check refuses (403).
        mobile.locator("form button[type='submit']").click()
        expect(mobile.locator("[data-page='thanks']")).to_be_visible()
    finally:
        phone.close()

    response = SurveyResponse.objects.get()
    assert response.is_low
    assert SurveyInvitation.objects.get().status == InvitationStatus.ANSWERED

    # Then the manager finds the recovery task on their worklist …
    log_in(page, manager.username)
    page.goto("/tasks/")
    task = Task.objects.get(kind=TaskKind.RECOVERY)
    expect(page.get_by_role("link", name=task.title)).to_be_visible()
    assert "陈磊" in task.title

    # … and the complaint the survey opened, about waiting time
    complaint = Complaint.objects.get()
    assert complaint.channel == ComplaintChannel.SURVEY
    page.goto("/complaints/")
    row = page.locator(f"tr[data-complaint='{complaint.pk}']")
    expect(row).to_contain_text("陈磊")
    expect(row).to_contain_text("Waiting time")
    row.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(rf"/complaints/{complaint.pk}/$"))
    expect(page.locator("body")).to_contain_text("等了三个小时也没人解释")

    # … and the answer on the satisfaction dashboard, its charts drawn
    page.goto("/surveys/dashboard/")
    expect(page.locator("[data-chart] canvas").first).to_be_visible()
