"""VIN and plate rules: check digit, decoding, Chinese plate formats, normalisation."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from dealercrm.vehicles.validators import (
    PROVINCES,
    VIN_ALPHABET,
    decode_vin,
    normalise_plate,
    normalise_vin,
    parse_plate,
    validate_plate,
    validate_vin,
    vin_check_digit,
    with_check_digit,
)
from tests.vehicles.factories import make_plate, make_vin

vin_bodies = st.text(alphabet=VIN_ALPHABET, min_size=17, max_size=17)
plate_chars = st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
digits = st.sampled_from("0123456789")


# --- VIN ---------------------------------------------------------------------------------------


def test_known_vin_passes_and_its_check_digit_is_computed():
    # Given a published example VIN (check digit X)
    vin = "1M8GDM9AXKP042788"
    # Then its check digit is X and it validates
    assert vin_check_digit(vin) == "X"
    assert validate_vin(vin) == vin


@given(vin_bodies)
def test_any_body_with_its_computed_check_digit_passes(body):
    vin = with_check_digit(body)
    assert validate_vin(vin) == vin


@given(vin_bodies, st.sampled_from("0123456789X"))
def test_a_changed_check_digit_fails_and_names_the_expected_digit(body, digit):
    vin = with_check_digit(body)
    expected = vin[8]
    if digit == expected:
        return
    wrong = vin[:8] + digit + vin[9:]
    with pytest.raises(ValidationError) as exc:
        validate_vin(wrong)
    assert exc.value.code == "vin_check_digit"
    assert f"should be {expected}" in exc.value.messages[0]


@given(vin_bodies, st.integers(min_value=0, max_value=16), st.sampled_from(VIN_ALPHABET))
def test_a_single_mistyped_character_is_caught(body, position, char):
    vin = with_check_digit(body)
    if position == 8 or vin[position] == char:
        return
    typo = vin[:position] + char + vin[position + 1 :]
    # A typo that happens to keep the same check digit cannot be caught; any other must be.
    if vin_check_digit(typo) != typo[8]:
        with pytest.raises(ValidationError):
            validate_vin(typo)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "required"),
        ("LSVAU0335123456", "vin_length"),
        ("LSVAU03351234567890", "vin_length"),
        ("LSVAU0I3512345678", "vin_letters"),
        ("LSVAU0Q3512345678", "vin_letters"),
        ("LSVAU0#3512345678", "vin_chars"),
    ],
)
def test_malformed_vins_say_what_is_wrong(value, code):
    with pytest.raises(ValidationError) as exc:
        validate_vin(value)
    assert exc.value.code == code


def test_vin_message_counts_the_characters():
    with pytest.raises(ValidationError) as exc:
        validate_vin("LSVAU033")
    assert "8" in exc.value.messages[0]


def test_vin_is_normalised_from_lower_case_spaces_and_full_width():
    vin = make_vin(42)
    typed = " " + vin[:8].lower() + " " + "".join(chr(ord(c) + 0xFEE0) for c in vin[8:]) + " "
    assert normalise_vin(typed) == vin
    assert validate_vin(typed) == vin


def test_decode_gives_manufacturer_and_model_year():
    # Given a SAIC Volkswagen VIN with year code N (2022)
    vin = with_check_digit("LSVAU0330N1234567")
    info = decode_vin(vin, today=datetime.date(2026, 1, 1))
    assert info.manufacturer == "SAIC Volkswagen"
    assert info.country == "China"
    assert info.model_year == 2022


def test_decode_of_unknown_manufacturer_is_empty_not_a_placeholder():
    info = decode_vin(with_check_digit("ZZZ00000000000000"))
    assert info.manufacturer == ""


def test_model_year_is_never_later_than_next_year():
    # Year code P is 1993 or 2023; in 2026 it is 2023, never 2053.
    info = decode_vin(with_check_digit("LSVAU0330P1234567"), today=datetime.date(2026, 6, 1))
    assert info.model_year == 2023


# --- Plates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "plate", "kind"),
    [
        ("沪A12345", "沪A12345", "ordinary"),
        ("京a·8k8k8", "京A8K8K8", "ordinary"),
        ("粤B 12345", "粤B12345", "ordinary"),
        ("沪AD12345", "沪AD12345", "new_energy"),
        ("沪A.F1234 5", "沪AF12345", "new_energy"),
        ("沪AA12345", "沪AA12345", "new_energy"),
        ("粤B12345D", "粤B12345D", "new_energy"),
        ("粤B12345F", "粤B12345F", "new_energy"),
        ("沪A1234学", "沪A1234学", "special"),
        ("京A1234警", "京A1234警", "special"),
        ("鲁B1234挂", "鲁B1234挂", "special"),
        ("沪A1234领", "沪A1234领", "special"),
        ("粤Z1234港", "粤Z1234港", "special"),
        ("粤Z1234澳", "粤Z1234澳", "special"),
        ("ＡＢ", None, None),
    ],
)
def test_chinese_plate_formats(typed, plate, kind):
    if plate is None:
        with pytest.raises(ValidationError):
            parse_plate(typed)
        return
    info = parse_plate(typed)
    assert info.plate == plate
    assert info.kind == kind


@pytest.mark.parametrize(
    ("value", "code", "fragment"),
    [
        ("AA12345", "plate_province", "province"),
        ("沪A1234", "plate_length", "7"),
        ("沪A123456789", "plate_length", "7"),
        ("沪I12345", "plate_letters", "I or O"),
        ("沪A12O45", "plate_letters", "I or O"),
        ("沪1A2345", "plate_city", "city letter"),
        ("沪A12#45", "plate_chars", "letters and digits"),
        ("沪AX12345", "plate_new_energy", "new-energy"),
        ("沪AD1234A", "plate_new_energy", "new-energy"),
        ("沪A12345学", "plate_length", "学"),
    ],
)
def test_bad_plates_say_what_is_wrong(value, code, fragment):
    with pytest.raises(ValidationError) as exc:
        validate_plate(value)
    assert exc.value.code == code
    assert fragment in exc.value.messages[0]


@given(
    st.sampled_from(PROVINCES),
    st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ"),
    st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=5, max_size=5),
)
def test_every_ordinary_plate_is_accepted(province, city, serial):
    assert validate_plate(province + city + serial) == province + city + serial


@given(
    st.sampled_from(PROVINCES),
    st.sampled_from("DF"),
    plate_chars,
    st.text(alphabet="0123456789", min_size=4, max_size=4),
)
def test_every_small_new_energy_plate_is_accepted(province, energy, second, tail):
    plate = f"{province}A{energy}{second}{tail}"
    assert parse_plate(plate).is_new_energy


@given(st.text(max_size=12))
def test_plate_normaliser_is_idempotent(text):
    once = normalise_plate(text)
    assert normalise_plate(once) == once


@given(st.text(alphabet="沪京粤ABD0123456789 ·.-abd", max_size=12))
def test_a_valid_plate_normalises_to_itself(text):
    try:
        plate = validate_plate(text)
    except ValidationError:
        return
    assert validate_plate(plate) == plate


def test_factory_helpers_make_valid_vins_and_plates():
    for n in range(200):
        assert validate_vin(make_vin(n)) == make_vin(n)
        assert parse_plate(make_plate("沪A", n)).kind == "ordinary"
        assert parse_plate(make_plate("粤B", n, new_energy=True)).is_new_energy


@given(st.text(max_size=17))
def test_vin_normaliser_is_idempotent(text):
    once = normalise_vin(text)
    assert normalise_vin(once) == once


def test_normaliser_recomposes_after_upper_casing():
    # "a" + combining acute upper-cases to "A" + acute, which NFKC composes to "Á"
    assert normalise_plate(normalise_plate("A\u00b4")) == normalise_plate("A\u00b4")


def test_messages_are_translated_into_chinese():
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        validate_vin("LSVAU033")
    assert exc.value.messages[0] == "车架号应为 17 位，这里是 8 位。"
