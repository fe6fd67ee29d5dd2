"""Reads of the import pages and API: a run by id within the user's scope, the preview of the
first rows as the import will read them, and the rows kept with a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.customers.contact_masking import mask_id_number, mask_phone

from ..models import ImportOutcome, ImportRowIssue, ImportRun, ImportStatus
from ..services.import_fields import FIELDS
from ..services.import_files import TableInfo, iter_rows
from ..services.normalise import clean_row

PREVIEW_ROWS = 10


def get_import_run_for_user(user: User, run_id: int) -> ImportRun:
    """The run if the user's dealer scope holds it; 404 alike for missing and another dealer's."""
    try:
        return ImportRun.objects.select_related("created_by").get(pk=run_id)
    except ImportRun.DoesNotExist as exc:
        raise Http404 from exc


def import_runs_recent(user: User) -> QuerySet[ImportRun]:
    """The runs of the user's scope, newest first (with the dealer for network users)."""
    runs = ImportRun.objects.select_related("created_by").order_by("-created_at", "-id")
    return runs if user.dealer_id else runs.select_related("dealer")


def import_row_issues(
    run: ImportRun, *, outcome: str = "", notes: bool = False
) -> QuerySet[ImportRowIssue]:
    """The rows kept with the run, in row order; of one outcome, or (`notes`) only the notes of
    imported rows."""
    issues = ImportRowIssue.objects.filter(run=run).order_by("row_number", "id")
    if notes:
        issues = _notes(issues)
    return issues.filter(outcome=outcome) if outcome else issues


def _notes(issues: QuerySet[ImportRowIssue]) -> QuerySet[ImportRowIssue]:
    """Notes: issue rows of imported rows that give a reason (a matched row's plain link has
    none)."""
    return issues.exclude(outcome=ImportOutcome.ERROR).exclude(reason="")


def import_rows_with_notes_count(run: ImportRun) -> int:
    """How many imported rows have a note (a row with two notes counts once)."""
    issues = _notes(ImportRowIssue.objects.filter(run=run))
    return issues.values("row_number").distinct().count()


def stored_file(run: ImportRun) -> Path:
    return Path(settings.IMPORT_DIR) / run.stored_path


def table_info(run: ImportRun) -> TableInfo:
    """What inspect_table found when the file was uploaded: the file as the engine reads it."""
    return TableInfo(
        file_format=run.file_format,
        encoding=run.encoding,
        sheet=run.sheet,
        header_row=run.header_row,
        headers=list(run.headers),
    )


def masked(field_name: str, text: str, user: User) -> str:
    """Phones and ID numbers in a file are personal data like any other: masked for roles that
    may not see them in full (a dealer admin may import, not read contacts)."""
    if not text or user.has_perm(Perm.VIEW_FULL_CONTACT):
        return text
    if "id_number" in field_name:
        return mask_id_number(text)
    if "phone" in field_name or "mobile" in field_name:
        return mask_phone(text)
    return text


def mask_cells(run: ImportRun, cells: list[str], user: User) -> list[str]:
    """A row's cells, each masked as the field its column is mapped to."""
    fields_by_header = {header: name for name, header in (run.mapping or {}).items()}
    headers = list(run.headers)
    return [
        masked(fields_by_header.get(headers[i], "") if i < len(headers) else "", text, user)
        for i, text in enumerate(cells)
    ]


def import_sample(run: ImportRun, user: User) -> list[tuple[int, list[str]]]:
    """The first data rows as text (row number, cells), masked; empty if the file is gone."""
    try:
        rows = list(islice(iter_rows(stored_file(run), table_info(run)), PREVIEW_ROWS))
    except (OSError, ValidationError):
        return []
    return [(number, mask_cells(run, cells, user)) for number, cells in rows]


@dataclass
class PreviewCell:
    raw: str
    value: str
    errors: list[str] = field(default_factory=list)


@dataclass
class PreviewRow:
    row_number: int
    cells: list[PreviewCell]

    @property
    def has_errors(self) -> bool:
        return any(c.errors for c in self.cells)


@dataclass
class Preview:
    columns: list[tuple[str, Any, str]]  # (field name, label, header)
    rows: list[PreviewRow]
    problem: str = ""


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # a consent answer
        return _("Yes") if value else _("No")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    label = getattr(value, "label", None)
    return str(label if label is not None else value)


def import_preview(run: ImportRun, mapping: dict[str, str], user: User) -> Preview:
    """The first rows of the file read with `mapping` and cleaned as the import will clean them:
    each mapped field's value as it would be stored, or why the row would be refused."""
    fields = {f.name: f for f in FIELDS.get(run.kind, ())}
    order = list(fields)
    headers = list(run.headers)
    columns = sorted(
        (
            (name, fields[name].label, header)
            for name, header in mapping.items()
            if name in fields and header in headers
        ),
        key=lambda column: order.index(column[0]),
    )
    positions = {header: headers.index(header) for _name, _label, header in columns}
    try:
        sample = list(islice(iter_rows(stored_file(run), table_info(run)), PREVIEW_ROWS))
    except (OSError, ValidationError):
        return Preview(columns, [], _("The uploaded file can no longer be read: upload it again."))
    rows = []
    for row_number, cells in sample:
        values = {
            name: cells[positions[header]] if positions[header] < len(cells) else ""
            for name, _label, header in columns
        }
        clean, errors = clean_row(run.kind, values)
        by_field: dict[str, list[str]] = {}
        for name, message in errors:
            by_field.setdefault(name, []).append(str(message))
        rows.append(
            PreviewRow(
                row_number,
                [
                    PreviewCell(
                        raw=masked(name, values[name], user),
                        value=masked(name, _display(clean.get(name)), user),
                        errors=by_field.get(name, []),
                    )
                    for name, _label, _header in columns
                ],
            )
        )
    return Preview(columns, rows)


def import_percent(run: ImportRun) -> int:
    """How far the run is, for the progress bar."""
    if not run.total_rows:
        return 100 if run.status == ImportStatus.DONE else 0
    return min(100, run.processed_rows * 100 // run.total_rows)
