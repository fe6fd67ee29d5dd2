"""The arithmetic of quotes (pricing.py): purchase tax by the rules in force on the quote date,
the annuity, and the total as the sum of its parts.

Reference figures were computed independently (Python floats and by hand):
- 100,000 at 4.8 % a year over 36 months: r = 0.004, payment = 100000·0.004/(1 − 1.004^−36)
  = 2,988.1184… → 2,988.12 (not 2,988.85);
- 200,000 at 3.99 % over 60 months: 3,682.4019… → 3,682.40;
- 199,800 (ICE): 199,800 / 1.13 = 176,814.159… × 10 % = 17,681.4159… → 17,681.42.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealercrm.sales.pricing import (
    STANDARD_RULE,
    QuoteInput,
    TaxRuleTerms,
    loan_principal,
    monthly_payment,
    purchase_tax,
    quote_figures,
    select_tax_rule,
)
from dealercrm.sales.selectors.quotes import tax_rule_for

D = Decimal
EXEMPT = TaxRuleTerms(name="exempt", exemption_share=D("1"), powertrains=("bev", "phev"))
EXEMPT_CAPPED = TaxRuleTerms(
    name="exempt ≤ 30k", exemption_share=D("1"), exemption_cap=D("30000"), powertrains=("bev",)
)
HALVED_CAPPED = TaxRuleTerms(
    name="halved ≤ 15k", exemption_share=D("0.5"), exemption_cap=D("15000"), powertrains=("bev",)
)


# --- purchase tax, pure ----------------------------------------------------------------------


def test_combustion_car_pays_ten_percent_of_the_price_before_vat():
    result = purchase_tax(D("199800.00"), STANDARD_RULE)
    assert result.taxable_price == D("176814.16")
    assert result.tax == D("17681.42")
    assert result.relief == D("0.00")


def test_exempt_rule_waives_the_whole_tax_without_a_cap():
    result = purchase_tax(D("500000.00"), EXEMPT)
    assert result.full_tax == D("44247.79")
    assert result.tax == D("0.00")


def test_capped_exemption_below_the_cap_waives_everything():
    # 339,000 / 1.13 × 10 % = exactly 30,000: the cap is reached, not passed.
    assert purchase_tax(D("339000.00"), EXEMPT_CAPPED).tax == D("0.00")
    assert purchase_tax(D("250000.00"), EXEMPT_CAPPED).tax == D("0.00")


def test_capped_exemption_above_the_cap_pays_the_excess():
    # 452,000 / 1.13 = 400,000 → 40,000 tax, 30,000 waived, 10,000 paid.
    result = purchase_tax(D("452000.00"), EXEMPT_CAPPED)
    assert (result.full_tax, result.relief, result.tax) == (
        D("40000.00"),
        D("30000.00"),
        D("10000.00"),
    )


def test_halving_below_the_cap_pays_half():
    # 226,000 / 1.13 = 200,000 → 20,000 tax, halved: 10,000.
    result = purchase_tax(D("226000.00"), HALVED_CAPPED)
    assert (result.relief, result.tax) == (D("10000.00"), D("10000.00"))


def test_halving_above_the_cap_waives_at_most_15000():
    # 452,000 → 40,000 tax; half would be 20,000, the cap keeps the relief at 15,000.
    result = purchase_tax(D("452000.00"), HALVED_CAPPED)
    assert (result.relief, result.tax) == (D("15000.00"), D("25000.00"))


def test_a_zero_price_pays_no_tax():
    assert purchase_tax(D("0"), STANDARD_RULE).tax == D("0.00")


def test_newest_rule_wins_when_two_cover_a_date():
    old = TaxRuleTerms(name="old", powertrains=("ice",), valid_from=datetime.date(2001, 1, 1))
    new = TaxRuleTerms(
        name="new", powertrains=("ice",), valid_from=datetime.date(2020, 1, 1), rate=D("0.05")
    )
    chosen = select_tax_rule([old, new], on=datetime.date(2021, 6, 1), powertrain="ice")
    assert chosen is new
    assert select_tax_rule([old, new], on=datetime.date(2019, 6, 1), powertrain="ice") is old
    assert select_tax_rule([old, new], on=datetime.date(2019, 6, 1), powertrain="bev") is None


# --- the seeded rules, at their boundaries -------------------------------------------------------


def _tax(day: str, powertrain: str, price: str) -> tuple[str, Decimal]:
    rule = tax_rule_for(on=datetime.date.fromisoformat(day), powertrain=powertrain)
    result = purchase_tax(D(price), rule)
    return (rule.name if rule else ""), result.tax


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "powertrain", "price", "tax"),
    [
        # 2023-12-31: the uncapped exemption — even a ¥565,000 BEV pays nothing.
        ("2023-12-31", "bev", "565000.00", "0.00"),
        # 2024-01-01: the ¥30,000 cap — 565,000 / 1.13 = 500,000 → 50,000 − 30,000.
        ("2024-01-01", "bev", "565000.00", "20000.00"),
        ("2024-01-01", "phev", "226000.00", "0.00"),  # 20,000 of tax: under the cap
        # 2025-12-31 vs 2026-01-01: exempt (cap not hit) then halved.
        ("2025-12-31", "bev", "226000.00", "0.00"),
        ("2026-01-01", "bev", "226000.00", "10000.00"),
        # 2026: halving capped at ¥15,000 — 452,000 → 40,000 − 15,000.
        ("2026-06-30", "phev", "452000.00", "25000.00"),
        ("2027-12-31", "bev", "226000.00", "10000.00"),
        # After the last relief, and before the first: no rule for new energy → plain 10 %.
        ("2028-01-01", "bev", "226000.00", "20000.00"),
        ("2014-08-31", "bev", "226000.00", "20000.00"),
        ("2014-09-01", "bev", "226000.00", "0.00"),
        # Combustion and plain hybrids pay 10 % on every date.
        ("2023-12-31", "ice", "199800.00", "17681.42"),
        ("2026-01-01", "ice", "199800.00", "17681.42"),
        ("2025-06-01", "hev", "226000.00", "20000.00"),
    ],
)
def test_seeded_rules_apply_by_date_and_powertrain(day, powertrain, price, tax):
    assert _tax(day, powertrain, price)[1] == D(tax)


@pytest.mark.django_db
def test_hybrid_is_not_new_energy():
    name, _ = _tax("2024-06-01", "hev", "200000.00")
    assert "新能源" not in name
    assert tax_rule_for(on=datetime.date(2024, 6, 1), powertrain="hev") is not None


@pytest.mark.django_db
def test_a_date_without_a_rule_falls_back_to_the_plain_ten_percent():
    assert tax_rule_for(on=datetime.date(2030, 1, 1), powertrain="bev") is None
    assert purchase_tax(D("113000.00"), None).tax == D("10000.00")


# --- the annuity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "rate", "months", "payment"),
    [
        ("100000", "0.048", 36, "2988.12"),
        ("200000", "0.0399", 60, "3682.40"),
        ("120000", "0.12", 12, "10661.85"),  # r = 1 %: the textbook case
        ("36000", "0", 36, "1000.00"),
        ("100000", "0", 7, "14285.72"),  # P/n = 14,285.714…: rounded up so 7 payments repay it
    ],
)
def test_monthly_payment_known_cases(principal, rate, months, payment):
    assert monthly_payment(D(principal), annual_rate=D(rate), term_months=months) == D(payment)


def test_no_term_means_no_finance():
    assert monthly_payment(D("100000"), annual_rate=D("0.048"), term_months=0) == D("0.00")


# --- the loan and the total ----------------------------------------------------------------------


def test_loan_is_what_the_dealer_sells_less_trade_in_and_down_payment():
    values = QuoteInput(
        vehicle_price=D("200000"),
        discount=D("10000"),
        lines=[D("3000"), D("2000")],
        extended_warranty=D("5000"),
        compulsory_insurance=D("950"),
        commercial_insurance=D("4500"),
        registration_fee=D("500"),
        trade_in_credit=D("50000"),
        down_payment=D("50000"),
        term_months=36,
        annual_rate=D("0.048"),
    )
    # 190,000 + 5,000 + 5,000 − 50,000 − 50,000; tax, insurance and the plate fee paid at once.
    assert loan_principal(values) == D("100000.00")
    figures = quote_figures(values, STANDARD_RULE)
    assert figures.monthly_payment == D("2988.12")
    assert figures.purchase_tax == D("16814.16")  # 190,000 / 1.13 × 10 %
    assert figures.total == D("190000") + D("16814.16") + D("5450") + D("500") + D("5000") + D(
        "5000"
    ) - D("50000")
    assert figures.due_at_purchase == figures.total - D("100000.00")
    assert figures.interest == D("2988.12") * 36 - D("100000.00")


def test_cash_purchase_has_no_loan():
    figures = quote_figures(QuoteInput(vehicle_price=D("150000")), STANDARD_RULE)
    assert (figures.loan_amount, figures.monthly_payment, figures.interest) == (0, 0, 0)
    assert figures.due_at_purchase == figures.total


# --- invariants ----------------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=2_000_000, places=2, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    principal=st.decimals(min_value=D("0.01"), max_value=5_000_000, places=2),
    rate=st.decimals(min_value=0, max_value=D("0.36"), places=4),
    months=st.integers(min_value=1, max_value=60),
)
def test_n_payments_always_repay_the_principal(principal, rate, months):
    payment = monthly_payment(principal, annual_rate=rate, term_months=months)
    assert payment * months >= principal
    assert payment == payment.quantize(D("0.01"))
    if rate == 0:
        # Interest-free: at most a fen a month over the principal.
        assert payment * months - principal < D("0.01") * months


@settings(max_examples=200, deadline=None)
@given(
    principal=st.decimals(min_value=1000, max_value=1_000_000, places=2),
    rate=st.decimals(min_value=D("0.001"), max_value=D("0.2"), places=4),
    months=st.integers(min_value=2, max_value=60),
)
def test_a_higher_rate_never_lowers_the_payment(principal, rate, months):
    low = monthly_payment(principal, annual_rate=rate, term_months=months)
    high = monthly_payment(principal, annual_rate=rate + D("0.01"), term_months=months)
    assert high >= low


@settings(max_examples=300, deadline=None)
@given(
    price=st.decimals(min_value=D("1"), max_value=3_000_000, places=2),
    share=st.sampled_from([D("0"), D("0.5"), D("1")]),
    cap=st.one_of(st.none(), st.sampled_from([D("15000"), D("30000")])),
)
def test_tax_is_between_nothing_and_the_full_ten_percent(price, share, cap):
    rule = TaxRuleTerms(name="r", exemption_share=share, exemption_cap=cap)
    result = purchase_tax(price, rule)
    assert D(0) <= result.tax <= result.full_tax
    assert result.tax + result.relief == result.full_tax
    if cap is not None:
        assert result.relief <= cap


@settings(max_examples=300, deadline=None)
@given(
    price=st.decimals(min_value=D("1"), max_value=3_000_000, places=2),
    discount_share=st.decimals(min_value=0, max_value=1, places=2),
    lines=st.lists(amounts, max_size=5),
    compulsory=amounts,
    commercial=amounts,
    fee=amounts,
    warranty=amounts,
    trade_in=amounts,
    months=st.sampled_from([0, 12, 36, 60]),
    rate=st.decimals(min_value=0, max_value=D("0.2"), places=4),
)
def test_total_is_the_sum_of_its_parts(
    price, discount_share, lines, compulsory, commercial, fee, warranty, trade_in, months, rate
):
    discount = (price * discount_share).quantize(D("0.01"))
    values = QuoteInput(
        vehicle_price=price,
        discount=discount,
        lines=lines,
        compulsory_insurance=compulsory,
        commercial_insurance=commercial,
        registration_fee=fee,
        extended_warranty=warranty,
        trade_in_credit=trade_in,
        term_months=months,
        annual_rate=rate,
    )
    f = quote_figures(values, STANDARD_RULE)
    assert f.total == (
        price
        - discount
        + f.purchase_tax
        + compulsory
        + commercial
        + fee
        + sum(lines, D(0))
        + warranty
        - trade_in
    )
    assert f.total == sum(f.parts.values(), D(0))
    assert f.loan_amount >= 0
    assert f.due_at_purchase + f.loan_amount == f.total
