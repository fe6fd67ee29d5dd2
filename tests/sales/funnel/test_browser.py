"""The dashboard in a real browser: the charts draw, and a filter redraws them in place."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dealercrm.core.permissions import Role
from dealercrm.sales.models import LeadChannel
from dealercrm.sales.services.funnel import funnel_refresh

# The browser fixtures of tests/e2e, used here too.
from tests.e2e.conftest import allow_orm_beside_playwright, browser, chromium, page  # noqa: F401
from tests.e2e.test_customer_flow import log_in

from .conftest import at

pytestmark = pytest.mark.e2e


def test_a_manager_opens_the_funnel_and_filters_it_by_channel(
    page: Page,  # noqa: F811
    dealer,
    make_user,
    make_lead,
    tmp_path,
):
    # Given a manager whose dealer has leads from two channels, rolled up
    manager = make_user(Role.DEALER_MANAGER, username="wang.jl", language="en")
    for day in range(1, 7):
        make_lead(
            dealer,
            at(2025, 1 + day, day),
            channel=LeadChannel.REFERRAL if day % 2 else LeadChannel.DOUYIN,
            first_contacted_at=at(2025, 1 + day, day, 10, 20),
            ordered_at=at(2025, 3 + day, 1) if day % 2 else None,
        )
    funnel_refresh()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # When they open the funnel
    log_in(page, manager.username)
    page.goto("/sales/funnel/?months=36")

    # Then every chart is drawn, and the stage table counts the leads
    expect(page.locator('[data-chart="funnel"] canvas')).to_have_count(1)
    expect(page.locator('[data-chart="channels"] canvas')).to_have_count(1)
    expect(page.locator('[data-chart="months"] canvas')).to_have_count(1)
    expect(page.locator('#funnel-stages tr[data-stage="leads"] td').nth(1)).to_have_text("6")
    page.screenshot(path=str(tmp_path / "funnel.png"), full_page=True)

    # When they pick a channel, the body is swapped in place and drawn again
    with page.expect_response(re.compile(r"/sales/funnel/\?")):
        page.locator("#id_channel").select_option(LeadChannel.DOUYIN.value)
    expect(page.locator('#funnel-stages tr[data-stage="leads"] td').nth(1)).to_have_text("3")
    expect(page.locator('[data-chart="funnel"] canvas')).to_have_count(1)
    expect(page).to_have_url(re.compile(r"channel=douyin"))
    assert errors == []
