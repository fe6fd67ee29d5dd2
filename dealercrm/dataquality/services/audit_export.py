"""The rebate table as a file for the finance team (XLSX or CSV), audit-logged as an export.
Text cells are neutralised so a spreadsheet never runs a dealer's name as a formula."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from django.utils.translation import gettext as _

from dealercrm.core.audit import audit_record
from dealercrm.core.models import AuditEvent, User
from dealercrm.core.spreadsheets import (
    CSV_CONTENT_TYPE,
    XLSX_CONTENT_TYPE,
    csv_bytes_bom,
    neutral_row,
)

from ..selectors.audit import rebate_table

FORMATS = ("xlsx", "csv")


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    filename: str


def _headers() -> list[str]:
    return [
        _("Dealer code"),
        _("Dealer"),
        _("Region"),
        _("Score"),
        _("Rank"),
        _("Dealers ranked"),
        _("Rebate band"),
        _("Rebate %"),
    ]


def rebate_table_export(
    *,
    actor: User | None,
    brand_id: int,
    period: dt.date,
    file_format: str,
    request=None,  # noqa: ANN001
) -> ExportFile:
    """The brand's rebate table for the month as XLSX or CSV; one audit event (export)."""
    if file_format not in FORMATS:
        raise ValueError(file_format)
    rows = rebate_table(brand_id=brand_id, period=period)
    body = [
        neutral_row(
            [
                r.dealer_code,
                r.dealer_name,
                r.region,
                r.score,
                r.rank,
                r.ranked_of,
                r.band,
                float(r.rebate_percent) if r.rebate_percent is not None else None,
            ]
        )
        for r in rows
    ]
    name = f"rebates-{period:%Y-%m}.{file_format}"
    if file_format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(neutral_row(_headers()))
        writer.writerows(["" if v is None else v for v in row] for row in body)
        result = ExportFile(csv_bytes_bom(out.getvalue()), CSV_CONTENT_TYPE, name)
    else:
        import xlsxwriter

        buffer = io.BytesIO()
        book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
        sheet = book.add_worksheet(f"{period:%Y-%m}")
        bold = book.add_format({"bold": True})
        sheet.write_row(0, 0, neutral_row(_headers()), bold)
        for index, row in enumerate(body, start=1):
            for column, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(index, column, value)
                else:
                    sheet.write_number(index, column, value)
        sheet.set_column(0, 0, 12)
        sheet.set_column(1, 1, 28)
        sheet.set_column(2, 7, 12)
        book.close()
        result = ExportFile(buffer.getvalue(), XLSX_CONTENT_TYPE, name)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.EXPORT,
        target_type="dataquality.rebatetable",
        target_id=brand_id,
        target_repr=_("Rebate table %(period)s") % {"period": f"{period:%Y-%m}"},
        changes={"format": file_format, "period": f"{period:%Y-%m}", "rows": len(rows)},
        request=request,
    )
    return result
