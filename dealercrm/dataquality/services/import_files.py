"""Reading an uploaded table (CSV or XLSX) before anything touches the database.

`inspect_table` looks at the file once: its format (from the bytes, not the name), its encoding,
where the header line is (DMS exports often put a title and a blank line above it) and the first
data rows for the preview. `iter_rows` then streams the data rows, as text, with the row number
a spreadsheet program would show, so an error report points at the right line.

Rows are counted as a spreadsheet program shows them: a CSV record is one row even when a quoted
cell holds a line break, and blank lines count. A fully blank row (every cell empty or spaces)
is not a data row: `iter_rows` skips it and `count_rows` does not count it, so it is neither
imported nor reported (for XLSX `count_rows` is the sheet's recorded size: see there).
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import math
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SAMPLE_ROWS = 10
# The header is looked for among the first rows; DMS exports put at most a few lines above it.
HEADER_SEARCH_ROWS = 30
_CHUNK = 1 << 20
_DELIMITERS = (",", "\t", ";", "|")
# A cell that is a number or a date is data, not a header name.
_DATA_CELL = re.compile(
    r"[-+]?[\d,，.]+%?|\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:[ T][\d:.]+)?", re.ASCII
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

csv.field_size_limit(16 * 1024 * 1024)  # a long remark is data, not a reason to stop


class FileProblem(ValidationError):
    """The file cannot be imported at all; raised as FileProblem({"file": [message]}), or
    FileProblem(message) for short."""

    def __init__(self, message: str | dict[str, list[str]]) -> None:
        super().__init__(message if isinstance(message, dict) else {"file": [message]})


@dataclass(frozen=True)
class TableInfo:
    """What `inspect_table` found out about a file."""

    file_format: str  # "csv" or "xlsx"
    encoding: (
        str  # "utf-8", "utf-8-sig", "gb18030" or "utf-16" (Excel's "Unicode text"); "" for xlsx
    )
    sheet: str  # the sheet read (xlsx), "" for csv
    header_row: int  # 0-based index of the header line among the file's lines
    headers: list[str] = field(default_factory=list)
    sample: list[list[str]] = field(default_factory=list)  # first ≤ 10 data rows, as text


# --- Format and encoding -----------------------------------------------------------------------


def _not_a_spreadsheet(filename: str) -> FileProblem:
    if not filename:
        return FileProblem(_("This file is not a spreadsheet: upload an XLSX file or a CSV file."))
    return FileProblem(
        _("“%(file)s” is not a spreadsheet: upload an XLSX file or a CSV file.")
        % {"file": filename}
    )


def _detect_format(head: bytes, filename: str) -> str:
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(
            _(
                "“%(file)s” is an old Excel file (.xls): open it in Excel, save it as XLSX or "
                "CSV, and upload that."
            )
            % {"file": filename or ".xls"}
        )
    probe = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if probe.startswith((b"<html", b"<!doctype", b"<table", b"<?xml")):
        # Some DMS "Excel exports" are web pages named .xls.
        raise FileProblem(
            _(
                "“%(file)s” is a web page, not a spreadsheet: open it in Excel, save it as XLSX "
                "or CSV, and upload that."
            )
            % {"file": filename or ".html"}
        )
    return "csv"


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes strictly (read in chunks, never all in memory)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _detect_encoding(path: Path, head: bytes, filename: str) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif b"\x00" in head:
        raise _not_a_spreadsheet(filename)
    elif head.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif _decodes(path, "utf-8"):
        return "utf-8"
    else:
        encoding = "gb18030"  # covers GBK and GB2312
    if not _decodes(path, encoding):
        raise _not_a_spreadsheet(filename)
    return encoding


# --- Raw records -------------------------------------------------------------------------------


def _sniff_delimiter(text: str) -> str:
    """The delimiter that splits the most of the first lines into several cells, then the one
    giving the widest line; comma when tied (",,," is a blank comma-separated line)."""
    best, best_score = ",", (0, 0)
    for delimiter in _DELIMITERS:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        try:
            widths = [len(row) for row in islice(reader, 50)]
        except csv.Error:
            continue
        score = (sum(1 for width in widths if width > 1), max(widths, default=0))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _open_csv(path: Path, encoding: str) -> tuple[io.TextIOWrapper, Iterator[list[str]]]:
    stream = path.open(encoding=encoding, newline="")
    head = stream.read(64 * 1024)
    stream.seek(0)
    return stream, csv.reader(stream, delimiter=_sniff_delimiter(head))


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text the program shows (13800138000.0 → "13800138000")."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return "" if value is None else str(value)


def _xlsx_sheet(path: Path, sheet_name: str, filename: str):
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        if sheet_name:
            return workbook.get_sheet_by_name(sheet_name)
        # The first visible worksheet that has something in it.
        visible = [
            m.name
            for m in workbook.sheets_metadata
            if str(m.typ).endswith("WorkSheet") and str(m.visible).endswith(".Visible")
        ] or list(workbook.sheet_names)
        for name in visible:
            sheet = workbook.get_sheet_by_name(name)
            if sheet.height and any(
                str(cell).strip() for row in islice(sheet.iter_rows(), 200) for cell in row
            ):
                return sheet
        return workbook.get_sheet_by_name(visible[0]) if visible else None
    except Exception as exc:  # calamine raises its own error types for every kind of bad file
        raise _not_a_spreadsheet(filename) from exc


def _records(
    path: Path, file_format: str, encoding: str, sheet: str, filename: str = "", found=None
) -> Iterator[list[str]]:
    """Every row of the table as text, blank ones included, in order (index = row index)."""
    if file_format == "xlsx":
        found = found or _xlsx_sheet(path, sheet, filename)
        if found is None:
            return
        # calamine yields from the sheet's first row, so the index is the spreadsheet's.
        for row in found.iter_rows():
            yield [cell if type(cell) is str else _cell_text(cell) for cell in row]
        return
    stream, reader = _open_csv(path, encoding)
    with stream:
        try:
            yield from reader
        except csv.Error as exc:
            raise FileProblem(
                _("Row %(row)d of the file cannot be read: %(reason)s")
                % {"row": reader.line_num, "reason": exc}
            ) from exc


def _is_blank(cells: list[str]) -> bool:
    return not "".join(cells).strip()


# --- Header line -------------------------------------------------------------------------------


def _filled(cells: list[str]) -> list[str]:
    return [cell.strip() for cell in cells if cell.strip()]


def _looks_like_header(cells: list[str]) -> bool:
    filled = _filled(cells)
    if len(filled) < 2:
        return False
    text_cells = sum(1 for cell in filled if not _DATA_CELL.fullmatch(cell))
    return text_cells * 2 > len(filled)


def _known_headers() -> frozenset[str]:
    from .import_fields import FIELDS, normalise_header

    return frozenset(
        normalise_header(a) for fields in FIELDS.values() for f in fields for a in f.aliases
    )


def _find_header(rows: list[list[str]]) -> int | None:
    """Index of the header among the first rows. The first row naming two known columns (姓名,
    手机 …) is it; failing that, the first with ≥ 2 filled cells, mostly text, and about as wide
    as the rows below it (a two-cell title such as "客户导出, 上海店" is not a header)."""
    from .import_fields import normalise_header

    known = _known_headers()
    for index, cells in enumerate(rows):
        if sum(1 for cell in cells if cell.strip() and normalise_header(cell) in known) >= 2:
            return index  # with no data below, the caller says the file is header only
    for index, cells in enumerate(rows):
        if not _looks_like_header(cells):
            continue
        below = [len(_filled(r)) for r in rows[index + 1 : index + 6] if not _is_blank(r)]
        if below and len(_filled(cells)) * 2 <= max(below):
            continue
        return index
    return None


def _header_names(cells: list[str], width: int) -> list[str]:
    """Unique header names: an empty cell is named after its column ("列3"), a repeated name
    gets its column number ("手机 (列5)"). Kept as data, untranslated, as saved mappings use them."""
    names: list[str] = []
    seen: set[str] = set()
    for number, cell in enumerate([*cells, *[""] * (width - len(cells))][:width], start=1):
        name = " ".join(cell.split())
        if not name:
            name = f"列{number}"
        elif name in seen:
            name = f"{name} (列{number})"
        seen.add(name)
        names.append(name)
    return names


def inspect_table(path: Path, *, filename: str = "") -> TableInfo:
    """Detect format, encoding and header line of the file at `path`; FileProblem if unusable.

    Raises FileProblem({"file": [message]}) for an empty file, an old .xls, a web page or any
    other file that is not a table, a file with a header but no data rows, and a file in which
    no header line is found among the first rows.
    """
    path = Path(path)
    with path.open("rb") as stream:
        head = stream.read(64 * 1024)
    if not head.strip(b" \t\r\n\xef\xbb\xbf\xff\xfe\x00"):
        raise FileProblem(_("The file is empty."))
    file_format = _detect_format(head, filename)
    encoding = "" if file_format == "xlsx" else _detect_encoding(path, head, filename)
    sheet, found = "", None
    if file_format == "xlsx":
        found = _xlsx_sheet(path, "", filename)
        sheet = found.name if found is not None else ""
    records = _records(path, file_format, encoding, sheet, filename, found)
    rows = list(islice(records, HEADER_SEARCH_ROWS + 6))
    if file_format == "csv" and any(_CONTROL.search(cell) for row in rows for cell in row):
        raise _not_a_spreadsheet(filename)
    if all(_is_blank(row) for row in rows):
        raise FileProblem(_("The file is empty."))
    header_row = _find_header(rows[:HEADER_SEARCH_ROWS])
    if header_row is None:
        raise FileProblem(
            _(
                "No header line was found: one of the first rows should name the columns "
                "(姓名, 手机, 车架号 …)."
            )
        )
    data = [row for row in rows[header_row + 1 :] if not _is_blank(row)]
    for row in records:  # the rest of the sample, read only as far as needed
        if len(data) >= SAMPLE_ROWS:
            break
        if not _is_blank(row):
            data.append(row)
    if hasattr(records, "close"):
        records.close()
    if not data:
        raise FileProblem(_("The file has a header line but no data rows."))
    header_cells = rows[header_row]
    # Trailing empty header cells only count as columns when the data uses them.
    width = max(_used_width(row) for row in [header_cells, *data[:SAMPLE_ROWS]])
    sample = [_pad(row, width) for row in data[:SAMPLE_ROWS]]
    return TableInfo(
        file_format=file_format,
        encoding=encoding,
        sheet=sheet,
        header_row=header_row,
        headers=_header_names(header_cells, width),
        sample=sample,
    )


def _used_width(cells: list[str]) -> int:
    """Cells up to the last non-empty one."""
    return next((len(cells) - i for i, c in enumerate(reversed(cells)) if c.strip()), 0)


def _pad(cells: list[str], width: int) -> list[str]:
    """At least `width` cells: short rows are padded; cells beyond the headers are kept."""
    return cells + [""] * (width - len(cells)) if len(cells) < width else cells


# --- Data rows ---------------------------------------------------------------------------------


def iter_rows(path: Path, info: TableInfo, *, start: int = 0) -> Iterator[tuple[int, list[str]]]:
    """Yield (row number as a spreadsheet shows it, cells as text) for each data row.

    Rows after the header only; fully blank rows are skipped and not counted as data rows, so
    `start` (the data rows already processed, to resume) counts the same rows this yields.
    `cells` has at least one cell per header (short rows are padded with ""), without NUL
    characters; CSV is read as a text stream, never whole. A CSV row that cannot be parsed
    raises FileProblem naming it.
    """
    width = len(info.headers)
    skipped = 0
    rows = _records(Path(path), info.file_format, info.encoding, info.sheet)
    for index, cells in enumerate(rows):
        if index <= info.header_row:
            continue
        joined = "".join(cells)
        if not joined.strip():
            continue
        if skipped < start:
            skipped += 1
            continue
        if "\x00" in joined:
            # A NUL byte means nothing in a cell, and PostgreSQL refuses it in text and JSON.
            cells = [cell.replace("\x00", "") for cell in cells]
        yield index + 1, (cells + [""] * (width - len(cells)) if len(cells) < width else cells)


def count_rows(path: Path, info: TableInfo) -> int:
    """The number of data rows iter_rows yields, for the progress bar.

    A CSV without quotes or lone carriage returns is counted line by line in bytes; otherwise,
    and for UTF-16, the rows are parsed and counted: exact. An XLSX is not parsed again (that
    costs as much as the import's own read): its rows are the sheet's recorded dimension below
    the header, so blank rows inside the table are counted too and the figure can be a little
    high; the engine shows max(total, processed) and sets the total to the rows processed when
    the run ends. A sheet without a usable dimension is parsed and counted.
    """
    path = Path(path)
    if info.file_format == "xlsx":
        last_row = _xlsx_recorded_last_row(path, info.sheet)
        # A dimension ending at or above the header is wrong (some writers put "A1"): inspect
        # found data rows below it.
        if last_row is not None and last_row > info.header_row + 1:
            return last_row - info.header_row - 1
    elif info.encoding != "utf-16":
        stream, reader = _open_csv(path, info.encoding)
        stream.close()
        counted = _count_plain_lines(path, info, reader.dialect.delimiter)
        if counted is not None:
            return counted
    return sum(1 for _ in iter_rows(path, info))


# <dimension ref="A1:P200003"/> comes before the cells; "x:" prefixes occur in .NET exports.
_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref="[^"]*?(\d+)"')
_SMALL_PART = 1 << 20  # workbook.xml and its relations: a few KB; larger ones are counted


def _xlsx_recorded_last_row(path: Path, sheet_name: str) -> int | None:
    """The last row (1-based) of the sheet's <dimension>, read from the start of the sheet
    without parsing its cells; None for a sheet without one or a file that is not plain XLSX
    (ODS, XLSB, strict OOXML), which are then counted."""
    try:
        with zipfile.ZipFile(path) as archive:
            part = _xlsx_sheet_part(archive, sheet_name)
            if part is None:
                return None
            with archive.open(part) as stream:
                head = stream.read(64 * 1024)
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    head = head.split(b"<sheetData", 1)[0]
    match = _DIMENSION.search(head)
    return int(match.group(1)) if match else None


_XML_TAG = re.compile(rb"<(?:\w+:)?(sheet|Relationship)\s([^>]*)>")
_XML_ATTRIBUTE = re.compile(rb'([\w:]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')


def _xlsx_sheet_part(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member holding the worksheet named `sheet_name`: workbook.xml gives its relation
    id, the workbook's relations its file. Both parts are small and flat, so their tags are
    matched rather than parsed (no XML parser on an uploaded file)."""

    def tags(member: str, tag: bytes) -> list[dict[str, str]]:
        if archive.getinfo(member).file_size > _SMALL_PART:
            return []
        return [
            {
                key.decode(): html.unescape((double or single).decode("utf-8", "replace"))
                for key, double, single in _XML_ATTRIBUTE.findall(attributes)
            }
            for name, attributes in _XML_TAG.findall(archive.read(member))
            if name == tag
        ]

    relation_id = next(
        (
            value
            for sheet in tags("xl/workbook.xml", b"sheet")
            if sheet.get("name") == sheet_name
            for key, value in sheet.items()
            if key.endswith(":id")
        ),
        None,
    )
    target = next(
        (
            relation.get("Target", "")
            for relation in tags("xl/_rels/workbook.xml.rels", b"Relationship")
            if relation_id and relation.get("Id") == relation_id
        ),
        "",
    )
    if not target:
        return None
    # Targets are relative to xl/, or absolute from the package root.
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath("xl/" + target)


_ASCII_ALNUM = re.compile(rb"[0-9A-Za-z]")


def _count_plain_lines(path: Path, info: TableInfo, delimiter: str) -> int | None:
    """Non-blank lines after the header, or None when a line has a quote or a lone CR (then a
    line is not always a row). In UTF-8 and GB18030 these bytes never occur inside a character.
    A line of only spaces and delimiters is blank, and so is one whose cells hold only Unicode
    spaces (the ideographic space): lines without an ASCII letter or digit are decoded to tell."""
    blank_bytes = b" \t\r\n" + delimiter.encode()
    count = 0
    with path.open("rb") as stream:
        for number, line in enumerate(stream):
            body = line.rstrip(b"\r\n")
            if b'"' in body or b"\r" in body:
                return None
            if number <= info.header_row:
                continue
            rest = body.strip(blank_bytes)
            if rest and (
                _ASCII_ALNUM.search(rest)
                or rest.decode(info.encoding, "replace").replace(delimiter, "").strip()
            ):
                count += 1
    return count
