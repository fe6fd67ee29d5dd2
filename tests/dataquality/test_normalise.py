"""Cleaning one imported value, and a whole row: dates, places, the fast validators (the same
results and messages as the foundation's, checked with hypothesis), genders, mileage, money."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealercrm.customers.models import Gender
from dealercrm.customers.validators import (
    ID_PROVINCE_CODES,
    id_number_check_character,
    normalise_email,
    normalise_id_number,
    normalise_phone,
)
from dealercrm.dataquality.models import ImportKind
from dealercrm.dataquality.services import normalise
from dealercrm.dataquality.services.import_fields import FIELDS
from dealercrm.dataquality.services.normalise import (
    PROVINCE_NAMES,
    clean_row,
    clean_text,
    fast_email,
    fast_id_number,
    fast_phone,
    fast_plate,
    fast_vin,
    normalise_city,
    normalise_province,
    parse_date,
    parse_mileage,
    parse_money,
)
from dealercrm.service.models import Payer, RepairKind
from dealercrm.vehicles.validators import (
    PROVINCES,
    VIN_ALPHABET,
    validate_plate,
    validate_vin,
    with_check_digit,
)

FAST = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def test_clean_text_makes_full_width_half_width_and_collapses_spaces():
    assert clean_text("  张　三  ") == "张 三"
    assert clean_text("ＡＢＣ　１２３") == "ABC 123"
    assert clean_text("") == ""
    assert clean_text("张\x00三\x07\n") == "张三"


@pytest.mark.parametrize(
    "text",
    [
        "2024-03-05",
        "2024/3/5",
        "2024.3.5",
        "20240305",
        "2024年3月5日",
        "2024 年 3 月 5 日",
        "45356",
        "45356.0",
        "45356.75",
        "2024-03-05T10:11:12",
        "2024-03-05T10:11:12+08:00",
        "2024-03-05 10:11",
        "２０２４－０３－０５",
        " 2024-03-05 ",
    ],
)
def test_parse_date_reads_the_usual_spellings(text):
    assert parse_date(text) == datetime.date(2024, 3, 5)


def test_parse_date_of_an_empty_cell_is_none():
    assert parse_date("") is None
    assert parse_date("   ") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2024-02-30", "“2024-02-30” is not a real date: check the month and the day."),
        ("2023-02-29", "“2023-02-29” is not a real date: check the month and the day."),
        ("20241301", "“20241301” is not a real date: check the month and the day."),
        ("hello", "“hello” is not a date; write it like 2024-03-05."),
        ("05/03/2024", "“05/03/2024” is not a date; write it like 2024-03-05."),
        ("2024", "“2024” is not a date; write it like 2024-03-05."),
        ("1850-01-01", "“1850-01-01” is outside the years 1900–2100."),
    ],
)
def test_parse_date_says_what_is_wrong(text, message):
    with pytest.raises(ValueError) as caught:
        parse_date(text)
    assert str(caught.value) == message


def test_excel_serials_follow_the_1900_date_system():
    assert parse_date("29221") == datetime.date(1980, 1, 1)
    assert parse_date("36526") == datetime.date(2000, 1, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("广东", "广东省"),
        ("广东省", "广东省"),
        ("粤", "广东省"),
        ("Guangdong", "广东省"),
        ("内蒙", "内蒙古自治区"),
        ("内蒙古", "内蒙古自治区"),
        ("北京", "北京市"),
        ("北京市", "北京市"),
        ("广西省", "广西壮族自治区"),
        ("新疆", "新疆维吾尔自治区"),
        ("香港", "香港特别行政区"),
        (" 上海 ", "上海市"),
        ("shaanxi", "陕西省"),
        ("shanxi", "山西省"),
        ("", ""),
    ],
)
def test_normalise_province(text, expected):
    assert normalise_province(text) == expected


def test_the_34_province_level_names_are_their_own_normal_form():
    assert len(PROVINCE_NAMES) == 34
    assert [normalise_province(name) for name in PROVINCE_NAMES] == list(PROVINCE_NAMES)


def test_the_demo_writes_provinces_in_the_normal_form():
    from dealercrm.demo.reference import DEALERS

    assert {d.province for d in DEALERS} <= set(PROVINCE_NAMES)
    assert all(normalise_city(d.city) == d.city for d in DEALERS)


def test_an_unknown_province_is_refused_by_name():
    with pytest.raises(ValueError) as caught:
        normalise_province("火星")
    assert str(caught.value) == (
        "“火星” is not a Chinese province, municipality or autonomous region."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("深圳", "深圳市"),
        ("深圳市", "深圳市"),
        ("杭州", "杭州市"),
        ("上海", "上海市"),
        ("延边朝鲜族自治州", "延边朝鲜族自治州"),
        ("阿里地区", "阿里地区"),
        ("锡林郭勒盟", "锡林郭勒盟"),
        ("广东省深圳市", "深圳市"),
        ("广东深圳", "深圳市"),
        ("Shenzhen", "Shenzhen"),
        ("", ""),
    ],
)
def test_normalise_city(text, expected):
    assert normalise_city(text) == expected


# --- The fast validators agree with the foundation's ------------------------------------------


def _outcome(function, raw):
    """("ok", value) or ("error", message), for ValidationError and ValueError alike."""
    try:
        return ("ok", function(raw))
    except ValidationError as exc:
        return ("error", " ".join(exc.messages))
    except ValueError as exc:
        return ("error", str(exc))


digits = st.text(alphabet="0123456789", min_size=0, max_size=13)
separators = st.sampled_from(["", " ", "-", "  ", "．", "　"])
phones = st.one_of(
    st.builds(
        lambda prefix, a, b, c, sep: f"{prefix}{a}{sep}{b}{sep}{c}",
        st.sampled_from(["", "+86", "86", "0086", "+86 ", "86-", "+1", "0", "+852"]),
        st.from_regex(r"\A1[0-9]{2}\Z"),
        st.from_regex(r"\A[0-9]{4}\Z"),
        st.from_regex(r"\A[0-9]{4}\Z"),
        separators,
    ),
    digits,
    st.text(max_size=16),
)


@FAST
@given(phones)
def test_fast_phone_gives_what_normalise_phone_gives(raw):
    with translation.override("en"):
        assert _outcome(fast_phone, raw) == _outcome(normalise_phone, raw)


def test_a_plain_chinese_mobile_takes_the_fast_path():
    before = normalise._slow_phone.cache_info()
    assert fast_phone("13812345678") == "+8613812345678"
    assert fast_phone("+86 138-1234-5679") == "+8613812345679"
    assert fast_phone("1381234567０") == "+8613812345670"  # full width: the foundation's way
    after = normalise._slow_phone.cache_info()
    assert after.misses + after.hits - before.misses - before.hits == 1


def _id_number(region: str, birth: datetime.date, serial: int, check: str | None) -> str:
    body = f"{region}0101{birth:%Y%m%d}{serial:03d}"
    return body + (check if check is not None else id_number_check_character(body))


id_numbers = st.one_of(
    st.builds(
        _id_number,
        st.sampled_from(sorted(ID_PROVINCE_CODES) + ["00", "99"]),
        st.dates(datetime.date(1890, 1, 1), datetime.date(2100, 1, 1)),
        st.integers(0, 999),
        st.one_of(st.none(), st.sampled_from(list("0123456789Xx"))),
    ),
    st.builds(lambda s: s, st.from_regex(r"\A[0-9]{17}[0-9Xx]\Z")),
    st.text(max_size=20),
)


@FAST
@given(id_numbers)
def test_fast_id_number_gives_what_normalise_id_number_gives(raw):
    with translation.override("en"):
        assert _outcome(fast_id_number, raw) == _outcome(normalise_id_number, raw)


vins = st.one_of(
    st.builds(with_check_digit, st.text(alphabet=VIN_ALPHABET, min_size=17, max_size=17)),
    st.builds(
        lambda v: v.lower(),
        st.builds(with_check_digit, st.text(alphabet=VIN_ALPHABET, min_size=17, max_size=17)),
    ),
    st.text(alphabet=VIN_ALPHABET + "IOQioq -", min_size=15, max_size=19),
    st.text(max_size=18),
)


@FAST
@given(vins)
def test_fast_vin_gives_what_validate_vin_gives(raw):
    with translation.override("en"):
        assert _outcome(fast_vin, raw) == _outcome(validate_vin, raw)


plates = st.one_of(
    st.builds(
        lambda province, rest: province + rest,
        st.sampled_from(list(PROVINCES) + ["X", "１"]),
        st.text(
            alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZadfk0123456789学警挂 ·", min_size=5, max_size=8
        ),
    ),
    st.text(max_size=9),
)


@FAST
@given(plates)
def test_fast_plate_gives_what_validate_plate_gives(raw):
    with translation.override("en"):
        assert _outcome(fast_plate, raw) == _outcome(validate_plate, raw)


emails = st.one_of(
    st.emails(),
    st.builds(lambda e: e.upper(), st.emails()),
    st.text(alphabet="abcXYZ09.@-_+ ", max_size=20),
    st.text(max_size=20),
)


@FAST
@given(emails)
def test_fast_email_gives_what_normalise_email_gives(raw):
    with translation.override("en"):
        assert _outcome(fast_email, raw) == _outcome(normalise_email, raw)


def test_fast_validators_raise_the_foundations_messages():
    with pytest.raises(ValueError) as caught:
        fast_vin("LA9AB1C20N000000")
    assert str(caught.value) == "A VIN has 17 characters; this one has 16."
    with pytest.raises(ValueError) as caught:
        fast_id_number("31011519800102123")
    assert str(caught.value) == "An ID number has 18 characters; this one has 17."


# --- Numbers and choices -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "km"),
    [("12,345 km", 12345), ("12345", 12345), ("12345.0", 12345), ("1.2万公里", 12000),
     ("８８ 千米", 88), ("0", 0), ("", None)],
)  # fmt: skip
def test_parse_mileage(text, km):
    assert parse_mileage(text) == km


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-5", "A mileage cannot be negative (“-5”)."),
        ("lots", "“lots” is not a number of kilometres."),
        ("3000000", "3,000,000 km is more than a car drives (at most 2,000,000)."),
    ],
)
def test_parse_mileage_says_what_is_wrong(text, message):
    with pytest.raises(ValueError) as caught:
        parse_mileage(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "amount"),
    [("¥123,456.00", Decimal("123456.00")), ("123456元", Decimal("123456.00")),
     ("12.5万", Decimal("125000.00")), ("RMB 99.999", Decimal("100.00")),
     ("￥１２３", Decimal("123.00")), ("", None)],
)  # fmt: skip
def test_parse_money(text, amount):
    assert parse_money(text) == amount


def test_parse_money_refuses_words_negative_and_huge_amounts():
    for text in ("abc", "-1", "99999999999"):
        with pytest.raises(ValueError):
            parse_money(text)


# --- Rows --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "gender"),
    [("男", Gender.MALE), ("M", Gender.MALE), ("male", Gender.MALE), ("先生", Gender.MALE),
     ("女", Gender.FEMALE), ("F", Gender.FEMALE), ("Female", Gender.FEMALE),
     ("女士", Gender.FEMALE), ("保密", Gender.UNKNOWN), ("", "")],
)  # fmt: skip
def test_gender_text_becomes_the_models_values(text, gender):
    clean, errors = clean_row("customers", {"name": "张三", "phone": "13812345678", "gender": text})
    assert errors == []
    assert clean["gender"] == gender


def test_a_clean_customer_row():
    clean, errors = clean_row(
        "customers",
        {
            "name": " 张　三 ",
            "phone": "１３８ １２３４ ５６７８",
            "id_number": "11010519750305003x",
            "gender": "男",
            "birthday": "1975年3月5日",
            "email": "Zhang@Example.COM",
            "province": "广东",
            "city": "深圳",
            "vin": with_check_digit("LA9AB1C20N0000001").lower(),
            "plate": "粤b·d12345",
            "purchase_date": "45356",
            "mileage": "12,345 km",
            "not_a_field": "ignored",
        },
    )
    assert errors == []
    assert clean == {
        "name": "张 三",
        "phone": "+8613812345678",
        "id_number": "11010519750305003X",
        "gender": "male",
        "birthday": datetime.date(1975, 3, 5),
        "email": "Zhang@example.com",
        "province": "广东省",
        "city": "深圳市",
        "vin": with_check_digit("LA9AB1C20N0000001"),
        "plate": "粤BD12345",
        "purchase_date": datetime.date(2024, 3, 5),
        "mileage": 12345,
    }


def test_every_error_of_a_row_is_reported_with_its_field():
    clean, errors = clean_row(
        "customers",
        {
            "name": "张三",
            "phone": "12345",
            "id_number": "310115198001021230",
            "gender": "maybe",
            "birthday": "2024-02-30",
            "email": "bad@",
            "province": "火星",
            "vin": "LA9AB1C20N000000",
            "plate": "XX12345",
            "mileage": "-1",
        },
    )
    assert [field for field, _message in errors] == [
        "phone", "id_number", "gender", "birthday", "email", "province", "vin", "plate", "mileage",
    ]  # fmt: skip
    assert dict(errors)["gender"] == "“maybe” is not a gender: write 男 or 女 (M or F)."
    assert dict(errors)["phone"] == _outcome(normalise_phone, "12345")[1]
    assert clean == {"name": "张三"}


def test_required_fields_and_either_or_groups_are_named():
    clean, errors = clean_row("customers", {"name": "", "phone": " ", "id_number": ""})
    assert errors == [
        ("name", "Name is empty; it is required."),
        ("phone", "Phone or ID number: one of them is required, and both are empty."),
    ]
    assert clean == {"name": "", "phone": "", "id_number": ""}
    # An unmapped required field is as missing as an empty one.
    _clean, errors = clean_row("customers", {"id_number": "11010519750305003X"})
    assert errors == [("name", "Name is empty; it is required.")]


def test_an_invalid_phone_is_reported_once_not_also_as_missing():
    _clean, errors = clean_row("customers", {"name": "张三", "phone": "123"})
    assert [field for field, _message in errors] == ["phone"]


def test_a_value_longer_than_its_column_is_an_error_on_the_row():
    _clean, errors = clean_row("customers", {"name": "张" * 101, "phone": "13812345678"})
    assert errors == [("name", "Name is too long: at most 100 characters, this has 101.")]


def test_repair_order_rows():
    clean, errors = clean_row(
        "repair_orders",
        {
            "ro_number": "RO2024-0001",
            "plate": "沪A12345",
            "opened_date": "2024-03-05 09:30:00",
            "closed_date": "2024/3/6",
            "mileage": "23,456",
            "repair_kind": "保养",
            "payer": "保险",
            "total_amount": "¥1,234.50",
            "advisor_name": "王师傅",
        },
    )
    assert errors == []
    assert clean["repair_kind"] == RepairKind.MAINTENANCE
    assert clean["payer"] == Payer.INSURER
    assert clean["total_amount"] == Decimal("1234.50")
    assert clean["opened_date"] == datetime.date(2024, 3, 5)
    _clean, errors = clean_row("repair_orders", {"ro_number": "1", "opened_date": "2024-03-05"})
    assert errors == [("vin", "VIN or Licence plate: one of them is required, and both are empty.")]


def test_repair_kinds_and_payers_are_the_models_choices():
    assert set(normalise._REPAIR_KINDS.values()) == set(RepairKind.values)
    assert set(normalise._PAYERS.values()) == set(Payer.values)
    assert set(normalise._GENDERS.values()) == set(Gender.values)


def test_sales_rows_need_an_order_date_a_model_and_a_price():
    _clean, errors = clean_row("sales", {"phone": "13812345678", "price": "12.5万"})
    assert [field for field, _message in errors] == ["car_model", "order_date"]
    # Zero is a price, not an empty cell.
    clean, errors = clean_row(
        "sales",
        {"phone": "13812345678", "car_model": "极光 S7", "order_date": "2024-03-05", "price": "0"},
    )
    assert errors == []
    assert clean["price"] == Decimal("0.00")


def test_every_field_type_of_every_kind_has_a_cleaner():
    assert set(FIELDS) == set(ImportKind.values)
    for fields in FIELDS.values():
        for field in fields:
            assert field.value_type in normalise._CLEANERS, field


@FAST
@given(st.dates(datetime.date(1927, 6, 1), datetime.date(2100, 12, 31)))
def test_every_spelling_of_a_date_reads_back_the_same_date(day):
    serial = (day - datetime.date(1899, 12, 30)).days
    spellings = [
        day.isoformat(),
        f"{day.year}/{day.month}/{day.day}",
        f"{day.year}.{day.month}.{day.day}",
        f"{day:%Y%m%d}",
        f"{day.year}年{day.month}月{day.day}日",
        f"{day.isoformat()}T23:59:59",
        f"{serial}",
        f"{serial}.5",
    ]
    assert {parse_date(text) for text in spellings} == {day}
