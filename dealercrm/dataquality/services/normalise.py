"""Fast cleaning of one imported value at a time, and of a whole row.

Each cleaner is a pure function that returns the normal form or raises ValueError with a
translated message saying what is wrong. The validators give exactly the results and messages of
the foundation's (dealercrm/customers/validators.py, dealercrm/vehicles/validators.py) but take
a fast path for the common case (a regular expression and the check digit, no phonenumbers
parsing) and fall back to the foundation's function for everything else, so the rules live in
one place. Results that cost something and repeat are cached (dates, places, mileages, and
whatever needed the foundation's validator, such as landlines); errors are not cached, so their
message is always in the current language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from operator import getitem
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from dealercrm.customers.validators import (
    ID_CHECK_CHARACTERS,
    ID_NUMBER_WEIGHTS,
    ID_PROVINCE_CODES,
    normalise_email,
    normalise_id_number,
    normalise_phone,
)
from dealercrm.dataquality.services.import_fields import (
    REQUIRED_ONE_OF,
    ImportField,
    fields_by_name,
    one_of_label,
)
from dealercrm.vehicles.validators import (
    NEV_LETTERS,
    PROVINCES,
    VIN_TRANSLITERATION,
    VIN_WEIGHTS,
    validate_plate,
    validate_vin,
)

_CACHE_SIZE = 65536


def _message(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


# --- Text --------------------------------------------------------------------------------------


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """NFKC (full-width to half-width), control characters dropped, runs of spaces collapsed
    to one, stripped."""
    if not value:
        return ""
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value)
    if not value.isprintable():
        value = _CONTROL_CHARACTERS.sub("", value)
    return " ".join(value.split())


# --- Dates -------------------------------------------------------------------------------------

# 2024-03-05, 2024/3/5, 2024.3.5, 2024年3月5日, each optionally followed by a time of day.
_YMD = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:(?:\s+|T)\d{1,2}[:：]\d{2}(?:[:：]\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?",
    re.ASCII,
)
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})", re.ASCII)
# Excel's serial day numbers, as a cell that was not formatted as a date gives them. Only five
# digits (1927-05-18 onwards) count: "2024" or "1" alone are far likelier mistakes than dates.
_SERIAL = re.compile(r"(\d{5})(?:\.\d+)?", re.ASCII)
_EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 is 1900-01-01 once Excel's 1900-02-29 is skipped
EARLIEST_YEAR, LATEST_YEAR = 1900, 2100


def parse_date(value: str) -> date | None:
    """A date from the usual spreadsheet spellings, Excel serials included; empty gives None.

    Accepted: 2024-03-05, 2024/3/5, 2024.3.5, 20240305, 2024年3月5日, ISO date-times (the time is
    dropped) and Excel serial numbers (45356 or 45356.0, the 1900 date system). Day-first or
    month-first spellings (05/03/2024) are refused: they are ambiguous.
    """
    if not value or value.isspace():
        return None
    return _parse_date(value)


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_date(value: str) -> date:
    text = clean_text(value)
    if match := _YMD.fullmatch(text) or _COMPACT.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
        try:
            result = date(year, month, day)
        except ValueError:
            raise ValueError(
                _("“%(value)s” is not a real date: check the month and the day.") % {"value": text}
            ) from None
    elif match := _SERIAL.fullmatch(text):
        result = _EXCEL_EPOCH + timedelta(days=int(match.group(1)))
    else:
        raise ValueError(
            _("“%(value)s” is not a date; write it like 2024-03-05.") % {"value": text}
        )
    if not EARLIEST_YEAR <= result.year <= LATEST_YEAR:
        raise ValueError(
            _("“%(value)s” is outside the years %(first)d–%(last)d.")
            % {"value": text, "first": EARLIEST_YEAR, "last": LATEST_YEAR}
        )
    return result


# --- Places ------------------------------------------------------------------------------------

# The 34 province-level divisions, in the form the CRM keeps (as dealercrm/demo writes them),
# with the short names, one-character abbreviations and pinyin that spreadsheets use.
_PROVINCE_NAMES: dict[str, tuple[str, ...]] = {
    "北京市": ("北京", "京", "beijing"),
    "天津市": ("天津", "津", "tianjin"),
    "上海市": ("上海", "沪", "申", "shanghai"),
    "重庆市": ("重庆", "渝", "chongqing"),
    "河北省": ("河北", "冀", "hebei"),
    "山西省": ("山西", "晋", "shanxi"),
    "辽宁省": ("辽宁", "辽", "liaoning"),
    "吉林省": ("吉林", "吉", "jilin"),
    "黑龙江省": ("黑龙江", "黑", "heilongjiang"),
    "江苏省": ("江苏", "苏", "jiangsu"),
    "浙江省": ("浙江", "浙", "zhejiang"),
    "安徽省": ("安徽", "皖", "anhui"),
    "福建省": ("福建", "闽", "fujian"),
    "江西省": ("江西", "赣", "jiangxi"),
    "山东省": ("山东", "鲁", "shandong"),
    "河南省": ("河南", "豫", "henan"),
    "湖北省": ("湖北", "鄂", "hubei"),
    "湖南省": ("湖南", "湘", "hunan"),
    "广东省": ("广东", "粤", "guangdong"),
    "海南省": ("海南", "琼", "hainan"),
    "四川省": ("四川", "川", "蜀", "sichuan"),
    "贵州省": ("贵州", "贵", "黔", "guizhou"),
    "云南省": ("云南", "云", "滇", "yunnan"),
    "陕西省": ("陕西", "陕", "秦", "shaanxi"),
    "甘肃省": ("甘肃", "甘", "陇", "gansu"),
    "青海省": ("青海", "青", "qinghai"),
    "台湾省": ("台湾", "台", "taiwan"),
    "内蒙古自治区": ("内蒙古", "内蒙", "蒙", "内蒙古省", "neimenggu", "innermongolia"),
    "广西壮族自治区": ("广西", "桂", "广西自治区", "广西省", "guangxi"),
    "西藏自治区": ("西藏", "藏", "西藏省", "xizang", "tibet"),
    "宁夏回族自治区": ("宁夏", "宁", "宁夏自治区", "宁夏省", "ningxia"),
    "新疆维吾尔自治区": ("新疆", "新", "新疆自治区", "新疆省", "xinjiang"),
    "香港特别行政区": ("香港", "港", "香港特区", "hongkong"),
    "澳门特别行政区": ("澳门", "澳", "澳门特区", "macao", "macau"),
}
_PROVINCES: dict[str, str] = {
    alias: name
    for name, aliases in _PROVINCE_NAMES.items()
    for alias in (name, *aliases, f"{aliases[0]}省", f"{aliases[0]}市")
    # 北京省 or 广东市 are slips of the pen for the one province; never a different one.
}
PROVINCE_NAMES = tuple(_PROVINCE_NAMES)


def _place_key(value: str) -> str:
    return "".join(clean_text(value).split()).lower()


@lru_cache(maxsize=4096)
def normalise_province(value: str) -> str:
    """The full official name of a province-level division ("广东" → "广东省"); "" for empty."""
    key = _place_key(value)
    if not key:
        return ""
    try:
        return _PROVINCES[key]
    except KeyError:
        raise ValueError(
            _("“%(value)s” is not a Chinese province, municipality or autonomous region.")
            % {"value": clean_text(value)}
        ) from None


# Endings of prefecture-level names that stay as written; a plain name gets 市.
_CITY_ENDINGS = ("市", "自治州", "地区", "盟", "县", "区")
_ALL_CJK = re.compile(r"[\u4e00-\u9fff]+")


@lru_cache(maxsize=4096)
def normalise_city(value: str) -> str:
    """A city name with its suffix ("深圳" → "深圳市"); 自治州, 地区 and 盟 are kept.

    A leading province ("广东省深圳市" or "广东深圳") is dropped, since the province has its own
    column; a municipality's city is the municipality itself ("上海" → "上海市"). Names not in
    Chinese characters are only cleaned (NFKC, spaces).
    """
    text = "".join(clean_text(value).split())
    if not text:
        return ""
    if text in _PROVINCES and _PROVINCES[text].endswith("市"):
        return _PROVINCES[text]
    for province, aliases in _PROVINCE_NAMES.items():
        if province.endswith("市"):
            continue  # 上海市浦东新区: the rest is a district, not a city
        for prefix in (province, aliases[0]):
            if text.startswith(prefix) and len(text) > len(prefix) + 1:
                text = text[len(prefix) :]
                break
        else:
            continue
        break
    if not _ALL_CJK.fullmatch(text):
        return clean_text(value)
    if text.endswith(_CITY_ENDINGS):
        return text
    return text + "市"


# --- Phones, ID numbers, e-mail, VINs, plates ---------------------------------------------------
#
# Each validator tries a fast path (a regular expression and, where there is one, the check digit)
# that accepts only values the foundation's validator accepts with the same result; anything
# else goes to the foundation's validator, whose results are cached (landlines and company numbers
# repeat, and phonenumbers costs tens of µs) and whose errors are raised as ValueError.


def _fallback(validator: Callable[[str], str]) -> Callable[[str], str]:
    @lru_cache(maxsize=_CACHE_SIZE)
    def slow(raw: str) -> str:
        try:
            return validator(raw)
        except ValidationError as exc:
            raise ValueError(_message(exc)) from None

    return slow


_slow_phone = _fallback(normalise_phone)
_slow_id_number = _fallback(normalise_id_number)
_slow_email = _fallback(normalise_email)
_slow_vin = _fallback(validate_vin)
_slow_plate = _fallback(validate_plate)

# Exactly the mobile numbers phonenumbers accepts for China (its own metadata's pattern), written
# as 11 digits with an optional +86 / 0086 / 86 and spaces or dashes between the groups.
_CN_MOBILE = re.compile(
    phonenumbers.PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern
)
_PHONE_SHAPE = re.compile(r"(?:\+86|0086|86)?[ -]?(1\d\d)[ -]?(\d{4})[ -]?(\d{4})", re.ASCII)


def fast_phone(raw: str) -> str:
    """E.164 phone number, exactly as normalise_phone gives it (and its error messages)."""
    text = raw.strip()
    if len(text) == 11 and text.isdigit() and text.isascii():
        if _CN_MOBILE.fullmatch(text):
            return "+86" + text
    elif text.isascii() and (match := _PHONE_SHAPE.fullmatch(text)) is not None:
        digits = "".join(match.groups())
        if _CN_MOBILE.fullmatch(digits):
            return "+86" + digits
    return _slow_phone(raw)


_ID_SHAPE = re.compile(r"\d{17}[\dXx]", re.ASCII)
# weight × digit for each position, so the check sum is one C-level map over the characters.
_ID_TERMS = [{str(d): d * weight for d in range(10)} for weight in ID_NUMBER_WEIGHTS]


@lru_cache(maxsize=_CACHE_SIZE)
def _plausible_birth(digits: str) -> bool:
    """Whether YYYYMMDD is a real date from 1900 to more than a day ago. Cached: a True stays
    true as days pass, and a birth date of yesterday or later goes to the foundation's check."""
    try:
        birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return False
    return birth.year >= EARLIEST_YEAR and birth < date.today() - timedelta(days=1)


