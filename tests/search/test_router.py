"""The query router: each shape of query goes to its own index ranges."""

from __future__ import annotations

import pytest

from dealercrm.search.models import KeyKind as K
from dealercrm.search.router import QueryShape as S
from dealercrm.search.router import route


@pytest.mark.parametrize(
    ("query", "shape", "probes"),
    [
        ("", S.EMPTY, []),
        ("   ", S.EMPTY, []),
        ("12", S.TOO_SHORT, []),
        ("123", S.PHONE_TAIL, [(K.PHONE_TAIL, "321"), (K.PLATE_INNER, "123")]),
        ("1234", S.PHONE_TAIL, [(K.PHONE_TAIL, "4321"), (K.PLATE_INNER, "1234")]),
        (
            "234567",
            S.PHONE_TAIL,
            [(K.PHONE_TAIL, "765432"), (K.VIN_TAIL, "765432"), (K.PLATE_INNER, "234567")],
        ),
        ("13812341234", S.PHONE, [(K.PHONE, "13812341234"), (K.PHONE_TAIL, "43214321831")]),
        ("+86 138-1234-1234", S.PHONE, [(K.PHONE, "13812341234"), (K.PHONE_TAIL, "43214321831")]),
        ("１３８１２３４", S.PHONE, [(K.PHONE, "1381234"), (K.PHONE_TAIL, "4321831")]),
        ("LSVAB2BX6P1234567", S.VIN, [(K.VIN, "LSVAB2BX6P1234567")]),
        ("lsvab2bx6p1234567", S.VIN, [(K.VIN, "LSVAB2BX6P1234567")]),
        ("LSVAB2BX", S.VIN_PART, [(K.VIN, "LSVAB2BX")]),
        ("P12345", S.PLATE_PART, [(K.PLATE_INNER, "P12345"), (K.VIN_TAIL, "54321P")]),
        ("a1", S.PLATE_PART, [(K.PLATE_INNER, "A1")]),
        ("A12", S.PLATE_PART, [(K.PLATE_INNER, "A12")]),
        ("沪A12345", S.PLATE, [(K.PLATE, "沪A12345")]),
        ("沪a", S.PLATE, [(K.PLATE, "沪A")]),
        ("粤B·D12345", S.PLATE, [(K.PLATE, "粤BD12345")]),
        ("张三", S.CHINESE, [(K.NAME, "张三"), (K.NAME_INNER, "张三")]),
        ("三", S.CHINESE, [(K.NAME, "三"), (K.NAME_INNER, "三")]),
        # 苏 is a surname and a province: names first, then plates.
        ("苏", S.CHINESE, [(K.NAME, "苏"), (K.NAME_INNER, "苏"), (K.PLATE, "苏")]),
        ("京东", S.CHINESE, [(K.NAME, "京东"), (K.NAME_INNER, "京东")]),
        ("极光4S", S.CHINESE, [(K.NAME, "极光4s"), (K.NAME_INNER, "极光4s")]),
        (
            "zhangsan",
            S.LATIN,
            [(K.PINYIN, "zhangsan"), (K.INITIALS, "zhangsan"), (K.LATIN_NAME, "zhangsan")],
        ),
        ("ZS", S.LATIN, [(K.PINYIN, "zs"), (K.INITIALS, "zs"), (K.LATIN_NAME, "zs")]),
        (
            "O'Brien",
            S.CHINESE,
            [(K.NAME, "o'brien"), (K.NAME_INNER, "o'brien"), (K.LATIN_NAME, "o'brien")],
        ),
        ("!!!", S.EMPTY, []),
    ],
)
def test_router_classifies_the_query_by_its_shape(query, shape, probes):
    routed = route(query)
    assert routed.shape == shape
    assert [(p.kind, p.term) for p in routed.probes] == probes


def test_an_id_number_goes_to_its_hash_only():
    routed = route("11010119900307123X", id_hash="abc")
    assert routed.shape == S.ID_NUMBER
    assert [(p.kind, p.term, p.exact_only) for p in routed.probes] == [(K.ID_HASH, "abc", True)]


def test_an_id_number_without_a_valid_hash_is_read_as_digits():
    assert route("110101199003071234").shape == S.PHONE


def test_a_very_long_query_is_cut_to_the_maximum_length():
    assert len(route("张" * 200).text) == 40
