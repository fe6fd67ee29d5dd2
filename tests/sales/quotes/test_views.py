"""The quote pages: a new version with the live recalculation, the quote with its versions and
what changed, the print page, and the public share link."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import translation

from dealercrm.core.permissions import Role
from dealercrm.sales.models import Quote, QuoteLine
from dealercrm.sales.services.quotes import LineIn, quote_create

pytestmark = pytest.mark.django_db
D = Decimal


def _quote(lead, user, **kwargs):
    values = {"car_model": lead.car_model, "vehicle_price": "199800"}
    values.update(kwargs)
    return quote_create(actor=user, lead=lead, **values)


def _text(response) -> str:
    # Amounts without thousands separators: Chinese writes none (199800.00), English a comma.
    return response.content.decode().replace(",", "")


def _form(lead, **overrides):
    data = {
        "car_model": str(lead.car_model_id),
        "colour": "珍珠白",
        "quote_date": "2026-03-10",
        "valid_until": "2026-03-17",
        "vehicle_price": "150000",
        "discount": "0",
        "compulsory_insurance": "950",
        "commercial_insurance": "4200",
        "registration_fee": "500",
        "extended_warranty": "",
        "trade_in_credit": "",
        "term_months": "36",
        "annual_rate": "4.8",
        "down_payment": "50000",
        "notes": "客户很在意月供",
        "line_kind": [],
        "line_description": [],
        "line_amount": [],
    }
    data.update(overrides)
    return data


# --- the form -------------------------------------------------------------------------------------


def test_first_quote_form_starts_from_the_leads_model_at_list_price(client_for, consultant, lead):
    response = client_for(consultant).get(reverse("sales:quote_create", args=[lead.pk]))
    assert response.status_code == 200
    body = _text(response)
    assert 'value="199800.00"' in body
    assert 'data-figure="purchase_tax">17681.42' in body  # computed on the server at once


def test_form_offers_the_brands_models_with_a_fixed_query_count(
    client_for, consultant, lead, brand, django_assert_max_num_queries
):
    from tests.core.factories import BrandFactory
    from tests.vehicles.factories import CarModelFactory

    for n in range(5):
        CarModelFactory(brand=brand, series=f"系列{n}")
    foreign = CarModelFactory(make="别家", series="X", brand=BrandFactory(code="other"))
    _quote(lead, consultant, lines=[LineIn(description="脚垫", amount=D("800"))])
    client = client_for(consultant)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("sales:quote_create", args=[lead.pk]))
    body = response.content.decode()
    assert body.count('<option value="') >= 6
    assert f'<option value="{foreign.pk}"' not in body


def test_new_version_form_starts_from_the_latest_quote(client_for, consultant, lead):
    _quote(
        lead,
        consultant,
        discount="5000",
        lines=[LineIn(description="行车记录仪", amount=D("1200"))],
    )
    response = client_for(consultant).get(reverse("sales:quote_create", args=[lead.pk]))
    body = response.content.decode()
    assert 'value="5000.00"' in body and 'value="行车记录仪"' in body


def test_saving_the_form_makes_a_version_and_opens_it(client_for, consultant, lead):
    data = _form(
        lead,
        line_kind=["accessory", "service", "accessory"],
        line_description=["脚垫", "保养套餐", ""],
        line_amount=["800", "3600", ""],  # the empty row is ignored
    )
    response = client_for(consultant).post(reverse("sales:quote_create", args=[lead.pk]), data)
    quote = Quote.objects.get(lead=lead)
    assert response.status_code == 302
    assert response["Location"] == reverse("sales:quote", args=[quote.pk])
    assert quote.annual_rate == D("0.0480")  # typed in percent
    assert quote.loan_amount == D("104400.00")  # 150,000 + 4,400 − 50,000
    assert quote.lines.count() == 2
    assert quote.notes == "客户很在意月供"


def test_negative_price_is_refused_on_the_form_and_nothing_is_saved(client_for, consultant, lead):
    with translation.override("en"):
        response = client_for(consultant).post(
            reverse("sales:quote_create", args=[lead.pk]),
            _form(lead, vehicle_price="-150000"),
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert response.status_code == 422
    assert not Quote.objects.exists()
    assert "is-invalid" in response.content.decode()


def test_line_errors_show_under_the_lines(client_for, consultant, lead):
    response = client_for(consultant).post(
        reverse("sales:quote_create", args=[lead.pk]),
        _form(lead, line_kind=["accessory"], line_description=["脚垫"], line_amount=["-5"]),
    )
    assert response.status_code == 422
    assert 'data-error="lines"' in response.content.decode()
    assert not QuoteLine.objects.exists()


def test_live_recalculation_returns_the_totals_partial(client_for, consultant, lead):
    response = client_for(consultant).post(
        reverse("sales:quote_calculate", args=[lead.pk]),
        _form(
            lead,
            vehicle_price="150000",
            down_payment="50000",
            commercial_insurance="0",
            compulsory_insurance="0",
            registration_fee="0",
        ),
        HTTP_HX_REQUEST="true",
    )
    body = _text(response)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div class="card mb-3" id="quote-totals"')
    assert 'data-figure="loan_amount">100000.00' in body
    assert 'data-figure="monthly_payment">2988.12' in body
    assert not Quote.objects.exists()


def test_live_recalculation_explains_what_stops_it(client_for, consultant, lead):
    with translation.override("en"):
        response = client_for(consultant).post(
            reverse("sales:quote_calculate", args=[lead.pk]),
            _form(lead, annual_rate=""),
        )
    assert "data-calc-errors" in response.content.decode()


def test_another_consultants_lead_is_not_found(client_for, make_user, lead):
    other = make_user(Role.SALES_CONSULTANT)
    client = client_for(other)
    assert client.get(reverse("sales:quote_create", args=[lead.pk])).status_code == 404
    quote = _quote(lead, lead.consultant)
    assert client.get(reverse("sales:quote", args=[quote.pk])).status_code == 404
    assert client.get(reverse("sales:quote_print", args=[quote.pk])).status_code == 404


# --- the quote page -------------------------------------------------------------------------------


def test_quote_page_lists_versions_and_what_changed(
    client_for, consultant, lead, django_assert_max_num_queries
):
    _quote(lead, consultant, lines=[LineIn(description="脚垫", amount=D("800"))])
    second = _quote(
        lead,
        consultant,
        discount="6000",
        lines=[
            LineIn(description="脚垫", amount=D("600")),
            LineIn(description="贴膜", amount=D("2000")),
        ],
    )
    client = client_for(consultant)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("sales:quote", args=[second.pk]))
    body = _text(response)
    assert response.status_code == 200
    assert body.count("data-diff-row") == 6  # discount, tax, accessories, total; 2 lines
    assert "贴膜" in body and "-200.00" in body
    assert "v1" in body and "v2" in body


def test_quote_page_query_count_does_not_grow_with_versions(
    client_for, consultant, lead, django_assert_max_num_queries
):
    for n in range(6):
        last = _quote(
            lead,
            consultant,
            discount=str(n * 1000),
            lines=[LineIn(description=f"精品{n}", amount=D("100"))],
        )
    client = client_for(consultant)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("sales:quote", args=[last.pk])).status_code == 200


def test_print_page_has_everything_the_customer_takes_away(client_for, consultant, lead, dealer):
    dealer.address = "张江路100号"
    dealer.phone = "021-5888 8888"
    dealer.save()
    quote = _quote(
        lead,
        consultant,
        lines=[LineIn(description="脚垫", amount=D("800"))],
        term_months=36,
        annual_rate="0.048",
        down_payment="100000",
        notes="内部：底价还能再让",
    )
    response = client_for(consultant).get(reverse("sales:quote_print", args=[quote.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    for text in (
        dealer.name,
        "张江路100号",
        "021-5888 8888",
        str(consultant),
        "王小明",
        "脚垫",
        quote.tax_rule_name,
        "@media print",
        "size: A4",
        "138****5678",
    ):
        assert text in body, text
    assert 'data-item="monthly_payment"' in body
    assert "底价" not in body  # internal notes stay internal
    assert "13812345678" not in body


# --- the share link -------------------------------------------------------------------------------


def test_share_link_shows_its_quote_to_anyone_and_nothing_else(lead, consultant):
    first = _quote(lead, consultant, discount="1000")
    second = _quote(lead, consultant, discount="2222", notes="内部备注：客户预算紧")
    response = Client().get(reverse("sales_public:quote", args=[second.share_token]))
    body = _text(response)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert "noindex" in response["X-Robots-Tag"]
    assert response["Referrer-Policy"] == "no-referrer"
    assert "2222.00" in body
    assert "1000.00" not in body  # no other version
    assert first.share_token not in body
    assert "内部备注" not in body  # no internal notes
    assert "138" not in body.split("data-customer>")[1][:40]  # no phone
    assert "王先生" in body and "王小明" not in body  # greeted, not named in full
    assert reverse("sales:quote", args=[second.pk]) not in body  # no staff links


@pytest.mark.parametrize("token", ["nope", "x" * 43, "x" * 200])
def test_unknown_share_token_is_not_found(token, lead):
    response = Client().get(reverse("sales_public:quote", args=[token]))
    assert response.status_code == 404
    assert response["Cache-Control"] == "no-store"


def test_a_replaced_versions_link_is_not_found(lead, consultant):
    old = _quote(lead, consultant)
    _quote(lead, consultant, discount="1000")
    assert Client().get(reverse("sales_public:quote", args=[old.share_token])).status_code == 404


def test_share_link_of_another_dealer_needs_no_scope_and_leaks_nothing(
    lead, consultant, other_dealer
):
    quote = _quote(lead, consultant)
    response = Client().get(reverse("sales_public:quote", args=[quote.share_token]))
    assert response.status_code == 200
    assert other_dealer.name not in response.content.decode()


# --- the lead page's section ----------------------------------------------------------------------


def test_lead_section_lists_versions_and_offers_a_new_quote(rf, consultant, lead):
    from django.contrib.auth.context_processors import PermWrapper

    _quote(lead, consultant)
    _quote(lead, consultant, discount="1000")
    html = render_to_string(
        "sales/quotes/_lead_section.html", {"lead": lead, "perms": PermWrapper(consultant)}
    )
    assert html.count("data-quote-version") == 2
    assert reverse("sales:quote_create", args=[lead.pk]) in html


def test_lead_page_shows_the_quotes_section(client_for, consultant, lead):
    quote = _quote(lead, consultant)
    response = client_for(consultant).get(reverse("sales:lead", args=[lead.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "data-lead-quotes" in body
    assert reverse("sales:quote", args=[quote.pk]) in body
