"""The order pages: the list with the delay-notice rate, a new order from a lead, an order's page,
delivery, and the customer's tracking link (which shows that order's progress and nothing else)."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.customers.models import Customer, LifecycleStage
from dealercrm.sales.models import Order
from dealercrm.sales.services import orders as services
from dealercrm.vehicles.models import Vehicle
from dealercrm.worklist.models import Task
from tests.customers.factories import CustomerPhoneFactory
from tests.sales.factories import LeadFactory, OrderFactory, QuoteFactory
from tests.vehicles.factories import VehicleFactory, make_vin

from .conftest import TODAY

pytestmark = pytest.mark.django_db


def _order(lead, actor, **kwargs):
    values = {
        "actor": actor,
        "lead": lead,
        "car_model": lead.car_model,
        "price": Decimal("199800"),
        "deposit": Decimal("5000"),
        "promised_delivery_on": TODAY + datetime.timedelta(days=30),
        "colour": "珍珠白",
    }
    values.update(kwargs)
    return services.order_create(**values)


def _delay(order, actor, days=10):
    return services.order_milestone_set(
        actor=actor,
        order=order,
        stage="delivered",
        expected_on=order.promised_delivery_on + datetime.timedelta(days=days),
    )


# --- the list -------------------------------------------------------------------------------


def test_order_list_shows_the_dealers_delay_notice_rate_beside_the_documents_figure(
    client_for, manager, consultant, dealer, car_model, lead, frozen, django_assert_max_num_queries
):
    told = _delay(_order(lead, consultant), consultant)
    services.order_customer_told(actor=consultant, order=told)
    for _n in range(3):
        other = LeadFactory(dealer=dealer, consultant=consultant, car_model=car_model)
        _delay(_order(other, consultant, promised_delivery_on=TODAY), consultant)
    # The next day those three promises are broken untold.
    frozen.shift(datetime.timedelta(days=1))
    client = client_for(manager)

    with django_assert_max_num_queries(8):
        response = client.get(reverse("sales:orders"))

    html = response.content.decode()
    assert response.status_code == 200
    # 1 of 4 delayed told in time: 25.0% against the documents' 47.1%.
    assert re.search(r"data-rate>\s*25\.0%", html)
    assert re.search(r"data-documents-rate>\s*47\.1%", html)
    assert html.count("data-order=") == 4


def test_order_list_query_count_does_not_grow_with_the_orders(
    client_for, manager, dealer, car_model, django_assert_max_num_queries
):
    for _n in range(20):
        OrderFactory(lead__dealer=dealer, lead__car_model=car_model)
    client = client_for(manager)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("sales:orders"))
    assert response.content.decode().count("data-order=") == 20


def test_order_list_filters_delayed_orders_whose_customer_was_not_told(
    client_for, manager, consultant, dealer, car_model, lead
):
    told = _delay(_order(lead, consultant), consultant)
    services.order_customer_told(actor=consultant, order=told)
    untold = _delay(
        _order(LeadFactory(dealer=dealer, consultant=consultant, car_model=car_model), consultant),
        consultant,
    )
    _order(LeadFactory(dealer=dealer, consultant=consultant, car_model=car_model), consultant)

    html = client_for(manager).get(reverse("sales:orders"), {"not_told": "1"}).content.decode()

    assert re.findall(r'data-order="([^"]+)"', html) == [untold.number]


def test_a_consultant_sees_only_the_orders_of_their_own_leads(
    client_for, consultant, make_user, dealer, car_model, lead
):
    mine = _order(lead, consultant)
    colleague = make_user(Role.SALES_CONSULTANT)
    theirs = _order(
        LeadFactory(dealer=dealer, consultant=colleague, car_model=car_model), colleague
    )
    client = client_for(consultant)
    html = client.get(reverse("sales:orders")).content.decode()
    assert re.findall(r'data-order="([^"]+)"', html) == [mine.number]
    assert client.get(reverse("sales:order", args=[theirs.pk])).status_code == 404


# --- create ---------------------------------------------------------------------------------


def test_new_order_page_takes_model_and_price_from_the_current_quote(client_for, consultant, lead):
    QuoteFactory(lead=lead, vehicle_price=Decimal("209800.00"), discount=Decimal("9800.00"))
    response = client_for(consultant).get(reverse("sales:order_create", args=[lead.pk]))
    assert response.status_code == 200
    assert 'value="200000.00"' in response.content.decode()


def test_posting_the_new_order_form_creates_the_order_and_opens_it(client_for, consultant, lead):
    response = client_for(consultant).post(
        reverse("sales:order_create", args=[lead.pk]),
        {
            "car_model": lead.car_model_id,
            "price": "199800",
            "deposit": "5000",
            "promised_delivery_on": (TODAY + datetime.timedelta(days=30)).isoformat(),
            "colour": "珍珠白",
        },
    )
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("sales:order", args=[order.pk])
    assert Customer.objects.get(pk=lead.customer_id).lifecycle_stage == LifecycleStage.IN_ORDER


def test_new_order_for_a_sold_vehicle_shows_why_and_saves_nothing(
    client_for, consultant, lead, dealer
):
    sold = VehicleFactory(dealer=dealer)
    response = client_for(consultant).post(
        reverse("sales:order_create", args=[lead.pk]),
        {
            "car_model": lead.car_model_id,
            "price": "199800",
            "deposit": "300000",
            "promised_delivery_on": (TODAY + datetime.timedelta(days=30)).isoformat(),
            "vin": sold.vin,
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {"vin", "deposit"}
    assert not Order.objects.exists()


# --- one order ------------------------------------------------------------------------------


def test_order_page_shows_expected_versus_reached_and_the_tracking_link(
    client_for, consultant, lead, django_assert_max_num_queries
):
    order = _order(lead, consultant)
    client = client_for(consultant)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("sales:order", args=[order.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("data-stage=") == 7
    assert order.tracking_token in html


def test_changing_dates_by_htmx_answers_the_progress_card_or_reloads_on_a_new_delay(
    client_for, consultant, lead
):
    order = _order(lead, consultant)
    late = order.promised_delivery_on + datetime.timedelta(days=7)
    response = client_for(consultant).post(
        reverse("sales:order_milestone", args=[order.pk]),
        {"stage": "delivered", "expected_on": late.isoformat()},
        headers={"HX-Request": "true"},
    )
    # The order became late: the whole page reloads to show the delay card.
    assert response.status_code == 204
    assert response["HX-Refresh"] == "true"
    order.refresh_from_db()
    assert order.expected_delivery_on == late
    assert order.delay_detected_at is not None
    # A change that keeps it on time answers the progress card alone.
    response = client_for(consultant).post(
        reverse("sales:order_milestone", args=[order.pk]),
        {"stage": "in_production", "reached_on": TODAY.isoformat()},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="order-progress"' in html
    assert "<html" not in html


def test_recording_the_customer_told_on_the_order_page(client_for, consultant, lead):
    order = _delay(_order(lead, consultant), consultant)
    response = client_for(consultant).post(reverse("sales:order_told", args=[order.pk]), {})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.told_in_time is True
    assert Task.objects.get(source_id=f"{order.pk}:delay").status == "done"


def test_sending_the_delay_message_from_the_order_page(client_for, consultant, lead):
    order = _delay(_order(lead, consultant), consultant)
    response = client_for(consultant).post(
        reverse("sales:order_delay_message", args=[order.pk]),
        {"channel": "sms", "body": services.default_delay_message(order)},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.customer_told_at is not None


def test_delivery_page_delivers_and_the_follow_up_call_is_planned(
    client_for, consultant, lead, frozen
):
    order = _order(lead, consultant)
    client = client_for(consultant)
    assert client.get(reverse("sales:order_deliver", args=[order.pk])).status_code == 200
    vin = make_vin(777)
    response = client.post(
        reverse("sales:order_deliver", args=[order.pk]),
        {"vin": vin, "plate": "沪A88888", "delivered_on": TODAY.isoformat()},
    )
    assert response.status_code == 302
    assert Vehicle.objects.get(vin=vin).owner_id == lead.customer_id
    assert Task.objects.filter(
        source_id=f"{order.pk}:followup", assignee=consultant, kind="follow_up"
    ).exists()


def test_delivery_form_shows_the_vehicles_refusal(client_for, consultant, lead, dealer):
    order = _order(lead, consultant)
    theirs = VehicleFactory(dealer=dealer)
    response = client_for(consultant).post(
        reverse("sales:order_deliver", args=[order.pk]),
        {"vin": theirs.vin, "delivered_on": TODAY.isoformat()},
    )
    assert response.status_code == 200
    assert "vin" in response.context["form"].errors
    assert Order.objects.get(pk=order.pk).stage == "ordered"


def test_lead_section_lists_the_leads_orders_with_a_new_order_button(consultant, lead):
    order = _order(lead, consultant)
    request = RequestFactory().get("/")
    request.user = consultant
    from django.contrib.auth.context_processors import PermWrapper

    html = render_to_string(
        "sales/orders/_lead_section.html",
        {"lead": lead, "perms": PermWrapper(consultant)},
        request=request,
    )
    assert f'data-order="{order.number}"' in html
    assert reverse("sales:order_create", args=[lead.pk]) in html


# --- the customer's tracking page -----------------------------------------------------------


def test_tracking_link_shows_this_orders_progress_and_nothing_else(
    client, consultant, lead, dealer, car_model
):
    dealer.phone = "021-58881234"
    dealer.save(update_fields=["phone"])
    consultant.display_name = "王顾问"
    consultant.save(update_fields=["display_name"])
    order = _order(lead, consultant, price=Decimal("187654.32"), deposit=Decimal("5432.10"))
    # Another order of the same customer, and another customer's order at the dealer.
    second = _order(
        LeadFactory(
            dealer=dealer, consultant=consultant, car_model=car_model, customer=lead.customer
        ),
        consultant,
    )
    CustomerPhoneFactory(customer=second.customer, number="+8613987654321", is_primary=False)

    response = client.get(reverse("sales_public:tracking", args=[order.tracking_token]))

    html = response.content.decode()
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert "noindex" in response["X-Robots-Tag"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert car_model.series in html and "珍珠白" in html
    assert "王顾问" in html and "021-58881234" in html and dealer.name in html
    assert html.count("data-stage=") == 7
    # Never the customer's phone (in any form), name, price, deposit or other orders.
    for secret in ("13912345678", "5678", "13987654321", "187654", "187,654", "5432"):
        assert secret not in html
    assert lead.customer.name not in html
    assert second.number not in html and second.tracking_token not in html


def test_unknown_or_guessed_tracking_links_answer_404(client, consultant, lead):
    order = _order(lead, consultant)
    token = order.tracking_token
    for guess in (
        token[:-1] + ("A" if token[-1] != "A" else "B"),
        token[:20],
        "x" * 43,
        str(order.pk),
    ):
        response = client.get(reverse("sales_public:tracking", args=[guess]))
        assert response.status_code == 404
        assert response["Cache-Control"] == "no-store"
        assert order.number not in response.content.decode()


def test_cancelled_order_has_no_tracking_page(client, consultant, lead):
    order = _order(lead, consultant)
    services.order_cancel(actor=consultant, order=order, reason="客户取消")
    response = client.get(reverse("sales_public:tracking", args=[order.tracking_token]))
    assert response.status_code == 404
