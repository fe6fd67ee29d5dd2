"""SMS length counted as the Chinese gateways count it: 70 for one SMS, 67 a part when split,
every character one, the 【signature】 and a marketing SMS's " 回T退订" included."""

from __future__ import annotations

import math

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from dealercrm.messaging.sms_length import (
    UNSUBSCRIBE_SUFFIX,
    SmsLength,
    segments_for,
    sms_length,
    sms_text,
)


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("chars", "segments"),
    [(0, 0), (1, 1), (69, 1), (70, 1), (71, 2), (133, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_segments_at_the_boundaries(chars, segments):
    assert segments_for(chars) == segments


@given(st.integers(min_value=71, max_value=5000))
def test_a_split_text_takes_the_fewest_parts_of_67_that_hold_it(chars):
    segments = segments_for(chars)

    assert segments * 67 >= chars
    assert (segments - 1) * 67 < chars


@given(st.text(min_size=1, max_size=70))
def test_any_text_up_to_70_characters_is_one_sms_whatever_the_script(body):
    assert sms_length(body).segments == 1


@given(st.text(alphabet="您好abcXYZ123，。！ ", min_size=71, max_size=500))
def test_chinese_and_latin_characters_count_alike(body):
    length = sms_length(body)

    assert length.chars == len(body)
    assert length.segments == math.ceil(len(body) / 67)


@pytest.mark.parametrize(
    ("body_chars", "expected"), [(66, (70, 1)), (67, (71, 2)), (130, (134, 2)), (131, (135, 3))]
)
def test_the_signature_counts(body_chars, expected):
    # 【极光】 is 4 characters, and it tips a text over the boundary.
    length = sms_length("好" * body_chars, signature="极光")

    assert (length.chars, length.segments) == expected


def test_a_marketing_sms_gets_the_unsubscribe_suffix_and_it_counts():
    body = "车" * 62  # 【极光】 4 + 62 = 66: one SMS; with " 回T退订" (5) it is 71: two

    assert sms_length(body, signature="极光").segments == 1
    marketing = sms_length(body, signature="极光", marketing=True)

    assert marketing.chars == 66 + len(UNSUBSCRIBE_SUFFIX) == 71
    assert marketing.segments == 2
    assert sms_text(body, signature="极光", marketing=True) == f"【极光】{body} 回T退订"


def test_the_suffix_is_not_added_twice_and_brackets_typed_in_the_signature_are_not_doubled():
    assert sms_text("周末试驾有礼 回T退订", signature="【极光】", marketing=True) == (
        "【极光】周末试驾有礼 回T退订"
    )


def test_the_editor_label_shows_characters_of_the_limit_or_the_segments():
    assert SmsLength(chars=45, segments=1).label == "45/70"
    assert SmsLength(chars=70, segments=1).label == "70/70"
    assert SmsLength(chars=134, segments=2).label == "2 segments (134)"
    assert sms_length("好" * 135).label == "3 segments (135)"
    assert sms_length("好" * 134).limit == 134
    assert sms_length("好" * 10).limit == 70
