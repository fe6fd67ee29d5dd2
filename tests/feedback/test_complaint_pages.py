"""The complaint pages: the list (filters, timers, the OEM's view of its dealers), one complaint
with its handling panels by status and permission, the panels' posts (HTMX), and intake."""

from __future__ import annotations

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, CustomerPhone
from dealercrm.feedback.models import (
    Complaint,
    ComplaintChannel,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintStatus,
)
from tests.core.factories import BrandFactory, DealerFactory
from tests.customers.factories import CustomerFactory
from tests.feedback.factories import ComplaintFactory

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 3, 10, 2, 0, tzinfo=datetime.UTC)


def _complaint(dealer, text, **fields):  # noqa: ANN001, ANN003, ANN202
    customer = fields.pop("customer", None) or CustomerFactory(dealer=dealer, name=f"{text}的客户")
    return ComplaintFactory(
        dealer=dealer,
        customer=customer,
        channel=fields.pop("channel", ComplaintChannel.PHONE),
        description=text,
        **fields,
    )


def _body(response) -> str:  # noqa: ANN001
    return response.content.decode()


def test_the_list_shows_this_dealers_complaints_only(
    client_for, make_user, dealer, other_dealer, django_assert_max_num_queries
):
    for n in range(3):
        _complaint(dealer, f"等待时间太长{n}")
    _complaint(dealer, "保养后异响", channel=ComplaintChannel.CARE_TASK)
    _complaint(other_dealer, "别家的投诉")
    client = client_for(make_user(Role.CARE_SPECIALIST, language="en"))

    with django_assert_max_num_queries(12):
        body = _body(client.get(reverse("feedback:complaint_list")))

    assert "等待时间太长0" in body and "保养后异响" in body
    assert "别家的投诉" not in body
    assert 'data-sla-clock="response"' in body  # every row shows its timer
    care_only = _body(client.get(reverse("feedback:complaint_list"), {"channel": "care_task"}))
    assert "保养后异响" in care_only and "等待时间太长0" not in care_only


def test_the_list_filters_by_category_severity_status_handler_escalation_and_search(
    client_for, make_user, dealer
):
    me = make_user(Role.CARE_SPECIALIST, language="en")
    _complaint(dealer, "价格太贵", category="price", severity="low")
    _complaint(dealer, "态度差", category="staff_attitude", severity="high", handler=me)
    _complaint(dealer, "已升级", escalation_level=1, status=ComplaintStatus.IN_PROGRESS)
    _complaint(dealer, "已关闭", status=ComplaintStatus.CLOSED, oem_reference="HL-77")
    client = client_for(me)
    url = reverse("feedback:complaint_list")

    def shown(**params) -> set[str]:  # noqa: ANN003
        body = _body(client.get(url, params))
        return {t for t in ("价格太贵", "态度差", "已升级", "已关闭") if t in body}

    assert shown(category="price") == {"价格太贵"}
    assert shown(severity="high") == {"态度差"}
    assert shown(status="closed") == {"已关闭"}
    assert shown(handler="mine") == {"态度差"}
    assert shown(escalated="1") == {"已升级"}
    assert shown(q="HL-77") == {"已关闭"}
    assert shown(q="态度") == {"态度差"}


def test_the_overdue_filter_shows_breached_clocks(client_for, make_user, dealer):
    with time_machine.travel(T0, tick=False):
        _complaint(dealer, "没人回应")  # first response due T0 + 30 min
        _complaint(
            dealer,
            "回应了但未解决",
            status=ComplaintStatus.IN_PROGRESS,
            first_response_at=T0 + datetime.timedelta(minutes=5),
        )
    client = client_for(make_user(Role.CARE_SPECIALIST, language="en"))
    url = reverse("feedback:complaint_list")

    with time_machine.travel(T0 + datetime.timedelta(hours=1), tick=False):
        body = _body(client.get(url, {"overdue": "1"}))
    assert "没人回应" in body and "回应了但未解决" not in body

    with time_machine.travel(T0 + datetime.timedelta(hours=25), tick=False):
        body = _body(client.get(url, {"overdue": "1"}))
    assert "没人回应" in body and "回应了但未解决" in body


def test_the_oem_sees_the_brands_complaints_with_the_dealer(
    client_for, make_user, dealer, other_dealer, oem_analyst
):
    _complaint(dealer, "浦东的投诉")
    _complaint(other_dealer, "朝阳的投诉")
    foreign = DealerFactory(brand=BrandFactory(code="nova", name="新星汽车"), name="新星店")
    _complaint(foreign, "别的品牌的投诉")

    body = _body(client_for(oem_analyst).get(reverse("feedback:complaint_list")))
    assert "浦东的投诉" in body and "朝阳的投诉" in body
    assert "别的品牌的投诉" not in body
    assert "data-dealer" in body and other_dealer.name in body


