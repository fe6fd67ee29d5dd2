"""quote_create / quote_calculate: versions, the rule kept, the lead moved on, and refusals that
leave nothing behind."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from dealercrm.sales.models import Lead, LeadEvent, Quote, QuoteLine
from dealercrm.sales.services.quotes import LineIn, quote_calculate, quote_create
from tests.sales.quotes.conftest import TODAY

pytestmark = pytest.mark.django_db
D = Decimal


def _create(lead, consultant, **kwargs):
    values = {"car_model": lead.car_model, "vehicle_price": "199800.00"}
    values.update(kwargs)
    return quote_create(actor=consultant, lead=lead, **values)


def _nothing_saved(lead):
    assert not Quote.objects.filter(lead=lead).exists()
    assert not QuoteLine.objects.exists()
    lead.refresh_from_db()
    assert lead.stage == "contacted"


def test_first_quote_is_version_1_and_lists_every_item(lead, consultant):
    quote = _create(
        lead,
        consultant,
        discount="8000",
        compulsory_insurance="950",
        commercial_insurance="4200.50",
        registration_fee="500",
        extended_warranty="3000",
        trade_in_credit="30000",
        lines=[
            LineIn(description="脚垫", amount=D("800")),
            {"kind": "service", "description": "三年保养套餐", "amount": "3600"},
        ],
        colour="珍珠白",
    )
    assert (quote.version, quote.status) == (1, Quote.Status.CURRENT)
    assert quote.customer_id == lead.customer_id and quote.dealer_id == lead.dealer_id
    # 191,800 / 1.13 × 10 % = 16,973.45
    assert quote.purchase_tax == D("16973.45")
    assert quote.accessories_total == D("4400.00")
    assert quote.total == D("191800") + D("16973.45") + D("950") + D("4200.50") + D("500") + D(
        "4400"
    ) + D("3000") - D("30000")
    assert [(x.kind, x.description, x.amount) for x in quote.lines.order_by("id")] == [
        ("accessory", "脚垫", D("800.00")),
        ("service", "三年保养套餐", D("3600.00")),
    ]
    assert quote.quote_date == TODAY
    assert quote.valid_until == TODAY + datetime.timedelta(days=7)
    assert len(quote.share_token) >= 43


def test_a_new_version_supersedes_the_current_one(lead, consultant):
    first = _create(lead, consultant)
    second = _create(lead, consultant, discount="5000")
    third = _create(lead, consultant, discount="6000")
    first.refresh_from_db()
    second.refresh_from_db()
    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert first.status == second.status == Quote.Status.SUPERSEDED
    assert third.status == Quote.Status.CURRENT
    assert len({first.share_token, second.share_token, third.share_token}) == 3


def test_quoting_moves_the_lead_to_negotiation_once(lead, consultant):
    _create(lead, consultant)
    _create(lead, consultant)
    lead.refresh_from_db()
    assert lead.stage == "negotiation"
    assert lead.negotiation_at is not None
    assert LeadEvent.objects.filter(lead=lead, kind="stage", to_value="negotiation").count() == 1


def test_a_lead_further_on_stays_where_it_is(lead, consultant):
    Lead.objects.filter(pk=lead.pk).update(stage="order")
    lead.refresh_from_db()
    _create(lead, consultant)
    lead.refresh_from_db()
    assert lead.stage == "order"


def test_the_quote_keeps_the_tax_rule_in_force_on_its_date(lead, consultant, bev_model):
    quote = _create(lead, consultant, car_model=bev_model, vehicle_price="226000")
    assert "减半" in quote.tax_rule_name and quote.tax_rule is not None
    assert quote.purchase_tax == D("10000.00")
    earlier = _create(
        lead,
        consultant,
        car_model=bev_model,
        vehicle_price="226000",
        quote_date=datetime.date(2025, 12, 31),
    )
    assert earlier.purchase_tax == D("0.00")
    assert "3万元" in earlier.tax_rule_name


def test_finance_plan_is_computed_and_stored(lead, consultant):
    quote = _create(
        lead,
        consultant,
        vehicle_price="150000",
        term_months=36,
        annual_rate="0.048",
        down_payment="50000",
    )
    assert quote.loan_amount == D("100000.00")
    assert quote.monthly_payment == D("2988.12")
    assert quote.annual_rate == D("0.0480")


def test_interest_free_plan_is_allowed(lead, consultant):
    quote = _create(
        lead,
        consultant,
        vehicle_price="136000",
        term_months=36,
        annual_rate=0,
        down_payment="100000",
    )
    assert quote.monthly_payment == D("1000.00")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"vehicle_price": "-1"}, "vehicle_price"),
        ({"vehicle_price": "0"}, "vehicle_price"),
        ({"vehicle_price": "abc"}, "vehicle_price"),
        ({"discount": "-100"}, "discount"),
        ({"discount": "199800.01"}, "discount"),
        ({"compulsory_insurance": "-950"}, "compulsory_insurance"),
        ({"commercial_insurance": "-1"}, "commercial_insurance"),
        ({"registration_fee": "-500"}, "registration_fee"),
        ({"extended_warranty": "-1"}, "extended_warranty"),
        ({"trade_in_credit": "-1"}, "trade_in_credit"),
        ({"trade_in_credit": "400000"}, "trade_in_credit"),
        ({"down_payment": "-1", "term_months": 36, "annual_rate": "0.05"}, "down_payment"),
        ({"vehicle_price": "100.001"}, "vehicle_price"),
        ({"term_months": 36}, "annual_rate"),
        ({"annual_rate": "0.05"}, "term_months"),
        ({"down_payment": "10000"}, "down_payment"),
        ({"term_months": 72, "annual_rate": "0.05"}, "term_months"),
        ({"term_months": -1}, "term_months"),
        ({"term_months": 36, "annual_rate": "4.8"}, "annual_rate"),
        ({"term_months": 36, "annual_rate": "-0.01"}, "annual_rate"),
        ({"term_months": 36, "annual_rate": "0.05", "down_payment": "199800"}, "down_payment"),
        ({"lines": [{"description": "脚垫", "amount": "-800"}]}, "lines"),
        ({"lines": [{"description": "", "amount": "800"}]}, "lines"),
        ({"lines": [{"description": "脚垫", "amount": ""}]}, "lines"),
        ({"lines": [{"description": "脚垫", "amount": "800", "kind": "bogus"}]}, "lines"),
        ({"valid_until": datetime.date(2026, 3, 9)}, "valid_until"),
        ({"colour": "x" * 31}, "colour"),
    ],
)
def test_bad_input_is_refused_by_field_and_nothing_is_saved(lead, consultant, kwargs, field):
    with pytest.raises(ValidationError) as caught:
        _create(lead, consultant, **kwargs)
    assert field in caught.value.message_dict
    assert all(caught.value.message_dict[field])
    _nothing_saved(lead)


def test_negative_price_says_what_is_wrong(lead, consultant):
    from django.utils import translation

    with translation.override("en"), pytest.raises(ValidationError) as caught:
        _create(lead, consultant, vehicle_price="-199800")
    assert caught.value.message_dict["vehicle_price"] == ["The vehicle price cannot be negative."]
    _nothing_saved(lead)


def test_several_problems_are_reported_together(lead, consultant):
    with pytest.raises(ValidationError) as caught:
        _create(lead, consultant, vehicle_price="-1", registration_fee="-1", term_months=36)
    assert {"vehicle_price", "registration_fee", "annual_rate"} <= set(caught.value.message_dict)


def test_a_refused_new_version_leaves_the_current_one_current(lead, consultant):
    first = _create(lead, consultant)
    with pytest.raises(ValidationError):
        _create(lead, consultant, discount="-1")
    first.refresh_from_db()
    assert first.status == Quote.Status.CURRENT
    assert Quote.objects.filter(lead=lead).count() == 1


@pytest.mark.parametrize("stage", ["lost", "delivered"])
def test_a_closed_lead_gets_no_quote(lead, consultant, stage):
    Lead.objects.filter(pk=lead.pk).update(stage=stage)
    lead.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        _create(lead, consultant)
    assert "lead" in caught.value.message_dict
    assert not Quote.objects.filter(lead=lead).exists()


def test_calculate_saves_nothing(lead, petrol_model):
    calc = quote_calculate(car_model=petrol_model, vehicle_price="199800")
    assert calc.figures.purchase_tax == D("17681.42")
    assert calc.rule is not None and calc.quote_date == TODAY
    assert not Quote.objects.exists()
