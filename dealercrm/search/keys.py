"""What a customer can be found by: pure functions from fields to (kind, term) pairs.

Used by the services when a customer or vehicle changes, and by the demo generator and imports
in bulk. Every term is matched as a prefix (one B-tree range), so substrings are stored as
suffixes and tails as reversed strings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

from .models import KeyKind

MAX_TERM = 64
_SPACES = re.compile(r"[\s·•\-_.]+")


def normalise_text(text: str) -> str:
    """NFKC (full-width → half-width), lower-case, no spaces or separators."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).lower()


@lru_cache(maxsize=65536)
def pinyin_of(name: str) -> tuple[str, str]:
    """张三 → ("zhangsan", "zs"). Characters that are not Chinese pass through lower-cased."""
    syllables = [s for s in lazy_pinyin(name, style=Style.NORMAL, errors="default") if s.strip()]
    syllables = [normalise_text(s) for s in syllables]
    full = "".join(syllables)
    initials = "".join(s[0] for s in syllables if s)
    return full, initials


def suffixes(text: str, *, min_length: int = 1) -> Iterator[str]:
    for start in range(0, max(len(text) - min_length + 1, 0)):
        yield text[start : start + MAX_TERM]


def national_number(e164: str) -> str:
    """+8613812341234 → 13812341234; numbers of other countries keep their country code."""
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")


def name_keys(name: str, latin_name: str = "") -> Iterator[tuple[int, str]]:
    norm = normalise_text(name)
    seen: set[str] = set()
    for suffix in suffixes(norm):
        if suffix not in seen:
            seen.add(suffix)
            yield KeyKind.NAME, suffix
    if any("\u4e00" <= ch <= "\u9fff" for ch in norm):
        full, initials = pinyin_of(norm)
        if full:
            yield KeyKind.PINYIN, full[:MAX_TERM]
        if initials:
            yield KeyKind.INITIALS, initials[:MAX_TERM]
    latin = normalise_text(latin_name)
    if latin:
        yield KeyKind.LATIN_NAME, latin[:MAX_TERM]


def phone_keys(e164: str) -> Iterator[tuple[int, str]]:
    digits = national_number(e164)
    if digits:
        yield KeyKind.PHONE, digits
        yield KeyKind.PHONE_TAIL, digits[::-1]


def vehicle_keys(vin: str, plate: str) -> Iterator[tuple[int, str]]:
    vin = normalise_text(vin).upper()
    if vin:
        yield KeyKind.VIN, vin
        yield KeyKind.VIN_TAIL, vin[::-1]
    plate = normalise_text(plate).upper()
    seen: set[str] = set()
    for suffix in suffixes(plate):
        if suffix not in seen:
            seen.add(suffix)
            yield KeyKind.PLATE, suffix


def customer_keys(
    *,
    name: str,
    latin_name: str = "",
    phones: Iterable[str] = (),
    id_number_hash: str = "",
) -> list[tuple[int, str]]:
    """Keys of the customer's own fields (vehicles add theirs with vehicle_keys)."""
    keys = list(name_keys(name, latin_name))
    for phone in phones:
        keys.extend(phone_keys(phone))
    if id_number_hash:
        keys.append((KeyKind.ID_HASH, id_number_hash))
    return keys