def test_a_consultant_sees_the_complaints_of_their_own_customers(client_for, make_user, dealer):
    consultant = make_user(Role.SALES_CONSULTANT)
    mine = _complaint(
        dealer,
        "我的客户投诉",
        customer=CustomerFactory(dealer=dealer, assigned_consultant=consultant),
    )
    theirs = _complaint(dealer, "别人客户的投诉")
    client = client_for(consultant)

    body = _body(client.get(reverse("feedback:complaint_list")))
    assert "我的客户投诉" in body and "别人客户的投诉" not in body
    assert client.get(reverse("feedback:complaint", args=[mine.pk])).status_code == 200
    assert client.get(reverse("feedback:complaint", args=[theirs.pk])).status_code == 404


# --- one complaint ------------------------------------------------------------------------------


def test_the_detail_shows_the_complaint_and_another_dealers_answers_404(
    client_for, make_user, dealer, other_dealer, django_assert_max_num_queries
):
    mine = _complaint(dealer, "销售态度差", source_kind="care.occurrence", source_id="12")
    theirs = _complaint(other_dealer, "别家的投诉")
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))

    with django_assert_max_num_queries(14):
        page = client.get(reverse("feedback:complaint", args=[mine.pk]))
    assert page.status_code == 200
    body = _body(page)
    assert "销售态度差" in body and "the care call" in body
    assert client.get(reverse("feedback:complaint", args=[theirs.pk])).status_code == 404


def test_the_panels_follow_the_status_and_the_permission(
    client_for, make_user, dealer, oem_analyst
):
    complaint = _complaint(dealer, "保养后异响")
    url = reverse("feedback:complaint", args=[complaint.pk])
    specialist = client_for(make_user(Role.CARE_SPECIALIST))

    body = _body(specialist.get(url))
    for panel in ("contact", "solution", "analysis", "assign"):
        assert f'data-panel="{panel}"' in body
    assert 'data-panel="follow_up"' not in body

    Complaint.objects.filter(pk=complaint.pk).update(status=ComplaintStatus.SOLVED)
    body = _body(specialist.get(url))
    assert 'data-panel="follow_up"' in body and 'data-panel="solution"' not in body

    # The brand reads the complaint but does not handle it
    body = _body(client_for(oem_analyst).get(url))
    assert "data-panel=" not in body

    Complaint.objects.filter(pk=complaint.pk).update(status=ComplaintStatus.CLOSED)
    body = _body(client_for(make_user(Role.DEALER_MANAGER)).get(url))
    assert "data-panel=" not in body


def test_the_phone_is_masked_and_revealing_it_is_audited(
    client_for, make_user, dealer, oem_analyst
):
    complaint = _complaint(dealer, "投诉")
    CustomerPhone.objects.create(
        dealer=dealer, customer=complaint.customer, number="+8613812341234", is_primary=True
    )
    url = reverse("feedback:complaint", args=[complaint.pk])
    specialist = make_user(Role.CARE_SPECIALIST)

    body = _body(client_for(oem_analyst).get(url))
    assert "138****1234" in body and "13812341234" not in body
    assert client_for(oem_analyst).post(url, {"reveal": "1"}).status_code == 403

    client = client_for(specialist)
    assert "13812341234" not in _body(client.get(url))
    revealed = client.post(url, {"reveal": "1"}, HTTP_HX_REQUEST="true")
    assert "+8613812341234" in _body(revealed)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.UNMASK, actor=specialist).exists()


def test_logging_a_contact_answers_the_handling_block_with_the_new_steps(
    client_for, make_user, dealer
):
    complaint = _complaint(dealer, "投诉")
    client = client_for(make_user(Role.CARE_SPECIALIST, language="en"))

    response = client.post(
        reverse("feedback:complaint_contact", args=[complaint.pk]),
        {"channel": "phone", "note": "已致电客户", "version": complaint.version},
        HTTP_HX_REQUEST="true",
    )

    body = _body(response)
    assert response.status_code == 200
    assert 'id="complaint-handling"' in body and "<html" not in body
    assert 'data-step="responded"' in body and "已致电客户" in body
    assert 'data-status="in_progress"' in body


