"""A sales consultant's everyday path, in a real browser: log in, find a customer by the last
four digits of their phone, open the 360 page, add a note, and find it again after a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, CustomerPhone, Interaction
from dealercrm.search.services import search_keys_refresh
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e


@pytest.fixture
def consultant_with_customer(make_user, dealer):
    consultant = make_user(Role.SALES_CONSULTANT, username="wang.fang", language="en")
    customer = Customer.objects.create(
        dealer=dealer, name="张伟", gender="male", assigned_consultant=consultant
    )
    CustomerPhone.objects.create(
        dealer=dealer, customer=customer, number="+8613912345678", is_primary=True
    )
    # Another customer of the same consultant whose phone does not end in 5678.
    other = Customer.objects.create(dealer=dealer, name="李娜", assigned_consultant=consultant)
    CustomerPhone.objects.create(dealer=dealer, customer=other, number="+8613700001111")
    search_keys_refresh(dealer_id=dealer.pk, customer_ids=[customer.pk, other.pk])
    return consultant, customer


def log_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login/"))


def test_consultant_finds_a_customer_by_phone_tail_and_adds_a_note(
    page: Page, consultant_with_customer
):
    consultant, customer = consultant_with_customer

    # Given a sales consultant signed in through the login page …
    log_in(page, consultant.username)

    # … when they type the last four digits of the customer's phone into the navbar search …
    search = page.get_by_role("searchbox").first
    search.click()
    search.press_sequentially("5678", delay=50)

    # … then the customer is suggested as they type, and the other customer is not.
    suggestions = page.get_by_role("listbox")
    suggestion = suggestions.get_by_role("option", name=re.compile(customer.name))
    expect(suggestion).to_be_visible()
    expect(suggestion).to_contain_text("139****5678")  # masked, as everywhere in lists
    expect(suggestions.get_by_role("option", name=re.compile("李娜"))).to_have_count(0)

    # When they open the suggestion, then the customer's 360 page shows them.
    suggestion.click()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))
    expect(page.get_by_role("heading", name=re.compile(customer.name)).first).to_be_visible()

    # When they add a note from the page …
    note = "客户周六上午来店试驾 Model Y，带两个孩子"
    page.get_by_label("Note", exact=True).fill(note)
    page.get_by_role("button", name="Add note").click()

    # … then it appears in the timeline without leaving the page …
    expect(page.get_by_text(note)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/customers/{customer.pk}/$"))

    # … it is still there after a reload, and it was saved once, by them.
    page.reload()
    expect(page.get_by_text(note)).to_be_visible()
    saved = Interaction.objects.filter(customer=customer, body=note)
    assert saved.count() == 1
    assert saved.get().author_id == consultant.pk
    assert saved.get().kind == Interaction.Kind.NOTE