def fast_id_number(raw: str) -> str:
    """A valid 18-character ID number, exactly as normalise_id_number gives it."""
    text = raw.strip()
    if (
        _ID_SHAPE.fullmatch(text)
        and text[:2] in ID_PROVINCE_CODES
        and _plausible_birth(text[6:14])
        and ID_CHECK_CHARACTERS[sum(map(getitem, _ID_TERMS, text[:17])) % 11] == text[17].upper()
    ):
        return text.upper()
    return _slow_id_number(raw)


# A plain address: dot-separated atoms before the @, a domain of letters, digits and hyphens
# with a letter TLD. Every such address passes Django's validate_email; others go through it.
_EMAIL_SHAPE = re.compile(
    r"[A-Za-z0-9_+\-]+(?:\.[A-Za-z0-9_+\-]+)*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)


def fast_email(raw: str) -> str:
    """A valid e-mail address with a lower-case domain, exactly as normalise_email gives it."""
    text = raw.strip()
    if len(text) <= 254 and (match := _EMAIL_SHAPE.fullmatch(text)) is not None:
        return text[: match.start(1)] + match.group(1).lower()
    return _slow_email(raw)


_VIN_SHAPE = re.compile(r"[A-HJ-NPR-Za-hj-npr-z0-9]{17}")
_VIN_TERMS = [
    {ch: value * weight for ch, value in VIN_TRANSLITERATION.items()} for weight in VIN_WEIGHTS
]


def fast_vin(raw: str) -> str:
    """A valid VIN, exactly as validate_vin gives it (and its error messages)."""
    text = raw.strip()
    if _VIN_SHAPE.fullmatch(text):
        vin = text.upper()
        remainder = sum(map(getitem, _VIN_TERMS, vin)) % 11
        if vin[8] == ("X" if remainder == 10 else str(remainder)):
            return vin
    return _slow_vin(raw)


_PLATE_SERIAL = "A-HJ-NP-Za-hj-np-z0-9"
# Ordinary plates (province, city letter, 5 letters or digits) and new-energy plates.
_PLATE_SHAPE = re.compile(
    rf"[{PROVINCES}][A-HJ-NP-Za-hj-np-z](?:[{_PLATE_SERIAL}]{{5}}|"
    rf"[{NEV_LETTERS}{NEV_LETTERS.lower()}][{_PLATE_SERIAL}]\d{{4}}|\d{{5}}[DFdf])",
    re.ASCII,
)


def fast_plate(raw: str) -> str:
    """A valid plate, exactly as validate_plate gives it (and its error messages)."""
    text = raw.strip()
    if _PLATE_SHAPE.fullmatch(text):
        return text.upper()
    return _slow_plate(raw)


# --- Numbers, money, choices -------------------------------------------------------------------

MAX_MILEAGE_KM = 2_000_000
_KM_NOISE = re.compile(r"(?:km|公里|千米)$|[,，\s]", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_MONEY_NOISE = re.compile(r"^(?:rmb|cny|¥|￥)|(?:元|rmb|cny)$|[,，\s¥￥]", re.IGNORECASE)
_CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999.99")  # the money columns' 12 digits


def _ten_thousands(text: str) -> tuple[str, int]:
    """ "1.2万" → ("1.2", 10000): spreadsheets write large numbers in 万."""
    if text.endswith("万"):
        return text[:-1], 10000
    return text, 1


@lru_cache(maxsize=_CACHE_SIZE)
def parse_mileage(value: str) -> int | None:
    """Kilometres as a whole number: "12,345 km", "1.2万公里", "12345.0"; empty gives None."""
    if value.isdigit() and value.isascii() and len(value) < 7:  # under a million: no check
        return int(value)
    text = _KM_NOISE.sub("", clean_text(value))
    if not text:
        return None
    number, factor = _ten_thousands(text)
    if text.startswith("-"):
        raise ValueError(_("A mileage cannot be negative (“%(value)s”).") % {"value": value})
    if not _NUMBER.fullmatch(number):
        raise ValueError(
            _("“%(value)s” is not a number of kilometres.") % {"value": clean_text(value)}
        )
    km = int((Decimal(number) * factor).to_integral_value(ROUND_HALF_UP))
    if km > MAX_MILEAGE_KM:
        raise ValueError(
            _("%(km)s km is more than a car drives (at most %(max)s).")
            % {"km": f"{km:,}", "max": f"{MAX_MILEAGE_KM:,}"}
        )
    return km


@lru_cache(maxsize=_CACHE_SIZE)
def parse_money(value: str) -> Decimal | None:
    """Yuan to the cent: "¥123,456.00", "123456元", "12.5万"; empty gives None."""
    if value.isdigit() and value.isascii() and len(value) <= 10:
        return Decimal(value).quantize(_CENT)
    text = _MONEY_NOISE.sub("", clean_text(value))
    if not text:
        return None
    if text.startswith("-"):
        raise ValueError(_("An amount cannot be negative (“%(value)s”).") % {"value": value})
    number, factor = _ten_thousands(text)
    if not _NUMBER.fullmatch(number):
        raise ValueError(_("“%(value)s” is not an amount of money.") % {"value": clean_text(value)})
    try:
        amount = (Decimal(number) * factor).quantize(_CENT, ROUND_HALF_UP)
    except InvalidOperation:
        amount = MAX_AMOUNT + 1
    if amount > MAX_AMOUNT:
        raise ValueError(_("“%(value)s” is too large an amount.") % {"value": clean_text(value)})
    return amount


def _choice_key(value: str) -> str:
    return "".join(clean_text(value).split()).lower()


# Written as the choices' values (dealercrm.customers.models.Gender) to keep this module free of
# model imports; tests check they are the model's.
_GENDERS = {
    **dict.fromkeys(("男", "男性", "先生", "m", "male", "man", "1"), "male"),
    **dict.fromkeys(("女", "女性", "女士", "小姐", "f", "female", "woman", "2"), "female"),
    **dict.fromkeys(("未知", "保密", "不详", "u", "unknown", "0"), "unknown"),
}
# dealercrm.service.models.RepairKind and Payer, as DMS exports name them.
_REPAIR_KINDS = {
    **dict.fromkeys(
        ("保养", "常规保养", "定期保养", "首保", "maintenance", "service"), "maintenance"
    ),
    **dict.fromkeys(("维修", "一般维修", "机修", "普通维修", "repair"), "repair"),
    **dict.fromkeys(("保修", "索赔", "三包", "质保", "warranty"), "warranty"),
    **dict.fromkeys(("事故", "事故车", "钣喷", "钣金", "喷漆", "accident", "bodywork"), "accident"),
    **dict.fromkeys(("召回", "recall"), "recall"),
    **dict.fromkeys(("检测", "检查", "年检", "inspection", "check"), "inspection"),
    **dict.fromkeys(("精品", "加装", "装潢", "精品加装", "accessory", "accessories"), "accessory"),
}
_PAYERS = {
    **dict.fromkeys(("客户", "自费", "客户付费", "现金", "customer", "self"), "customer"),
    **dict.fromkeys(("保修", "索赔", "厂家", "厂家索赔", "三包", "warranty", "oem"), "warranty"),
    **dict.fromkeys(("保险", "保险公司", "insurer", "insurance"), "insurer"),
}


def _choice(table: dict[str, str], error: Callable[[str], str]) -> Callable[[str], str]:
    def clean(value: str) -> str:
        key = _choice_key(value)
        if not key:
            return ""
        try:
            return table[key]
        except KeyError:
            raise ValueError(error(clean_text(value))) from None

    return clean


clean_gender = _choice(
    _GENDERS, lambda v: _("“%(value)s” is not a gender: write 男 or 女 (M or F).") % {"value": v}
)
clean_repair_kind = _choice(
    _REPAIR_KINDS,
    lambda v: (
        _("“%(value)s” is not a repair type: write 保养, 维修, 保修, 事故, 召回, 检测 or 精品.")
        % {"value": v}
    ),
)
clean_payer = _choice(
    _PAYERS, lambda v: _("“%(value)s” is not a payer: write 客户, 保修 or 保险.") % {"value": v}
)


# Marketing consent answers. Keys are compared as _choice_key gives them (NFKC, so full-width
# Ｙ and １ count too, lower case, no spaces). A bare "x" is refused: some mark a ticked box so.
_CONSENTS = {
    **dict.fromkeys(("是", "同意", "已同意", "接受", "y", "yes", "1", "true", "√", "✓", "✔"), True),
    **dict.fromkeys(
        ("否", "不同意", "未同意", "拒绝", "不接受", "n", "no", "0", "false", "×", "✗", "✘"), False
    ),
}


def clean_consent(value: str) -> bool | None:
    """A consent answer: True (是, 同意, Y, yes, 1, true, √), False (否, 不同意, N, no, 0, false,
    ×), None when blank (the file says nothing about this channel)."""
    key = _choice_key(value)
    if not key:
        return None
    try:
        return _CONSENTS[key]
    except KeyError:
        raise ValueError(
            _(
                "“%(value)s” is not a consent answer: write 是, 同意, Y, yes, 1 or √ for yes, "
                "否, 不同意, N, no, 0 or × for no, or leave it empty."
            )
            % {"value": clean_text(value)}
        ) from None


def parse_past_date(value: str) -> date | None:
    """A date as parse_date reads it, not after today (a consent cannot be given in the
    future: the customers' consent form refuses that too)."""
    result = parse_date(value)
    if result is not None and result > timezone.localdate():
        raise ValueError(
            _("“%(value)s” is in the future; a consent date cannot be.")
            % {"value": clean_text(value)}
        )
    return result


# --- Rows --------------------------------------------------------------------------------------

# How each value type is cleaned, and what an empty cell gives.
_CLEANERS: dict[str, tuple[Callable[[str], Any], Any]] = {
    "text": (clean_text, ""),
    "phone": (fast_phone, ""),
    "id_number": (fast_id_number, ""),
    "email": (fast_email, ""),
    "gender": (clean_gender, ""),
    "date": (parse_date, None),
    "past_date": (parse_past_date, None),
    "province": (normalise_province, ""),
    "city": (normalise_city, ""),
    "vin": (fast_vin, ""),
    "plate": (fast_plate, ""),
    "int": (parse_mileage, None),
    "money": (parse_money, None),
    "repair_kind": (clean_repair_kind, ""),
    "payer": (clean_payer, ""),
    "consent": (clean_consent, None),
}


@lru_cache(maxsize=8)
def _plan(kind: str) -> tuple[dict[str, tuple[ImportField, Callable[[str], Any], Any]], list, list]:
    """Per kind, worked out once: {name: (field, cleaner, empty value)}, required fields, groups."""
    fields = fields_by_name(kind)
    cleaners = {name: (field, *_CLEANERS[field.value_type]) for name, field in fields.items()}
    required = [field for field in fields.values() if field.required]
    return cleaners, required, list(REQUIRED_ONE_OF.get(kind, ()))


def clean_row(kind: str, values: dict[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Clean one row {field name: raw cell text}: (clean values, [(field name, message)]).

    Every field is checked and every error reported, not only the first. The clean values hold
    every field of the kind that `values` has (names not of the kind are ignored); an empty cell
    gives "" for text and None for dates and numbers, so the caller can leave what a record
    already has. A field in error is left out of the clean values. Required fields, and the
    either-or groups (a customer's phone or ID number), must be filled in.
    """
    cleaners, required, groups = _plan(kind)
    clean: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for name, raw in values.items():
        plan = cleaners.get(name)
        if plan is None:
            continue
        field, cleaner, empty = plan
        if not raw or raw.isspace():
            clean[name] = empty
            continue
        try:
            value = cleaner(raw)
        except ValueError as exc:
            errors.append((name, str(exc)))
            continue
        if field.max_length and len(value) > field.max_length:
            errors.append((name, _too_long(field, value)))
            continue
        clean[name] = value
    for field in required:
        if clean.get(field.name) in _EMPTY and not _has_error(errors, field.name):
            errors.append((field.name, _required_message(kind, field.name, get_language())))
    for group in groups:
        if not any(clean.get(name) not in _EMPTY or _has_error(errors, name) for name in group):
            errors.append((group[0], _one_of_message(kind, group, get_language())))
    return clean, errors


# Messages of rows with a missing value, per language: a file with thousands of such rows
# should not translate the same sentence thousands of times.
@lru_cache(maxsize=256)
def _required_message(kind: str, name: str, language: str | None) -> str:
    label = fields_by_name(kind)[name].label
    return _("%(field)s is empty; it is required.") % {"field": label}


@lru_cache(maxsize=64)
def _one_of_message(kind: str, group: tuple[str, ...], language: str | None) -> str:
    return _("%(fields)s: one of them is required, and both are empty.") % {
        "fields": one_of_label(kind, group)
    }


_EMPTY = ("", None)  # an empty cell; 0 (a price, a mileage) is a value


def _has_error(errors: list[tuple[str, str]], name: str) -> bool:
    return any(field == name for field, _message in errors)


def _too_long(field: ImportField, value: str) -> str:
    return _("%(field)s is too long: at most %(max)d characters, this has %(count)d.") % {
        "field": field.label,
        "max": field.max_length,
        "count": len(value),
    }
