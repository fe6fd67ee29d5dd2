"""The query router: what was typed decides which index ranges are read.

Each kind of key is one B-tree range, `(dealer_id, kind, term >= t AND term < t || U+10FFFF)`,
so the router only has to recognise the shape of the query — digits, a VIN or its tail, a plate
or part of one, Chinese characters, Latin letters — and name the (kind, term) pairs to read.
Probes come in rank order: when two customers match equally well, the earlier probe wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .keys import PLATE_PROVINCES, has_han, is_han, normalise_text
from .models import KeyKind

# Every code point sorts below this one, in byte order (UTF-8 on SQLite, "C" on PostgreSQL).
RANGE_END = "\U0010ffff"
MAX_QUERY = 40

_DIGITS = re.compile(r"\d+")
_LETTERS = re.compile(r"[a-z]+")
_ALNUM = re.compile(r"[a-z0-9]+")
_PLATE_REST = re.compile(r"[A-Z0-9]{1,7}")
_VIN_CHARS = re.compile(r"[A-HJ-NPR-Z0-9]+")  # no I, O or Q in a VIN
_ID_NUMBER = re.compile(r"\d{17}[\dX]")

# Kinds whose key is the whole value: a key equal to the probe is an exact match.
WHOLE_KINDS = frozenset(
    {
        KeyKind.NAME,
        KeyKind.PINYIN,
        KeyKind.INITIALS,
        KeyKind.LATIN_NAME,
        KeyKind.PHONE,
        KeyKind.VIN,
        KeyKind.PLATE,
        KeyKind.ID_HASH,
    }
)
# Kinds that hold suffixes: a match there is a substring match, ranked after prefixes.
INNER_KINDS = frozenset({KeyKind.NAME_INNER, KeyKind.PLATE_INNER})


class QueryShape(StrEnum):
    EMPTY = "empty"
    PHONE = "phone"  # 7+ digits: a whole number or its start, and its tail
    PHONE_TAIL = "phone_tail"  # 3–6 digits (6 digits: also a VIN tail)
    ID_NUMBER = "id_number"  # 18 characters of a resident ID
    VIN = "vin"  # 17 VIN characters
    VIN_PART = "vin_part"  # 8–16 VIN characters: the start of a VIN
    PLATE = "plate"  # province character + letters and digits
    PLATE_PART = "plate_part"  # letters and digits mixed (6 of them: also a VIN tail)
    CHINESE = "chinese"  # a name or part of one, a company name
    LATIN = "latin"  # pinyin, initials, a Latin name
    TOO_SHORT = "too_short"  # one or two digits: would match everyone


@dataclass(frozen=True)
class Probe:
    """One index range to read: keys of `kind` whose term starts with `term` (or equals it)."""

    kind: int
    term: str
    exact_only: bool = False

    @property
    def upper(self) -> str:
        return self.term + RANGE_END


@dataclass(frozen=True)
class RoutedQuery:
    shape: QueryShape
    text: str  # the normalised query
    probes: tuple[Probe, ...]

    def kinds(self) -> list[int]:
        return [p.kind for p in self.probes]


def _reversed(text: str) -> str:
    return text[::-1]


def route(query: str, *, id_hash: str = "") -> RoutedQuery:
    """Classify what was typed and name the index ranges that answer it.

    `id_hash` is the keyed hash of the query when it has the shape of a resident ID number;
    the caller computes it (the hash key belongs to the customers app).
    """
    text = normalise_text(query)[:MAX_QUERY]
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("+"):
        text = text[1:]
    if not text:
        return RoutedQuery(QueryShape.EMPTY, text, ())
    code = text.upper()

    if _DIGITS.fullmatch(text):
        n = len(text)
        if n <= 2:
            return RoutedQuery(QueryShape.TOO_SHORT, text, ())
        if n == 18 and id_hash:
            return RoutedQuery(
                QueryShape.ID_NUMBER, text, (Probe(KeyKind.ID_HASH, id_hash, exact_only=True),)
            )
        if n >= 7:
            probes = [Probe(KeyKind.PHONE, text), Probe(KeyKind.PHONE_TAIL, _reversed(text))]
            if n == 17:
                probes.append(Probe(KeyKind.VIN, code))
            return RoutedQuery(QueryShape.PHONE, text, tuple(probes))
        probes = [Probe(KeyKind.PHONE_TAIL, _reversed(text))]
        if n == 6:
            probes.append(Probe(KeyKind.VIN_TAIL, _reversed(code)))
        # Staff also say a car by the digits of its plate (沪A12345 → "2345").
        probes.append(Probe(KeyKind.PLATE_INNER, code))
        return RoutedQuery(QueryShape.PHONE_TAIL, text, tuple(probes))

    if _ID_NUMBER.fullmatch(code) and id_hash:
        return RoutedQuery(
            QueryShape.ID_NUMBER, text, (Probe(KeyKind.ID_HASH, id_hash, exact_only=True),)
        )

    if has_han(text):
        first, rest = code[0], code[1:]
        if first in PLATE_PROVINCES and rest and _PLATE_REST.fullmatch(rest):
            return RoutedQuery(QueryShape.PLATE, text, (Probe(KeyKind.PLATE, code),))
        probes = [Probe(KeyKind.NAME, text), Probe(KeyKind.NAME_INNER, text)]
        if len(text) == 1 and first in PLATE_PROVINCES:
            # 苏 is a surname and a province: the name ranks first, plates of 苏 after.
            probes.append(Probe(KeyKind.PLATE, code))
        return RoutedQuery(QueryShape.CHINESE, text, tuple(probes))

    if _LETTERS.fullmatch(text):
        return RoutedQuery(
            QueryShape.LATIN,
            text,
            (
                Probe(KeyKind.PINYIN, text),
                Probe(KeyKind.INITIALS, text),
                Probe(KeyKind.LATIN_NAME, text),
            ),
        )

    if _ALNUM.fullmatch(text):  # letters and digits mixed
        n = len(text)
        is_vin_like = bool(_VIN_CHARS.fullmatch(code))
        if n == 17 and is_vin_like:
            return RoutedQuery(QueryShape.VIN, text, (Probe(KeyKind.VIN, code),))
        if n >= 8 and is_vin_like:
            return RoutedQuery(QueryShape.VIN_PART, text, (Probe(KeyKind.VIN, code),))
        probes = [Probe(KeyKind.PLATE_INNER, code)]
        if n == 6 and is_vin_like:
            probes.append(Probe(KeyKind.VIN_TAIL, _reversed(code)))
        return RoutedQuery(QueryShape.PLATE_PART, text, tuple(probes))

    # Anything else (a name with symbols, a Latin name with an apostrophe …): names.
    if any(is_han(ch) or ch.isalpha() for ch in text):
        return RoutedQuery(
            QueryShape.CHINESE,
            text,
            (
                Probe(KeyKind.NAME, text),
                Probe(KeyKind.NAME_INNER, text),
                Probe(KeyKind.LATIN_NAME, text),
            ),
        )
    return RoutedQuery(QueryShape.EMPTY, text, ())
