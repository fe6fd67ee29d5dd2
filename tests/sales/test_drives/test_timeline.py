"""Test drives on the customer's 360 timeline: one query, newest first, paged by `before`."""

from __future__ import annotations

import pytest
from django.utils import translation

from dealercrm.sales.selectors import test_drives as selectors
from dealercrm.sales.services import test_drives as svc
from tests.sales.factories import DemoCarFactory
from tests.sales.test_drives.conftest import at

pytestmark = pytest.mark.django_db


def test_timeline_entries_in_one_query(lead, car, dealer, consultant, django_assert_num_queries):
    other_car = DemoCarFactory(dealer=dealer, name="试驾车 2", plate="沪A22222")
    first = svc.test_drive_book(actor=consultant, lead=lead, demo_car=car, starts_at=at(10))
    svc.test_drive_book(actor=consultant, lead=lead, demo_car=other_car, starts_at=at(15))
    with translation.override("en"), django_assert_num_queries(1):
        entries = selectors.test_drive_timeline(lead.customer, limit=10, before=None)
    assert [e.kind for e in entries] == ["test_drive", "test_drive"]
    assert "试驾车 2" in entries[0].title and "Scheduled" in entries[0].title
    assert entries[0].source == "sales"
    older = selectors.test_drive_timeline(lead.customer, limit=10, before=at(12))
    assert [e.url for e in older] == [f"/sales/test-drives/{first.pk}/"]
