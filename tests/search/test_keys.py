"""Search normalisation and key building: what a customer can be found by."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dealercrm.search.keys import (
    customer_key_rows,
    name_keys,
    national_number,
    normalise_text,
    phone_keys,
    pinyin_of,
    pinyin_readings,
    vehicle_key_rows,
    vehicle_keys,
)
from dealercrm.search.models import KeyKind
from dealercrm.search.router import RANGE_END, route

HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
NAMES = st.text(HAN, min_size=1, max_size=12)
PROVINCES = st.sampled_from("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")
PLATE_TAIL = st.text(st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"), min_size=5, max_size=6)


def found(keys, query: str) -> bool:
    """Whether any routed range of `query` contains one of `keys`, as the database would see it."""
    routed = route(query)
    return any(
        kind == probe.kind and probe.term <= term < probe.term + RANGE_END
        for probe in routed.probes
        for kind, term in keys
    )


def test_normalise_text_folds_full_width_case_and_separators():
    assert normalise_text(" ＺＨＡＮＧ San ") == "zhangsan"
    assert normalise_text("138-1234 5678") == "13812345678"
    assert normalise_text("沪A·12345") == "沪a12345"


@given(NAMES)
def test_keys_of_a_name_always_include_the_whole_name_as_a_prefix_key(name):
    keys = list(name_keys(name))
    assert (KeyKind.NAME, name) in keys


@given(NAMES, st.data())
def test_any_part_of_a_chinese_name_finds_the_name(name, data):
    start = data.draw(st.integers(0, len(name) - 1))
    end = data.draw(st.integers(start + 1, len(name)))
    assert found(list(name_keys(name)), name[start:end])


@given(NAMES, st.data())
def test_any_prefix_of_the_pinyin_or_initials_finds_the_name(name, data):
    full, initials = pinyin_of(name)
    keys = list(name_keys(name))
    if full.isalpha() and full.isascii():
        assert found(keys, full[: data.draw(st.integers(1, len(full)))])
    if initials.isalpha() and initials.isascii():
        assert found(keys, initials[: data.draw(st.integers(1, len(initials)))])


@given(st.from_regex(r"1[3-9]\d{9}", fullmatch=True), st.integers(3, 11))
def test_a_phone_tail_round_trips_through_the_reversed_key(number, tail_length):
    keys = list(phone_keys("+86" + number))
    tail_key = next(term for kind, term in keys if kind == KeyKind.PHONE_TAIL)
    assert tail_key[::-1] == normalise_text(number)  # digits of any script become 0–9
    assert found(keys, number[-tail_length:])


@given(st.from_regex(r"1[3-9]\d{9}", fullmatch=True))
def test_a_whole_phone_is_found_with_or_without_country_code_and_separators(number):
    keys = list(phone_keys("+86" + number))
    assert found(keys, number)
    assert found(keys, f"+86 {number[:3]}-{number[3:7]}-{number[7:]}")


@given(PROVINCES, PLATE_TAIL, st.data())
def test_a_plate_is_found_by_any_part_with_a_digit_or_its_province(province, tail, data):
    plate = province + "A" + tail
    keys = list(vehicle_keys("", plate))
    start = data.draw(st.integers(0, len(plate) - 2))
    end = data.draw(st.integers(start + 2, len(plate)))
    part = plate[start:end]
    has_digit = any(ch.isdigit() for ch in part)
    if (
        part[0] == province
        or (has_digit and not part.isdigit())
        or (part.isdigit() and len(part) >= 3)
    ):
        assert found(keys, part), part
    # Lower-case typing finds the same plate.
    assert found(keys, plate.lower())


def test_vin_keys_find_the_whole_vin_its_start_and_its_last_six():
    vin = "LSVAB2BX6P1234567"
    keys = list(vehicle_keys(vin, ""))
    assert found(keys, vin.lower())
    assert found(keys, "LSVAB2BX")
    assert found(keys, "234567")


def test_polyphonic_surnames_are_found_by_their_surname_reading_and_the_everyday_one():
    keys = list(name_keys("曾国藩"))
    assert found(keys, "zengguofan")
    assert found(keys, "cengguofan")
    assert found(keys, "zgf")
    assert ("shantianfang", "stf") in pinyin_readings("单田芳")
    assert ("xiexiaodong", "xxd") in pinyin_readings("解晓东")


def test_u_umlaut_is_found_typed_as_v_or_u():
    keys = list(name_keys("吕布"))
    assert found(keys, "lvbu")
    assert found(keys, "lubu")


def test_company_names_are_found_by_any_part():
    keys = list(name_keys("上海浦东极光汽车销售服务有限公司"))
    for part in ("上海浦东", "极光", "汽车销售", "有限公司", "shanghai", "shpd"):
        assert found(keys, part), part


def test_a_latin_name_is_found_by_its_prefix():
    keys = list(name_keys("张三", "Zhang San Peter"))
    assert found(keys, "zhangsanp")


def test_national_number_strips_the_chinese_country_code_only():
    assert national_number("+8613812341234") == "13812341234"
    assert national_number("+85291234567") == "85291234567"


def test_key_rows_are_plain_tuples_for_the_bulk_paths():
    rows = customer_key_rows(3, 7, name="张三", phones=["+8613812341234"])
    assert all(r[:3] == (3, 7, None) for r in rows)
    assert (3, 7, None, KeyKind.PHONE, "13812341234") in rows
    vrows = vehicle_key_rows(3, 7, 9, vin="LSVAB2BX6P1234567", plate="沪A12345")
    assert (3, 7, 9, KeyKind.PLATE, "沪A12345") in vrows
    assert (3, 7, 9, KeyKind.PLATE_INNER, "A12345") in vrows
    # Parts of a plate shorter than two characters are not kept.
    assert all(len(term) >= 2 for _, _, _, kind, term in vrows if kind == KeyKind.PLATE_INNER)


def test_keys_never_exceed_the_column_length():
    keys = list(name_keys("很" * 100, "x" * 100))
    assert max(len(term) for _, term in keys) <= 64
