"""Exports API: start an export, follow it, download its file.

POST /exports queues an export and answers 201 with it; poll GET /exports/{export_id} until its
status is "done", then GET /exports/{export_id}/download. An export belongs to the user who
asked for it: anyone else gets 404. Errors of the input come back as 422 keyed "kind",
"file_format" or "filters".
"""

from __future__ import annotations

import datetime
from typing import Any

from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm

from ..models import ExportJob
from ..services import exports as services

router = Router(tags=["dataquality"])


class ExportIn(Schema):
    kind: str  # "customers", "duplicates" …
    file_format: str  # "xlsx" or "csv"
    # The customer list's filters: stage, consultant, tag, source.
    filters: dict[str, Any] = {}


class ExportOut(Schema):
    id: int
    kind: str
    kind_label: str
    file_format: str
    filters: dict[str, Any]
    masked: bool
    status: str
    status_label: str
    total_rows: int | None
    done_rows: int
    percent: int
    filename: str
    failure: str
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    # Set once the file can be downloaded.
    download_url: str | None


class ExportNotReady(Schema):
    detail: str
    status: str


def _out(job: ExportJob) -> dict[str, Any]:
    ready = services.export_path(job) is not None
    return {
        "id": job.pk,
        "kind": job.kind,
        "kind_label": str(job.get_kind_display()),
        "file_format": job.file_format,
        "filters": job.filters,
        "masked": job.masked,
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "total_rows": job.total_rows,
        "done_rows": job.done_rows,
        "percent": services.export_percent(job),
        "filename": job.filename,
        "failure": job.failure,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "download_url": (
            reverse("api:export_download", kwargs={"export_id": job.pk}) if ready else None
        ),
    }


def _own(request: HttpRequest, export_id: int) -> ExportJob:
    return get_object_or_404(ExportJob, pk=export_id, created_by=request.user)


@router.post("/exports", response={201: ExportOut})
@api_permission(Perm.EXPORT_CUSTOMERS)
def export_create(request: HttpRequest, payload: ExportIn):  # noqa: ANN201
    job = services.export_start(
        actor=request.user,
        kind=payload.kind,
        file_format=payload.file_format,
        filters=payload.filters,
    )
    job.refresh_from_db()  # the job may already have run (immediate queue)
    return Status(201, _out(job))


@router.get("/exports", response=list[ExportOut])
@api_permission(Perm.EXPORT_CUSTOMERS)
def export_list(request: HttpRequest):  # noqa: ANN201
    return [_out(job) for job in services.export_rows_for(request.user)]


@router.get("/exports/{export_id}", response=ExportOut)
@api_permission(Perm.EXPORT_CUSTOMERS)
def export_get(request: HttpRequest, export_id: int):  # noqa: ANN201
    return _out(_own(request, export_id))


@router.get(
    "/exports/{export_id}/download",
    response={200: None, 409: ExportNotReady},
    url_name="export_download",
)
@api_permission(Perm.EXPORT_CUSTOMERS)
def export_download(request: HttpRequest, export_id: int):  # noqa: ANN201
    """The file (XLSX or CSV) as an attachment; 409 while it is not ready, failed or deleted."""
    job = _own(request, export_id)
    path = services.export_path(job)
    if path is None:
        return Status(409, {"detail": _not_ready(job), "status": job.status})
    return FileResponse(
        open(path, "rb"),  # noqa: SIM115 — FileResponse closes it when sent
        as_attachment=True,
        filename=job.filename,
        content_type=services.CONTENT_TYPES.get(job.file_format),
    )


def _not_ready(job: ExportJob) -> str:
    if job.status == "done":
        return _("The file was deleted: exports are kept for 7 days. Start the export again.")
    if job.status == "failed":
        return _("The export failed: %(reason)s") % {"reason": job.failure}
    return _("The export is not ready yet.")
