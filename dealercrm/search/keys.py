"""What a customer can be found by: pure functions from fields to (kind, term) pairs.

Used by the services when a customer or vehicle changes, and by the demo generator and imports
in bulk (`customer_key_rows` / `vehicle_key_rows` build plain tuples, no ORM object per row).
Every term is matched as a prefix (one B-tree range), so substrings are stored as suffixes
(the whole value under one kind, its inner suffixes under another, so a prefix match can rank
before a substring match) and tails as reversed strings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

from .models import KeyKind

MAX_TERM = 64
# Plate parts shorter than this find too much to be useful ("A", "8").
MIN_PLATE_PART = 2
_SPACES = re.compile(r"[\s·•\-_.()（）]+")

# A key row as the bulk paths write it: (dealer_id, customer_id, vehicle_id, kind, term).
KeyRow = tuple[int, int, int | None, int, str]

# Characters whose reading as a surname differs from pypinyin's everyday reading
# (曾 is "ceng" in 曾经 but "zeng" as a surname). pypinyin has no surname mode, so the surname
# reading is kept here and stored beside the everyday one: people type either.
SURNAME_READINGS: dict[str, str] = {
    "曾": "zeng",
    "单": "shan",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "查": "zha",
    "朴": "piao",
    "盖": "ge",
    "翟": "zhai",
    "乐": "yue",
    "繁": "po",
    "缪": "miao",
    "覃": "qin",
    "秘": "bi",
    "冼": "xian",
    "过": "guo",
    "纪": "ji",
    "燕": "yan",
    "种": "chong",
    "重": "chong",
    "那": "na",
    "粘": "nian",
    "藏": "zang",
    "扎": "za",
    "都": "du",
    "六": "lu",
    "薄": "bo",
    "贾": "jia",
    "居": "ju",
    "塔": "ta",
    "柏": "bai",
    "牟": "mou",
    "殷": "yin",
    "陆": "lu",
    "乜": "nie",
    "阚": "kan",
    "叶": "ye",
    "强": "qiang",
    "车": "che",
    "沈": "shen",
    "宿": "su",
    "南": "nan",
    "卜": "bu",
    "员": "yun",
    "折": "she",
    "佴": "nai",
    "石": "shi",
    "冯": "feng",
    "瞿": "qu",
    "盛": "sheng",
    "召": "shao",
    "句": "gou",
    "隗": "wei",
    "祭": "zhai",
    "尉": "wei",
}

# Licence plates start with the province's one-character abbreviation (使 and 领 for embassies).
PLATE_PROVINCES = frozenset("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领")


def _ascii_digits(text: str) -> str:
    """Digits of any script (١٢٣, 𝟏𝟐𝟑) as 0–9: a phone typed on any keyboard still matches."""
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch for ch in text
    )


def normalise_text(text: str) -> str:
    """NFKC (full-width → half-width), digits as 0–9, lower-case, no spaces or separators."""
    return _ascii_digits(_SPACES.sub("", unicodedata.normalize("NFKC", text or ""))).lower()


def normalise_code(text: str) -> str:
    """Plates and VINs: normalised like text, but upper-case."""
    return normalise_text(text).upper()


def is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def has_han(text: str) -> bool:
    return any(is_han(ch) for ch in text)


def _syllables(text: str) -> list[str]:
    return [normalise_text(s) for s in lazy_pinyin(text, style=Style.NORMAL) if s.strip()]


@lru_cache(maxsize=65536)
def pinyin_readings(name: str) -> tuple[tuple[str, str], ...]:
    """Every (full pinyin, initials) a person may type for this name, everyday reading first.

    张三 → (("zhangsan", "zs"),); 曾国藩 → (("cengguofan", "cgf"), ("zengguofan", "zgf"));
    吕布 → (("lvbu", "lb"), ("lubu", "lb")) since ü is typed as v or u.
    """
    norm = normalise_text(name)
    if not norm:
        return ()
    variants = [_syllables(norm)]
    surname = SURNAME_READINGS.get(norm[0])
    if surname and variants[0] and variants[0][0] != surname:
        variants.append([surname, *_syllables(norm[1:])])
    readings: list[tuple[str, str]] = []
    for syllables in variants:
        for spelled in (syllables, [s.replace("v", "u") for s in syllables]):
            full = "".join(spelled)[:MAX_TERM]
            initials = "".join(s[0] for s in spelled if s)[:MAX_TERM]
            if full and (full, initials) not in readings:
                readings.append((full, initials))
    return tuple(readings)


def pinyin_of(name: str) -> tuple[str, str]:
    """张三 → ("zhangsan", "zs"): the everyday reading."""
    readings = pinyin_readings(name)
    return readings[0] if readings else ("", "")


def suffixes(text: str, *, min_length: int = 1) -> Iterator[str]:
    for start in range(0, max(len(text) - min_length + 1, 0)):
        yield text[start : start + MAX_TERM]


def national_number(e164: str) -> str:
    """+8613812341234 → 13812341234; numbers of other countries keep their country code."""
    text = _ascii_digits(unicodedata.normalize("NFKC", e164 or ""))
    digits = re.sub(r"[^0-9]", "", text)
    if text.startswith("+86"):
        return digits[2:]
    return digits


def _whole_and_inner(
    text: str, whole_kind: int, inner_kind: int, min_inner: int = 1
) -> Iterator[tuple[int, str]]:
    """The whole value under one kind, each distinct inner suffix under the other."""
    if not text:
        return
    yield whole_kind, text[:MAX_TERM]
    seen: set[str] = set()
    for suffix in suffixes(text[1:], min_length=min_inner):
        if suffix not in seen:
            seen.add(suffix)
            yield inner_kind, suffix


def name_keys(name: str, latin_name: str = "") -> Iterator[tuple[int, str]]:
    norm = normalise_text(name)
    yield from _whole_and_inner(norm, KeyKind.NAME, KeyKind.NAME_INNER)
    if norm and any(is_han(ch) or ch.isalpha() for ch in norm):
        fulls: set[str] = set()
        initials_seen: set[str] = set()
        for full, initials in pinyin_readings(norm):
            if full not in fulls:
                fulls.add(full)
                yield KeyKind.PINYIN, full
            if initials and initials not in initials_seen and has_han(norm):
                initials_seen.add(initials)
                yield KeyKind.INITIALS, initials
    latin = normalise_text(latin_name)
    if latin:
        yield KeyKind.LATIN_NAME, latin[:MAX_TERM]


def phone_keys(e164: str) -> Iterator[tuple[int, str]]:
    digits = national_number(e164)
    if digits:
        yield KeyKind.PHONE, digits[:MAX_TERM]
        yield KeyKind.PHONE_TAIL, digits[::-1][:MAX_TERM]


def vehicle_keys(vin: str, plate: str) -> Iterator[tuple[int, str]]:
    vin = normalise_code(vin)
    if vin:
        yield KeyKind.VIN, vin[:MAX_TERM]
        yield KeyKind.VIN_TAIL, vin[::-1][:MAX_TERM]
    yield from _whole_and_inner(
        normalise_code(plate), KeyKind.PLATE, KeyKind.PLATE_INNER, MIN_PLATE_PART
    )


def customer_keys(
    *,
    name: str,
    latin_name: str = "",
    phones: Iterable[str] = (),
    id_number_hash: str = "",
) -> list[tuple[int, str]]:
    """Keys of the customer's own fields (vehicles add theirs with vehicle_keys)."""
    keys = list(name_keys(name, latin_name))
    seen: set[str] = set()
    for phone in phones:
        if phone not in seen:
            seen.add(phone)
            keys.extend(phone_keys(phone))
    if id_number_hash:
        keys.append((KeyKind.ID_HASH, id_number_hash))
    return keys


def customer_key_rows(
    dealer_id: int,
    customer_id: int,
    *,
    name: str,
    latin_name: str = "",
    phones: Iterable[str] = (),
    id_number_hash: str = "",
) -> list[KeyRow]:
    """Plain tuples for the bulk paths (demo generator, imports, full rebuild)."""
    return [
        (dealer_id, customer_id, None, kind, term)
        for kind, term in customer_keys(
            name=name, latin_name=latin_name, phones=phones, id_number_hash=id_number_hash
        )
    ]


def vehicle_key_rows(
    dealer_id: int, customer_id: int, vehicle_id: int, *, vin: str, plate: str
) -> list[KeyRow]:
    """Plain tuples of a vehicle's keys, pointing at its current owner."""
    return [
        (dealer_id, customer_id, vehicle_id, kind, term) for kind, term in vehicle_keys(vin, plate)
    ]
