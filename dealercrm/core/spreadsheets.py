"""Cells for files people open in a spreadsheet program (CSV, XLSX): safe from formula injection;
and `read_cells`, the reader of small uploaded tables (OEM dispatch lists, recall VIN lists).

A text cell that starts with = + - @ (or a tab or carriage return, which some programs skip
before looking for a formula) is run as a formula by Excel, WPS and LibreOffice when the file is
opened: "=HYPERLINK(...)" in a customer's name would become a link that leaks data. OWASP's
advice (CSV injection) is to prefix such a cell with a single quote, so it shows as text.

Decided here: a text that is nothing but a plain decimal number ("-5", "+3.20", "-0.5") is left
as it is. A spreadsheet reads it as that number, which is what it is; no formula can hide in
digits, and a quote would put a stray "'" in front of every negative amount in a CSV. Anything
else starting with one of those characters ("-1+2", "+86 138…", "@SUM(A1)") is neutralised.
Numbers, dates, booleans and None pass through untouched: they are written as values, never
parsed as formulas.
"""

from __future__ import annotations

import csv
import io
import re
from typing import IO, Any, TypeVar

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

T = TypeVar("T")

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# With a byte-order mark Excel opens a UTF-8 CSV as UTF-8, so Chinese stays readable.
UTF8_BOM = "\ufeff"


def neutral_cell(value: T) -> T | str:
    """The value as a spreadsheet program should show it: a text that would run as a formula
    gets a leading "'"; everything else is returned unchanged."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def neutral_row(values) -> list:
    """neutral_cell of every cell of a row."""
    return [neutral_cell(v) for v in values]


def csv_bytes_bom(text: str) -> bytes:
    """CSV text as UTF-8 bytes with a byte-order mark (for Excel)."""
    return (UTF8_BOM + text).encode("utf-8")


# --- Reading an uploaded table -----------------------------------------------------------------

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
# Zip (XLSX, ODS) and OLE (XLS) files: a workbook even when it was saved under a .csv name.
_WORKBOOK_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")
# Excel in China saves "CSV" in GBK; GB18030 is its superset.
_TEXT_ENCODINGS = ("utf-8-sig", "gb18030")


def read_cells(
    file: IO[bytes], filename: str, *, undecodable: str, lines_unless_csv: bool = False
) -> list[list[Any]]:
    """Every row of an uploaded table, blank rows included, from the first line or row 1.

    A workbook (named .xlsx/.xlsm/.xls/.ods, or with a workbook's first bytes) is read with
    python-calamine, its first sheet from A1, cells as calamine types them (str, float, int,
    bool, date, datetime, time, timedelta) so callers can tell a date cell from text. Any other
    file is text in UTF-8 (with or without a byte-order mark) or GBK, read as CSV; with
    `lines_unless_csv`, a file not named .csv is one cell per line (a pasted list).

    The whole file is read into memory: for small uploads; the import engine streams instead.
    Raises ValidationError on "file": a workbook calamine cannot open is "not a spreadsheet we
    can read"; text in any other encoding gets the caller's `undecodable` message.
    """
    name = (filename or "").lower()
    data = file.read()
    if name.endswith(WORKBOOK_SUFFIXES) or data.startswith(_WORKBOOK_SIGNATURES):
        return _workbook_cells(data)
    for encoding in _TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationError({"file": undecodable})
    if lines_unless_csv and not name.endswith(".csv"):
        return [[line] for line in text.splitlines()]
    return list(csv.reader(io.StringIO(text)))


def _workbook_cells(data: bytes) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        return sheet.to_python(skip_empty_area=False)
    except Exception as exc:  # noqa: BLE001 — calamine raises its own kinds for a bad file
        raise ValidationError({"file": _("This is not a spreadsheet we can read.")}) from exc