def test_a_stale_form_is_told_to_reload_and_nothing_is_saved(client_for, make_user, dealer):
    complaint = _complaint(dealer, "投诉")
    client = client_for(make_user(Role.CARE_SPECIALIST, language="en"))
    Complaint.objects.filter(pk=complaint.pk).update(version=5)  # someone saved meanwhile

    response = client.post(
        reverse("feedback:complaint_analysis", args=[complaint.pk]),
        {"root_cause": "process", "corrective_action": "培训", "version": 1},
        HTTP_HX_REQUEST="true",
    )

    assert "Someone else changed this complaint" in _body(response)
    complaint.refresh_from_db()
    assert complaint.root_cause == "" and complaint.version == 5


def test_closing_by_the_page_without_a_solution_is_refused(client_for, make_user, dealer):
    complaint = _complaint(dealer, "投诉", status=ComplaintStatus.IN_PROGRESS)
    client = client_for(make_user(Role.DEALER_MANAGER, language="en"))

    response = client.post(
        reverse("feedback:complaint_follow_up", args=[complaint.pk]),
        {"satisfied": "yes", "version": complaint.version},
    )

    assert response.status_code == 400
    assert "A complaint closes only after the follow-up with the customer" in _body(response)
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.IN_PROGRESS
    assert not ComplaintEvent.objects.filter(complaint=complaint).exists()


def test_the_follow_up_by_the_page_closes_a_solved_complaint(client_for, make_user, dealer):
    complaint = _complaint(
        dealer, "投诉", status=ComplaintStatus.SOLVED, root_cause="process", solution="更换"
    )
    client = client_for(make_user(Role.DEALER_MANAGER))
    response = client.post(
        reverse("feedback:complaint_follow_up", args=[complaint.pk]),
        {"satisfied": "yes", "note": "满意", "version": complaint.version},
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.CLOSED


def test_a_handling_post_for_another_dealers_complaint_answers_404(
    client_for, make_user, other_dealer
):
    theirs = _complaint(other_dealer, "别家的投诉")
    client = client_for(make_user(Role.CARE_SPECIALIST))
    response = client.post(
        reverse("feedback:complaint_contact", args=[theirs.pk]),
        {"channel": "phone", "note": "x"},
    )
    assert response.status_code == 404
    assert not ComplaintEvent.objects.exists()


# --- intake -------------------------------------------------------------------------------------


def test_dealer_staff_record_a_complaint_for_a_preselected_customer(client_for, make_user, dealer):
    customer = CustomerFactory(dealer=dealer, name="陈先生")
    client = client_for(make_user(Role.SERVICE_ADVISOR, language="en"))
    url = reverse("feedback:complaint_create")

    page = client.get(url, {"customer": customer.pk})
    assert page.status_code == 200 and f'data-chosen-customer="{customer.pk}"' in _body(page)

    response = client.post(
        url,
        {
            "customer_id": customer.pk,
            "channel": "walk_in",
            "category": "waiting_time",
            "severity": "high",
            "description": "等了三个小时",
        },
    )
    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("feedback:complaint", args=[complaint.pk])
    assert complaint.channel == "walk_in" and complaint.customer_id == customer.pk


def test_the_create_page_names_the_missing_fields(client_for, make_user, dealer):
    client = client_for(make_user(Role.SERVICE_ADVISOR, language="en"))
    response = client.post(
        reverse("feedback:complaint_create"),
        {"channel": "phone", "category": "price", "severity": "low", "description": "太贵"},
    )
    assert response.status_code == 400
    body = _body(response)
    assert "data-customer-error" in body
    assert not Complaint.objects.exists()


def test_the_hotline_records_a_complaint_for_a_dealer_of_the_brand(
    client_for, make_user, dealer, other_dealer
):
    oem = make_user(Role.OEM_ADMIN, language="en")
    customer = CustomerFactory(dealer=other_dealer, name="周女士")
    client = client_for(oem)
    url = reverse("feedback:complaint_create")

    page = client.get(url, {"dealer": other_dealer.pk})
    assert page.status_code == 200 and "Brand case number" in _body(page)

    response = client.post(
        url,
        {
            "dealer": other_dealer.pk,
            "customer_id": customer.pk,
            "category": "product_quality",
            "severity": "high",
            "description": "发动机故障灯常亮",
            "oem_reference": "HL-9",
        },
    )
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.dealer_id == other_dealer.pk
    assert complaint.channel == ComplaintChannel.OEM_HOTLINE
    assert ComplaintEvent.objects.filter(
        complaint=complaint, kind=ComplaintEventKind.ROUTED
    ).exists()


def test_the_hotline_cannot_pick_a_dealer_of_another_brand(client_for, make_user):
    foreign = DealerFactory(brand=BrandFactory(code="nova", name="新星汽车"), name="新星店")
    client = client_for(make_user(Role.OEM_ADMIN))
    assert (
        client.get(reverse("feedback:complaint_create"), {"dealer": foreign.pk}).status_code == 404
    )


# --- the customer 360 page ----------------------------------------------------------------------


@pytest.mark.usefixtures("english")
def test_the_timeline_says_how_each_complaint_ended_in_one_query(dealer, django_assert_num_queries):
    from dealercrm.feedback.timeline import complaint_timeline

    customer = CustomerFactory(dealer=dealer)
    _complaint(
        dealer,
        "已满意",
        customer=customer,
        category="price",
        status=ComplaintStatus.CLOSED,
        follow_up_satisfied=True,
        created_at=T0,
    )
    _complaint(
        dealer,
        "重开过",
        customer=customer,
        status=ComplaintStatus.IN_PROGRESS,
        reopen_count=1,
        created_at=T0 + datetime.timedelta(hours=1),
    )

    with django_assert_num_queries(1):
        entries = complaint_timeline(customer, limit=20, before=None)

    reopened, closed = entries
    assert "closed, customer satisfied" in closed.title and "Price" in closed.title
    assert "reopened 1 time" in reopened.title
    assert closed.url == reverse(
        "feedback:complaint", args=[Complaint.objects.get(description="已满意").pk]
    )


def test_the_360_page_links_to_recording_a_complaint(client_for, make_user, dealer):
    customer = CustomerFactory(dealer=dealer)
    body = _body(
        client_for(make_user(Role.CARE_SPECIALIST)).get(
            reverse("customers:detail", args=[customer.pk])
        )
    )
    assert f"{reverse('feedback:complaint_create')}?customer={customer.pk}" in body


def test_the_list_query_count_does_not_grow_with_the_rows(
    client_for, make_user, dealer, django_assert_max_num_queries
):
    client = client_for(make_user(Role.CARE_SPECIALIST))
    handler = make_user(Role.CARE_SPECIALIST)
    _complaint(dealer, "一条", handler=handler)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("feedback:complaint_list"))
    for n in range(15):
        _complaint(dealer, f"多条{n}", handler=handler, escalation_level=n % 3)
    with django_assert_max_num_queries(12) as many:
        client.get(reverse("feedback:complaint_list"))
    assert len(many.captured_queries) == len(few.captured_queries)


