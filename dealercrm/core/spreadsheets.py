"""Cells for files people open in a spreadsheet program (CSV, XLSX): safe from formula injection.

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

import re
from typing import TypeVar

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
