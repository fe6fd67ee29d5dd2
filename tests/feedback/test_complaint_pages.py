"""The complaint pages (intake): the list and one complaint, scoped to the dealer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.feedback.models import Complaint, ComplaintChannel
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _complaint(dealer, text, **fields):  # noqa: ANN001, ANN003, ANN202
    return Complaint.objects.create(
        dealer=dealer,
        customer=CustomerFactory(dealer=dealer, name=f"{text}的客户"),
        channel=fields.pop("channel", ComplaintChannel.PHONE),
        description=text,
        **fields,
    )


def test_the_list_shows_this_dealers_complaints_only(
    client_for, make_user, dealer, other_dealer, django_assert_max_num_queries
):
    _complaint(dealer, "等待时间太长")
    _complaint(dealer, "保养后异响", channel=ComplaintChannel.CARE_TASK)
    _complaint(other_dealer, "别家的投诉")
    client = client_for(make_user(Role.CARE_SPECIALIST, language="en"))

    with django_assert_max_num_queries(10):
        body = client.get(reverse("feedback:complaint_list")).content.decode()

    assert "等待时间太长" in body and "保养后异响" in body
    assert "别家的投诉" not in body
    care_only = client.get(reverse("feedback:complaint_list"), {"channel": "care_task"})
    assert "保养后异响" in care_only.content.decode()
    assert "等待时间太长" not in care_only.content.decode()


def test_the_detail_shows_the_complaint_and_another_dealers_answers_404(
    client_for, make_user, dealer, other_dealer
):
    mine = _complaint(dealer, "销售态度差", source_kind="care.occurrence", source_id="12")
    theirs = _complaint(other_dealer, "别家的投诉")
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))

    page = client.get(reverse("feedback:complaint", args=[mine.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "销售态度差" in body and "the care call" in body
    assert client.get(reverse("feedback:complaint", args=[theirs.pk])).status_code == 404


def test_the_oem_sees_the_brands_complaints_and_a_consultant_none(
    client_for, make_user, dealer, other_dealer, oem_analyst
):
    _complaint(dealer, "浦东的投诉")
    _complaint(other_dealer, "朝阳的投诉")

    body = client_for(oem_analyst).get(reverse("feedback:complaint_list")).content.decode()
    assert "浦东的投诉" in body and "朝阳的投诉" in body

    consultant = make_user(Role.SALES_CONSULTANT)
    assert client_for(consultant).get(reverse("feedback:complaint_list")).status_code == 403
