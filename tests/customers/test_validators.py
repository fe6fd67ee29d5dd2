"""Resident ID numbers (GB 11643), phone numbers and e-mail: what is accepted and why not."""

from __future__ import annotations

import datetime

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from dealercrm.customers.validators import (
    ID_CHECK_CHARACTERS,
    ID_PROVINCE_CODES,
    id_number_check_character,
    id_number_gender,
    normalise_email,
    normalise_id_number,
    normalise_phone,
)

TODAY = datetime.date(2025, 6, 1)

bodies17 = st.text(alphabet="0123456789", min_size=17, max_size=17)
birth_dates = st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY)


@st.composite
def plausible_bodies(draw) -> str:
    """17 digits an ID number can start with: a region, a real birth date, any sequence."""
    province = draw(st.sampled_from(sorted(ID_PROVINCE_CODES)))
    rest_of_region = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    born = draw(birth_dates)
    sequence = draw(st.text(alphabet="0123456789", min_size=3, max_size=3))
    return f"{province}{rest_of_region}{born:%Y%m%d}{sequence}"


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.error_list[0].code


@given(bodies17)
def test_check_character_makes_the_weighted_sum_one_mod_11(body):
    # ISO 7064 MOD 11-2: sum of digit × 2^(17-i) plus the check value is ≡ 1 (mod 11).
    check = id_number_check_character(body)
    value = 10 if check == "X" else int(check)
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(body)) + value
    assert total % 11 == 1


@given(plausible_bodies())
def test_any_plausible_body_with_its_computed_check_digit_is_accepted(body):
    id_number = body + id_number_check_character(body)

    assert normalise_id_number(id_number, today=TODAY) == id_number


@given(plausible_bodies(), st.sampled_from(ID_CHECK_CHARACTERS))
def test_any_other_check_character_is_refused_as_a_bad_check_digit(body, check):
    if check == id_number_check_character(body):
        return
    with pytest.raises(ValidationError) as exc:
        normalise_id_number(body + check, today=TODAY)
    assert _code(exc) == "id_check_digit"


def test_lower_case_x_spaces_and_full_width_digits_are_normalised():
    body = "11010519491231002"
    assert id_number_check_character(body) == "X"
    typed = "１１０１０５ 19491231 002x"

    assert normalise_id_number(typed, today=TODAY) == body + "X"


@pytest.mark.parametrize(
    ("value", "code", "words"),
    [
        ("11010519491231", "id_length", "18"),
        ("1101051949123100211", "id_length", "19"),
        ("11010519491231A02X", "id_characters", "17"),
        ("99010519491231002X", "id_region", "99"),
    ],
)
def test_malformed_id_numbers_say_what_is_wrong(value, code, words):
    with pytest.raises(ValidationError) as exc:
        normalise_id_number(value, today=TODAY)
    assert _code(exc) == code
    assert words in exc.value.messages[0]


@pytest.mark.parametrize("birth", ["19900230", "19901301", "18991231", "20300101"])
def test_impossible_birth_dates_are_refused(birth):
    body = f"310115{birth}123"
    with pytest.raises(ValidationError) as exc:
        normalise_id_number(body + id_number_check_character(body), today=TODAY)
    assert _code(exc) == "id_birth_date"
    assert birth in exc.value.messages[0]


def test_gender_comes_from_the_seventeenth_digit():
    assert id_number_gender("11010519491231002X") == "female"
    assert id_number_gender("11010519491231001X") == "male"


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("13812341234", "+8613812341234"),
        ("138 1234 1234", "+8613812341234"),
        ("138-1234-1234", "+8613812341234"),
        ("+86 138 1234 1234", "+8613812341234"),
        ("0086 13812341234", "+8613812341234"),
        ("１３８１２３４１２３４", "+8613812341234"),
        ("021-6888 1234", "+862168881234"),
        ("+852 5123 4567", "+85251234567"),
    ],
)
def test_phone_numbers_are_normalised_to_e164_with_china_as_the_default(typed, e164):
    assert normalise_phone(typed) == e164


@pytest.mark.parametrize("typed", ["1381234123", "12345678901", "23812341234"])
def test_invalid_phone_numbers_are_refused_with_a_clear_message(typed):
    with pytest.raises(ValidationError) as exc:
        normalise_phone(typed)
    assert _code(exc) == "phone_invalid"
    assert typed in exc.value.messages[0]


def test_text_that_is_no_phone_number_is_refused():
    with pytest.raises(ValidationError) as exc:
        normalise_phone("call me")
    assert _code(exc) in {"phone_unparsable", "phone_invalid"}


mobile_prefixes = st.sampled_from(
    ["130", "133", "135", "138", "139", "150", "158", "177", "186", "199"]
)


@given(mobile_prefixes, st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_mobile_numbers_round_trip_through_e164(prefix, rest):
    national = prefix + rest
    e164 = normalise_phone(national)

    assert e164 == "+86" + national
    assert normalise_phone(e164) == e164
    parsed = phonenumbers.parse(e164)
    assert str(parsed.national_number) == national


def test_email_is_validated_and_its_domain_lower_cased():
    assert normalise_email(" Zhang.San@Example.COM ") == "Zhang.San@example.com"
    assert normalise_email("") == ""
    with pytest.raises(ValidationError):
        normalise_email("zhang@")
