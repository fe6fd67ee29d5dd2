"""A care call in a real browser: the care specialist opens the worklist, opens a maintenance
reminder, calls, records "appointment booked" with one of the workshop's free slots — and the
appointment is in the service calendar and on the customer's 360 timeline.

The live server's clock is moved to 09:00 (Shanghai) of the next real day and ticks from there;
the appointment is for two days later, so every slot of that day is still to come.
"""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import Page, expect

from dealercrm.care.models import CareOccurrence, CareOutcome, CareRuleCode, OccurrenceStatus
from dealercrm.core.permissions import Role
from dealercrm.service.models import Appointment, AppointmentChannel
from dealercrm.worklist.models import Task, TaskStatus
from tests.care.factories import make_care_task
from tests.customers.factories import CustomerPhoneFactory
from tests.e2e.test_customer_flow import log_in
from tests.service.factories import ServiceBayFactory
from tests.vehicles.factories import VehicleFactory

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def morning():
    day = datetime.datetime.now(SHANGHAI).date() + datetime.timedelta(days=1)
    start = datetime.datetime.combine(day, datetime.time(9, 0), tzinfo=SHANGHAI)
    with time_machine.travel(start, tick=True):
        yield start


def test_a_care_call_books_an_appointment_that_reaches_the_workshop_and_the_timeline(
    page: Page, make_user, dealer, morning
):
    # Given a maintenance reminder due this morning for a care specialist, and a service bay …
    specialist = make_user(Role.CARE_SPECIALIST, username="lin.care", language="en")
    ServiceBayFactory(dealer=dealer, name="工位A")
    vehicle = VehicleFactory(dealer=dealer, owner__name="林静", plate="沪A12345")
    CustomerPhoneFactory(customer=vehicle.owner, number="+8613811112222")
    occurrence = make_care_task(
        vehicle=vehicle,
        assignee=specialist,
        rule=CareRuleCode.MAINTENANCE_DUE,
        due_at=morning,
        body="林女士您好，您的爱车快到保养里程了，这周方便来店吗？",
    )
    # The form offers tomorrow's slots first; the customer prefers the day after.
    booked_day = morning.date() + datetime.timedelta(days=2)

    log_in(page, specialist.username)

    # 1. The worklist: the task, with the masked phone; opening it shows the script.
    page.goto("/care/tasks/")
    row = page.locator(f"tr[data-occurrence='{occurrence.pk}']")
    expect(row).to_contain_text("林静")
    expect(row).to_contain_text("138****2222")
    row.get_by_role("link", name="林静").click()
    expect(page).to_have_url(re.compile(rf"/care/tasks/{occurrence.pk}/$"))
    expect(page.locator("#care-script")).to_contain_text("快到保养里程")

    # 2. The call: the customer books. The day's free slots come from the workshop.
    page.locator("label.form-selectgroup-item", has_text="Appointment booked").click()
    page.get_by_label("Day").fill(booked_day.isoformat())
    expect(page.locator(f"#care-outcome[data-slot-day='{booked_day.isoformat()}']")).to_be_visible()
    slot = page.get_by_label("Time slot")
    expect(slot.locator("option").nth(1)).to_be_attached()
    chosen = slot.locator("option").nth(1).get_attribute("value")
    slot.select_option(chosen)
    page.get_by_label("Note").fill("周六上午来，顺便看看轮胎")
    page.get_by_role("button", name="Record outcome").click()
    expect(page.locator("[data-outcome-saved]")).to_be_visible()
    expect(page.locator("[data-outcome]")).to_have_attribute("data-outcome", "appointment_booked")

    occurrence = CareOccurrence.objects.get(pk=occurrence.pk)
    assert (occurrence.status, occurrence.outcome) == (
        OccurrenceStatus.DONE,
        CareOutcome.APPOINTMENT_BOOKED,
    )
    assert Task.objects.get(pk=occurrence.task_id).status == TaskStatus.DONE
    appointment = Appointment.objects.get()
    assert appointment.channel == AppointmentChannel.CARE_CALL
    assert appointment.source_id == str(occurrence.pk)
    assert appointment.starts_at == datetime.datetime.fromisoformat(chosen)

    # 3. The workshop's calendar of that day shows the appointment.
    page.goto(f"/service/calendar/?day={booked_day.isoformat()}")
    expect(page.locator("[data-booked]")).to_contain_text("林静")

    # 4. The customer's 360 timeline shows the appointment and the closed care task.
    page.goto(f"/customers/{vehicle.owner_id}/")
    timeline = page.locator("#timeline")
    expect(timeline.locator("[data-kind=task]")).to_contain_text("Appointment booked")
    expect(timeline).to_contain_text("Service appointment")