def test_an_htmx_filter_answers_the_results_only(client_for, make_user, dealer):
    _complaint(dealer, "价格太贵", category="price")
    client = client_for(make_user(Role.CARE_SPECIALIST))
    response = client.get(
        reverse("feedback:complaint_list"),
        {"category": "price"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="complaint-results",
    )
    body = _body(response)
    assert 'id="complaint-results"' in body and "<html" not in body and "价格太贵" in body


def test_the_hotline_finds_the_customer_among_the_chosen_dealers(
    client_for, make_user, dealer, other_dealer
):
    from dealercrm.customers.services import customer_create

    for where in (dealer, other_dealer):
        customer_create(actor=None, dealer_id=where.pk, name="欧阳娜娜", phones=["13900001111"])
    client = client_for(make_user(Role.OEM_ADMIN))

    response = client.get(
        reverse("feedback:complaint_create"),
        {"dealer": other_dealer.pk, "customer_q": "欧阳"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="customer-hits",
    )

    body = _body(response)
    hits = [int(v) for v in re.findall(r'data-hit="(\d+)"', body)]
    assert hits == list(
        Customer.objects.filter(dealer=other_dealer, name="欧阳娜娜").values_list("pk", flat=True)
    )
    assert "139****1111" in body


def test_the_detail_links_the_related_records(client_for, make_user, dealer):
    from tests.sales.factories import LeadFactory, OrderFactory
    from tests.service.factories import RepairOrderFactory

    advisor = make_user(Role.SERVICE_ADVISOR)
    repair_order = RepairOrderFactory(vehicle__dealer=dealer, advisor=advisor)
    order = OrderFactory(lead=LeadFactory(dealer=dealer, customer=repair_order.customer))
    complaint = _complaint(
        dealer,
        "返修",
        customer=repair_order.customer,
        vehicle=repair_order.vehicle,
        repair_order=repair_order,
        order=order,
        staff=advisor,
    )

    body = _body(
        client_for(make_user(Role.DEALER_MANAGER)).get(
            reverse("feedback:complaint", args=[complaint.pk])
        )
    )

    assert reverse("vehicles:detail", args=[repair_order.vehicle_id]) in body
    assert reverse("service:repair_order_detail", args=[repair_order.pk]) in body
    assert reverse("sales:order", args=[order.pk]) in body
    assert str(advisor) in body
