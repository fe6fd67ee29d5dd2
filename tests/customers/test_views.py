"""Customer pages: list, create, edit, the 360 page and its HTMX parts."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.customers import services
from dealercrm.customers.models import Customer, Interaction
from dealercrm.customers.selectors import TIMELINE_PAGE
from dealercrm.vehicles.models import CarModel, Vehicle
from tests.customers.factories import (
    CustomerFactory,
    CustomerPhoneFactory,
    InteractionFactory,
    valid_id_number,
)

pytestmark = pytest.mark.django_db

MARKUP = '<script>alert("x")</script>'


@pytest.fixture
def customer(dealer, consultant):
    customer = CustomerFactory(
        dealer=dealer, assigned_consultant=consultant, name="张三", id_number=valid_id_number(1)
    )
    CustomerPhoneFactory(customer=customer, number="+8613812341234")
    return customer


def _form(**overrides):
    data = {
        "kind": "person",
        "name": "李四",
        "gender": "unknown",
        "phones": ["13912345678"],
        "source_channel": "walk_in",
        "lifecycle_stage": "prospect",
        "consent_sms": "on",
        "consent_source": "展厅",
    }
    data.update(overrides)
    return data


# --- access ------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(client, customer):
    response = client.get(reverse("customers:detail", args=[customer.pk]))

    assert response.status_code == 302
    assert reverse("core:login") in response["Location"]


def test_another_dealers_customer_is_404_on_every_page(
    client_for, make_user, other_dealer, customer
):
    stranger = make_user(Role.DEALER_MANAGER, dealer_=other_dealer)
    client = client_for(stranger)

    for name in ("detail", "edit", "timeline", "note_add", "call_add", "reveal", "consent", "tags"):
        assert client.get(reverse(f"customers:{name}", args=[customer.pk])).status_code == 404, name
    assert (
        client.post(reverse("customers:note_add", args=[customer.pk]), {"body": "x"}).status_code
        == 404
    )
    assert not Interaction.objects.exists()


def test_a_consultant_sees_only_their_own_customers(client_for, make_user, customer, dealer):
    colleague = make_user(Role.SALES_CONSULTANT)
    theirs = CustomerFactory(dealer=dealer, assigned_consultant=colleague, name="王五")
    client = client_for(customer.assigned_consultant)

    listing = client.get(reverse("customers:list")).content.decode()
    assert "张三" in listing and "王五" not in listing
    assert client.get(reverse("customers:detail", args=[theirs.pk])).status_code == 404


def test_a_dealer_admin_may_not_open_customers(client_for, make_user, customer):
    client = client_for(make_user(Role.DEALER_ADMIN))

    assert client.get(reverse("customers:list")).status_code == 403
    assert client.post(reverse("customers:reveal", args=[customer.pk])).status_code == 403


# --- list --------------------------------------------------------------------------------------


def test_the_list_masks_phones_and_escapes_names(client_for, manager, dealer, customer):
    CustomerFactory(dealer=dealer, name=MARKUP)

    html = client_for(manager).get(reverse("customers:list")).content.decode()

    assert "138****1234" in html
    assert "13812341234" not in html
    assert MARKUP not in html
    assert "&lt;script&gt;" in html


def test_the_list_filters_and_an_htmx_request_gets_only_the_results(client_for, manager, dealer):
    CustomerFactory(dealer=dealer, name="车主甲", lifecycle_stage="owner")
    CustomerFactory(dealer=dealer, name="潜客乙", lifecycle_stage="prospect")

    response = client_for(manager).get(
        reverse("customers:list"), {"stage": "owner"}, headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert "车主甲" in html and "潜客乙" not in html
    assert "<html" not in html
    assert 'id="customer-results"' in html


def test_the_list_paginates(client_for, manager, dealer, django_assert_max_num_queries):
    for n in range(30):
        CustomerPhoneFactory(customer=CustomerFactory(dealer=dealer, name=f"客户{n:02d}"))
    client = client_for(manager)

    with django_assert_max_num_queries(12):
        first = client.get(reverse("customers:list"))
    second = client.get(reverse("customers:list"), {"page": 2})

    assert first.context["page"].paginator.count == 30
    assert len(first.context["customers"]) == 25
    assert len(second.context["customers"]) == 5


# --- create ------------------------------------------------------------------------------------


def test_creating_a_customer_saves_it_and_opens_the_360_page(client_for, consultant):
    response = client_for(consultant).post(
        reverse("customers:create"),
        _form(
            phones=["139 1234 5678", "021 6888 1234"],
            tags="VIP, 车友会",
            children_birth_years="2015, 2019",
        ),
    )

    customer = Customer.objects.get(name="李四")
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[customer.pk])
    assert list(customer.phones.order_by("-is_primary", "id").values_list("number", flat=True)) == [
        "+8613912345678",
        "+862168881234",
    ]
    assert customer.children_birth_years == [2015, 2019]
    assert customer.created_by == consultant
    assert customer.consents.get(channel="sms").granted is True


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"phones": ["1391234567"]}, "phones", "1391234567"),
        ({"id_number": "110105194912310021"}, "id_number", ""),
        ({"id_number": "1101051949"}, "id_number", "18"),
    ],
)
def test_an_invalid_phone_or_id_number_is_shown_on_its_field_and_nothing_is_saved(
    client_for, consultant, overrides, field, words
):
    response = client_for(consultant).post(reverse("customers:create"), _form(**overrides))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert words in " ".join(errors[field])
    assert not Customer.objects.exists()


def test_a_duplicate_id_number_is_refused_and_a_shared_phone_is_warned_about(
    client_for, consultant, customer
):
    client = client_for(consultant)

    refused = client.post(reverse("customers:create"), _form(id_number=valid_id_number(1)))
    assert "id_number" in refused.context["form"].errors

    warned = client.post(reverse("customers:create"), _form(phones=["13812341234"]), follow=True)
    messages = [str(m) for m in warned.context["messages"]]
    assert any(str(customer.pk) in m for m in messages)
    assert Customer.objects.filter(name="李四").count() == 1


# --- edit --------------------------------------------------------------------------------------


def test_the_edit_form_carries_the_version_and_saves(client_for, consultant, customer):
    client = client_for(consultant)
    page = client.get(reverse("customers:edit", args=[customer.pk]))
    assert page.context["form"].initial["version"] == 1
    assert 'name="version"' in page.content.decode()

    response = client.post(
        reverse("customers:edit", args=[customer.pk]),
        _form(name="张三丰", version=1, phones=["13812341234"]),
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.name, customer.version) == ("张三丰", 2)


def test_opening_the_edit_form_with_full_phones_is_logged(client_for, consultant, customer):
    page = client_for(consultant).get(reverse("customers:edit", args=[customer.pk]))

    assert page.context["phone_values"] == ["+8613812341234"]
    assert AuditEvent.objects.filter(action="unmask", target_id=str(customer.pk)).exists()


def test_when_someone_else_saved_first_the_edit_is_refused_with_a_clear_message(
    client_for, consultant, make_user, customer
):
    colleague = make_user(Role.DEALER_MANAGER, display_name="李经理")
    services.customer_update(actor=colleague, customer=customer, version=1, name="张三丰")

    response = client_for(consultant).post(
        reverse("customers:edit", args=[customer.pk]), _form(name="张小三", version=1)
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="concurrent-edit"' in html
    assert "李经理" in html
    customer.refresh_from_db()
    assert customer.name == "张三丰"
    assert list(customer.phones.values_list("number", flat=True)) == ["+8613812341234"]


# --- the 360 page ------------------------------------------------------------------------------


def test_the_360_page_shows_profile_vehicles_timeline_and_masked_contact(
    client_for, consultant, customer
):
    Customer.objects.filter(pk=customer.pk).update(
        lunar_birthday_month=8, lunar_birthday_day=15, children_birth_years=[2016]
    )
    car_model = CarModel.objects.create(
        make="极光",
        series="星辰",
        name="长续航版",
        model_year=2024,
        body_type="suv",
        powertrain="bev",
        list_price=Decimal("199800"),
    )
    vehicle = Vehicle.objects.create(
        dealer=customer.dealer,
        vin="LFV2A21K0R1234567",
        plate="沪AD12345",
        owner=customer,
        car_model=car_model,
    )
    InteractionFactory(customer=customer, body=MARKUP, author=consultant)

    response = client_for(consultant).get(reverse("customers:detail", args=[customer.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "138****1234" in html and "13812341234" not in html
    assert customer.id_number_masked in html
    assert "农历八月十五" in html
    assert reverse("vehicles:detail", args=[vehicle.pk]) in html
    assert "沪AD12345" in html and "长续航版" in html
    assert f"{reverse('vehicles:create')}?customer={customer.pk}" in html
    assert MARKUP not in html and "&lt;script&gt;" in html
    assert reverse("customers:reveal", args=[customer.pk]) in html


def test_a_customer_name_with_markup_is_shown_as_text_on_the_360_page(client_for, manager, dealer):
    customer = CustomerFactory(dealer=dealer, name=MARKUP)

    html = client_for(manager).get(reverse("customers:detail", args=[customer.pk])).content.decode()

    assert MARKUP not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_360_page_query_count_does_not_grow_with_the_history(
    client_for, manager, dealer, django_assert_max_num_queries
):
    short, long = CustomerFactory(dealer=dealer), CustomerFactory(dealer=dealer)
    for customer, count in ((short, 3), (long, 60)):
        CustomerPhoneFactory(customer=customer)
        for n in range(count):
            InteractionFactory(
                customer=customer,
                author=manager,
                occurred_at=timezone.now() - datetime.timedelta(hours=n),
                kind="call" if n % 2 else "note",
                outcome="reached",
            )
    client = client_for(manager)
    client.get(reverse("customers:detail", args=[short.pk]))  # warm the session

    few = _count_queries(client, reverse("customers:detail", args=[short.pk]))
    many = _count_queries(client, reverse("customers:detail", args=[long.pk]))

    assert few == many
    # Fixed whatever the history; one query per timeline provider (the sales app adds four:
    # lead events, follow-ups, test drives, orders; the service app four: appointments,
    # repair orders, recall notices and rescues; feedback two: complaints, surveys).
    with django_assert_max_num_queries(22):
        client.get(reverse("customers:detail", args=[long.pk]))


def test_adding_a_note_with_htmx_answers_the_new_timeline_entry(client_for, consultant, customer):
    response = client_for(consultant).post(
        reverse("customers:note_add", args=[customer.pk]),
        {"body": f"客户想试驾 {MARKUP}"},
        headers={"HX-Request": "true"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith("<li")
    assert "客户想试驾" in html and "&lt;script&gt;" in html and MARKUP not in html
    assert 'hx-swap-oob="delete"' in html
    note = Interaction.objects.get(customer=customer)
    assert (note.kind, note.author) == ("note", consultant)


def test_an_empty_note_comes_back_as_the_form_with_an_error(client_for, consultant, customer):
    response = client_for(consultant).post(
        reverse("customers:note_add", args=[customer.pk]),
        {"body": ""},
        headers={"HX-Request": "true"},
    )

    assert response.headers["HX-Retarget"] == "#note-form"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert 'id="note-form"' in response.content.decode()
    assert not Interaction.objects.exists()


def test_logging_a_call_records_outcome_and_duration(client_for, consultant, customer):
    response = client_for(consultant).post(
        reverse("customers:call_add", args=[customer.pk]),
        {"outcome": "call_back", "direction": "out", "duration_minutes": "2.5", "body": "明天再打"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    call = Interaction.objects.get(customer=customer)
    assert (call.kind, call.outcome, call.duration_seconds) == ("call", "call_back", 150)


def test_a_note_without_htmx_redirects_back_to_the_360_page(client_for, consultant, customer):
    response = client_for(consultant).post(
        reverse("customers:note_add", args=[customer.pk]), {"body": "到店"}
    )

    assert response.status_code == 302
    assert Interaction.objects.filter(customer=customer).count() == 1


def test_reveal_shows_the_full_contact_and_is_audit_logged(client_for, consultant, customer):
    response = client_for(consultant).post(
        reverse("customers:reveal", args=[customer.pk]), headers={"HX-Request": "true"}
    )

    html = response.content.decode()
    assert "+8613812341234" in html
    assert valid_id_number(1) in html
    event = AuditEvent.objects.get(action="unmask")
    assert (event.actor, event.target_id) == (consultant, str(customer.pk))


def test_recording_consent_and_setting_tags_answer_their_cards(client_for, consultant, customer):
    client = client_for(consultant)

    consent = client.post(
        reverse("customers:consent", args=[customer.pk]),
        {"channel": "email", "granted": "on", "source": "网站注册"},
        headers={"HX-Request": "true"},
    )
    tags = client.post(
        reverse("customers:tags", args=[customer.pk]),
        {"tags": "VIP, 二胎家庭"},
        headers={"HX-Request": "true"},
    )

    assert 'id="consents"' in consent.content.decode()
    assert customer.consents.get(channel="email").source == "网站注册"
    assert "二胎家庭" in tags.content.decode()
    assert sorted(t.name for t in customer.tags.all()) == ["VIP", "二胎家庭"]


def test_older_timeline_entries_load_before_the_given_time(client_for, manager, dealer):
    page_size = TIMELINE_PAGE
    customer = CustomerFactory(dealer=dealer)
    now = timezone.now()
    for n in range(2 * page_size + 5):
        InteractionFactory(
            customer=customer, occurred_at=now - datetime.timedelta(minutes=n), body=f"第{n}条"
        )
    client = client_for(manager)

    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert f"第{page_size - 1}条" in page and f"第{page_size}条" not in page
    assert reverse("customers:timeline", args=[customer.pk]) + "?before=" in page

    before = (now - datetime.timedelta(minutes=page_size - 1)).isoformat()
    older = client.get(reverse("customers:timeline", args=[customer.pk]), {"before": before})
    html = older.content.decode()
    assert f"第{page_size}条" in html and f"第{2 * page_size - 1}条" in html
    assert f"第{page_size - 1}条" not in html and f"第{2 * page_size}条" not in html


def test_deleting_a_customer_hides_it(client_for, manager, customer):
    client = client_for(manager)

    assert client.post(reverse("customers:delete", args=[customer.pk])).status_code == 302
    assert client.get(reverse("customers:detail", args=[customer.pk])).status_code == 404


def test_call_form_is_fetched_when_its_tab_is_opened(client_for, manager, customer):
    client = client_for(manager)
    call_url = reverse("customers:call_add", args=[customer.pk])

    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    form = client.get(call_url, HTTP_HX_REQUEST="true").content.decode()

    assert f'hx-get="{call_url}"' in page and 'id="call-form"' not in page
    assert 'id="call-form"' in form and 'name="duration_minutes"' in form
