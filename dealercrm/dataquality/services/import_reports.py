"""The error report of an import run: the rows that were not imported, why, and their cells;
and the rows imported with notes (a car model the catalogue does not know …), what was not taken.

One line per problem (a row with two bad fields has two lines), in row order: the row number
as the spreadsheet showed it, the row's outcome ("Not imported", or what became of a row with a
note), the field, the reason, then the row's cells as they were read, so the user can fix the
file and import it again (filter the outcome column to the rows not imported). CSV is UTF-8 with a byte-order mark (Excel opens
Chinese correctly); XLSX is written by xlsxwriter in constant-memory mode to a temporary file
and streamed from there. Every cell is neutralised against formula injection.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.db.models import Q
from django.utils.translation import gettext as _

from dealercrm.core.spreadsheets import (
    CSV_CONTENT_TYPE,
    UTF8_BOM,
    XLSX_CONTENT_TYPE,
    neutral_row,
)
from dealercrm.dataquality.models import ImportOutcome, ImportRowIssue, ImportRun

from .import_fields import FIELDS

REPORT_FORMATS = ("csv", "xlsx")
_CHUNK_ROWS = 2000


def _lines(run: ImportRun) -> Iterator[list]:
    """The report's heading, then one list of cells per error row or note.

    Built before the first byte is sent: the query (under the request's dealer scope), the
    field labels and the heading (in the request's language). A streaming response is read
    after the view has returned, when neither is active any more.
    """
    labels = {f.name: str(f.label) for f in FIELDS.get(run.kind, ())}
    outcomes = {value: str(label) for value, label in ImportOutcome.choices}
    headers = list(run.headers)
    heading = [_("Row"), _("Outcome"), _("Field"), _("Reason"), *headers]
    # Errors, and imported rows with a note: the only imported rows with a reason.
    issues = (
        ImportRowIssue.objects.filter(dealer_id=run.dealer_id, run_id=run.pk)
        .filter(Q(outcome=ImportOutcome.ERROR) | ~Q(reason=""))
        .order_by("row_number", "id")
        .values_list("row_number", "outcome", "field", "reason", "values")
    )

    def lines() -> Iterator[list]:
        yield heading
        for row_number, outcome, field, reason, values in issues.iterator(chunk_size=_CHUNK_ROWS):
            cells = values or {}
            yield [
                row_number,
                outcomes.get(outcome, outcome),
                labels.get(field, field),
                reason,
                *[cells.get(h, "") for h in headers],
            ]

    return lines()


def _csv(lines: Iterator[list]) -> Iterator[bytes]:
    buffer = io.StringIO()
    buffer.write(UTF8_BOM)
    writer = csv.writer(buffer)
    for count, line in enumerate(lines, start=1):
        writer.writerow(neutral_row(line))
        if count % _CHUNK_ROWS == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _xlsx(lines: Iterator[list], sheet_name: str) -> Iterator[bytes]:
    import xlsxwriter

    with tempfile.TemporaryDirectory(prefix="import-errors-") as directory:
        path = Path(directory) / "errors.xlsx"
        workbook = xlsxwriter.Workbook(
            str(path), {"constant_memory": True, "strings_to_formulas": False}
        )
        sheet = workbook.add_worksheet(sheet_name[:31])
        bold = workbook.add_format({"bold": True})
        for row_index, line in enumerate(lines):
            for col, value in enumerate(neutral_row(line)):
                if row_index == 0:
                    sheet.write_string(row_index, col, str(value), bold)
                elif isinstance(value, int):
                    sheet.write_number(row_index, col, value)
                else:
                    sheet.write_string(row_index, col, "" if value is None else str(value))
        sheet.freeze_panes(1, 0)
        workbook.close()
        with path.open("rb") as handle:
            while chunk := handle.read(256 * 1024):
                yield chunk


def error_report(*, run: ImportRun, file_format: str) -> tuple[str, str, Iterator[bytes]]:
    """(filename, content type, streamed bytes); file_format "csv" or "xlsx"."""
    if file_format not in REPORT_FORMATS:
        raise ValueError(f"unknown report format {file_format!r}")
    stem = Path(run.filename).stem or "import"
    filename = f"{stem}-errors-{run.pk}.{file_format}"
    lines = _lines(run)
    if file_format == "csv":
        return filename, CSV_CONTENT_TYPE, _csv(lines)
    return filename, XLSX_CONTENT_TYPE, _xlsx(lines, _("Errors"))
