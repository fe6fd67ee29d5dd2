"""Reads: who sees which customer, the list filters, the timeline interface, the 360 data."""

from __future__ import annotations

import datetime

import pytest
from django.http import Http404
from django.utils import timezone

from dealercrm.core.permissions import Role
from dealercrm.customers import selectors
from dealercrm.customers.selectors import CustomerFilters
from dealercrm.customers.timeline import (
    TimelineEntry,
    customer_timeline,
    register_timeline_provider,
    timeline_providers,
    unregister_timeline_provider,
)
from tests.customers.factories import (
    CustomerFactory,
    CustomerPhoneFactory,
    CustomerTagFactory,
    InteractionFactory,
)

pytestmark = pytest.mark.django_db


def test_a_consultant_gets_only_customers_assigned_to_them(consultant, make_user, dealer):
    colleague = make_user(Role.SALES_CONSULTANT)
    mine = CustomerFactory(dealer=dealer, assigned_consultant=consultant)
    theirs = CustomerFactory(dealer=dealer, assigned_consultant=colleague)

    assert selectors.get_customer_for_user(consultant, mine.pk) == mine
    with pytest.raises(Http404):
        selectors.get_customer_for_user(consultant, theirs.pk)


def test_missing_deleted_and_other_dealers_customers_are_all_404(manager, other_dealer, dealer):
    deleted = CustomerFactory(dealer=dealer, is_deleted=True)
    foreign = CustomerFactory(dealer=other_dealer)

    for customer_id in (deleted.pk, foreign.pk, 999_999, "abc"):
        with pytest.raises(Http404):
            selectors.get_customer_for_user(manager, customer_id)


def test_an_oem_analyst_sees_every_dealer_of_the_brand(oem_analyst, dealer, other_dealer):
    first, second = CustomerFactory(dealer=dealer), CustomerFactory(dealer=other_dealer)

    assert set(selectors.visible_customers(oem_analyst)) == {first, second}


def test_the_list_filters_by_stage_consultant_tag_and_source(manager, consultant, dealer):
    owner = CustomerFactory(
        dealer=dealer,
        lifecycle_stage="owner",
        assigned_consultant=consultant,
        source_channel="referral",
    )
    CustomerTagFactory(customer=owner, tag__name="VIP")
    CustomerFactory(dealer=dealer, lifecycle_stage="prospect", source_channel="website")

    def names(**filters):
        page = selectors.customer_list(manager, CustomerFilters(**filters))
        return [c.pk for c in page.object_list]

    assert names(stage="owner") == [owner.pk]
    assert names(consultant_id=consultant.pk) == [owner.pk]
    assert names(tag="VIP") == [owner.pk]
    assert names(source="referral") == [owner.pk]
    assert len(names()) == 2


def test_filters_from_query_parameters_ignore_nonsense():
    filters = CustomerFilters.from_params({"stage": "owner", "consultant": "x", "source": "fax"})

    assert filters == CustomerFilters(stage="owner")


def test_the_list_pages_and_reads_a_page_in_a_fixed_number_of_queries(
    manager, dealer, django_assert_max_num_queries
):
    for _ in range(30):
        customer = CustomerFactory(dealer=dealer)
        CustomerPhoneFactory(customer=customer)
        CustomerTagFactory(customer=customer)

    with django_assert_max_num_queries(4):
        page = selectors.customer_list(manager, page=2, per_page=25)
        rows = [(c.name, [str(p) for p in c.phones.all()], list(c.tags.all())) for c in page]
    assert page.paginator.count == 30
    assert len(rows) == 5
    assert all("****" in phones[0] for _, phones, _ in rows)


def test_interactions_come_newest_first_and_before_pages_back(dealer):
    customer = CustomerFactory(dealer=dealer)
    now = timezone.now()
    for hours in (3, 1, 2):
        InteractionFactory(
            customer=customer, occurred_at=now - datetime.timedelta(hours=hours), body=f"{hours}h"
        )

    entries = customer_timeline(customer, limit=2)
    assert [e.body for e in entries] == ["1h", "2h"]
    older = customer_timeline(customer, limit=2, before=entries[-1].occurred_at)
    assert [e.body for e in older] == ["3h"]


def test_a_call_entry_says_outcome_and_duration(dealer, consultant):
    customer = CustomerFactory(dealer=dealer)
    InteractionFactory(
        customer=customer,
        kind="call",
        direction="out",
        outcome="no_answer",
        duration_seconds=125,
        author=consultant,
        body="",
    )

    entry = customer_timeline(customer, limit=5)[0]

    assert (entry.kind, entry.icon, entry.actor, entry.source) == (
        "call",
        "phone-call",
        str(consultant),
        "customers",
    )
    assert "2" in entry.title and "5" in entry.title


def test_other_apps_providers_are_merged_into_one_timeline(dealer):
    customer = CustomerFactory(dealer=dealer)
    now = timezone.now()
    InteractionFactory(customer=customer, occurred_at=now - datetime.timedelta(days=2), body="旧")
    InteractionFactory(customer=customer, occurred_at=now, body="新")

    def deliveries(customer, *, limit, before):
        return [
            TimelineEntry(
                occurred_at=now - datetime.timedelta(days=1),
                kind="delivery",
                icon="car",
                title="交车",
                source="sales",
            )
        ][:limit]

    register_timeline_provider(deliveries)
    register_timeline_provider(deliveries)  # registering twice adds it once
    try:
        assert timeline_providers().count(deliveries) == 1
        kinds = [e.kind for e in customer_timeline(customer, limit=10)]
        assert kinds == ["note", "delivery", "note"]
        assert len(customer_timeline(customer, limit=2)) == 2
    finally:
        unregister_timeline_provider(deliveries)


def test_360_data_has_ages_lunar_birthday_and_every_consent_channel(manager, dealer):
    customer = CustomerFactory(
        dealer=dealer,
        birthday=datetime.date(1990, 9, 20),
        lunar_birthday_month=8,
        lunar_birthday_day=15,
        children_birth_years=[2015, 2020],
    )

    data = selectors.customer_360(manager, customer.pk, today=datetime.date(2024, 9, 1))

    assert data.age == 33
    assert data.lunar_birthday == "农历八月十五"
    assert data.next_lunar_birthday == datetime.date(2024, 9, 17)
    assert data.children_ages == [9, 4]
    assert [row.channel for row in data.consents] == ["sms", "phone", "email", "wechat", "mail"]
    assert all(row.granted is None for row in data.consents)
