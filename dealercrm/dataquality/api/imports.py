"""Imports API: upload a CSV or XLSX file, read the guessed mapping and the first rows, set the
mapping and start, follow the counts, resume a stopped run, download the error report.

The same services as the pages; another dealer's run answers 404; a refused file or mapping
answers 422 naming the field ("file", "mapping", "kind"), and nothing is written.
"""

from __future__ import annotations

import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm

from ..models import ImportRun, ImportStatus
from ..selectors.imports import get_import_run_for_user, import_runs_recent, import_sample
from ..services.import_fields import FIELDS
from ..services.import_runs import (
    import_run_can_resume,
    import_run_create,
    import_run_map,
    import_run_resume,
    import_run_start,
)
from ..views.imports import error_report_response, max_upload_bytes

router = Router(tags=["dataquality"])


class ImportFieldOut(Schema):
    name: str
    label: str
    required: bool


class SampleRowOut(Schema):
    row: int = Field(description="The row number a spreadsheet program shows (header included)")
    cells: list[str] = Field(description="As text, in the order of `headers`; contacts masked")


class ImportRunOut(Schema):
    id: int
    dealer_id: int
    kind: str
    status: str = Field(description="uploaded, queued, running, done or failed")
    source: str = Field(description="The saved mapping used or saved, if any")
    filename: str
    file_format: str
    encoding: str
    sheet: str
    file_size: int
    headers: list[str]
    mapping: dict[str, str] = Field(description="{field name: header}")
    total_rows: int | None
    processed_rows: int
    created_count: int
    updated_count: int = Field(description="Rows merged into an existing record")
    unchanged_count: int
    error_count: int
    rows_read: int = Field(description="created + updated + unchanged + errors")
    failure: str
    created_by_id: int | None
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    can_resume: bool

    @staticmethod
    def resolve_rows_read(obj: ImportRun) -> int:
        return obj.accounted_rows

    @staticmethod
    def resolve_can_resume(obj: ImportRun) -> bool:
        return import_run_can_resume(obj)


class ImportRunDetailOut(ImportRunOut):
    fields: list[ImportFieldOut] = Field(description="What this kind of import takes")
    sample: list[SampleRowOut] = Field(
        description="The first rows while the columns are still to map; empty afterwards"
    )


class ImportListQuery(Schema):
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0)


class ImportListOut(Schema):
    count: int
    items: list[ImportRunOut]


class MappingIn(Schema):
    mapping: dict[str, str] = Field(description="{field name: header of the file}")
    save_as: str = Field(default="", max_length=100, description="Save it under this source name")
    start: bool = Field(default=False, description="Start the import once the mapping is set")


class ErrorsQuery(Schema):
    format: Literal["csv", "xlsx"] = "csv"


def _detail(request: HttpRequest, run: ImportRun) -> ImportRun:
    """The run with what this kind of import takes and, while the columns are to map, the
    first rows (for ImportRunDetailOut)."""
    run.fields = [  # type: ignore[attr-defined]
        {"name": f.name, "label": str(f.label), "required": f.required}
        for f in FIELDS.get(run.kind, ())
    ]
    run.sample = (  # type: ignore[attr-defined]
        [{"row": n, "cells": c} for n, c in import_sample(run, request.user)]
        if run.status == ImportStatus.UPLOADED
        else []
    )
    return run


@router.post(
    "/imports",
    response={201: ImportRunDetailOut},
    summary="Upload a file to import",
    description=(
        "Multipart: `kind` (customers, vehicles, sales, repair_orders) and `file` (CSV in UTF-8 "
        "or GBK, or XLSX). Answers the run with the file's headers, the guessed (or saved) "
        "mapping and the first rows. A file that is not a table, empty, header-only or above "
        "the upload limit answers 422 on `file`, and nothing is kept."
    ),
)
@api_permission(Perm.IMPORT_DATA)
def import_upload(request: HttpRequest, kind: Form[str], file: File[UploadedFile]):  # noqa: ANN201
    user = request.user
    if not user.dealer_id:
        raise ValidationError(
            {"file": [_("Imports go into one dealer's data: use a dealer staff member's token.")]}
        )
    run = import_run_create(
        actor=user,
        dealer_id=user.dealer_id,
        kind=kind,
        file=file,
        filename=file.name or "",
        max_bytes=max_upload_bytes(),
    )
    return Status(201, _detail(request, get_import_run_for_user(user, run.pk)))


@router.get("/imports", response=ImportListOut, summary="Recent imports, newest first")
@api_permission(Perm.IMPORT_DATA)
def import_list(request: HttpRequest, query: Query[ImportListQuery]):  # noqa: ANN201
    runs = import_runs_recent(request.user)
    return {"count": runs.count(), "items": list(runs[query.offset : query.offset + query.limit])}


@router.get("/imports/{run_id}", response=ImportRunDetailOut, summary="One import")
@api_permission(Perm.IMPORT_DATA)
def import_get(request: HttpRequest, run_id: int):  # noqa: ANN201
    return _detail(request, get_import_run_for_user(request.user, run_id))


@router.post(
    "/imports/{run_id}/mapping",
    response=ImportRunDetailOut,
    summary="Set the column mapping, and start",
    description=(
        "A field left out is not imported. A required field without a column, or a header the "
        "file does not have, answers 422 on `mapping` naming it. With `start` the run is queued "
        "at once; follow it with GET /imports/{run_id}."
    ),
)
@api_permission(Perm.IMPORT_DATA)
def import_mapping(request: HttpRequest, run_id: int, payload: MappingIn):  # noqa: ANN201
    run = get_import_run_for_user(request.user, run_id)
    if run.status != ImportStatus.UPLOADED:
        raise ValidationError(
            {"mapping": [_("This import has already started; its columns stay as they are.")]}
        )
    mapping = {name: header for name, header in payload.mapping.items() if header}
    run = import_run_map(actor=request.user, run=run, mapping=mapping, save_as=payload.save_as)
    if payload.start:
        run = import_run_start(actor=request.user, run=run)
    return _detail(request, get_import_run_for_user(request.user, run_id))


@router.post(
    "/imports/{run_id}/resume",
    response=ImportRunDetailOut,
    summary="Resume a stopped or killed import after its last saved row",
)
@api_permission(Perm.IMPORT_DATA)
def import_resume(request: HttpRequest, run_id: int):  # noqa: ANN201
    run = get_import_run_for_user(request.user, run_id)
    import_run_resume(actor=request.user, run=run)
    return _detail(request, get_import_run_for_user(request.user, run_id))


@router.get(
    "/imports/{run_id}/errors",
    summary="The error report",
    description=(
        "CSV (UTF-8 with BOM) or XLSX: row number, field, reason, then the row's cells as the "
        "file gave them. Each download is recorded in the audit log."
    ),
)
@api_permission(Perm.IMPORT_DATA)
def import_errors(request: HttpRequest, run_id: int, query: Query[ErrorsQuery]) -> HttpResponse:
    run = get_import_run_for_user(request.user, run_id)
    return error_report_response(request, run, query.format)
