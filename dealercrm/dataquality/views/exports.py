"""Exports of customers and lists: start one, watch its progress, download it.

An export is not dealer-owned but the user's own: every look-up is by `created_by=request.user`,
so another user's export answers 404 whoever they are.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm

from ..models import ExportFormat, ExportJob, ExportKind, ExportStatus
from ..services import exports as services

LIST = "dataquality/exports/export_list.html"
DETAIL = "dataquality/exports/export_detail.html"
CREATE = "dataquality/exports/export_create.html"


def _own_export(request: HttpRequest, export_id: int) -> ExportJob:
    return get_object_or_404(ExportJob, pk=export_id, created_by=request.user)


def _with_progress(jobs: list[ExportJob]) -> list[ExportJob]:
    for job in jobs:
        job.percent = services.export_percent(job)  # type: ignore[attr-defined]
        job.downloadable = services.export_path(job) is not None  # type: ignore[attr-defined]
    return jobs


def _busy(jobs: list[ExportJob]) -> bool:
    return any(job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for job in jobs)


@staff_view(Perm.EXPORT_CUSTOMERS)
def export_list(request: HttpRequest) -> HttpResponse:
    jobs = _with_progress(services.export_rows_for(request.user))
    template = f"{LIST}#rows" if request.htmx else LIST
    return render(request, template, {"jobs": jobs, "busy": _busy(jobs)})


@staff_view(Perm.EXPORT_CUSTOMERS)
def export_create(request: HttpRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    values = {
        "kind": source.get("kind") or ExportKind.CUSTOMERS,
        "file_format": source.get("file_format") or ExportFormat.XLSX,
        "filters": source.get("filters") or "",
    }
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        try:
            job = services.export_start(
                actor=request.user,
                kind=source.get("kind") or "",
                file_format=source.get("file_format") or "",
                filters=services.filters_from_query(values["filters"]),
            )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"kind": exc.messages}
            status = 400
        except PermissionDenied as exc:
            errors = {"kind": [str(exc)]}
            status = 403
        else:
            return redirect("dataquality:export_detail", export_id=job.pk)
    context = {
        "values": values,
        "errors": errors,
        "kinds": services.exportable_kinds(request.user),
        "formats": ExportFormat.choices,
        "masked": services.contact_masked(request.user),
        "filter_pairs": sorted(services.filters_from_query(values["filters"]).items()),
    }
    return render(request, CREATE, context, status=status)


def _detail_context(job: ExportJob) -> dict:
    _with_progress([job])
    return {"job": job, "busy": _busy([job])}


@staff_view(Perm.EXPORT_CUSTOMERS)
def export_detail(request: HttpRequest, export_id: int) -> HttpResponse:
    job = _own_export(request, export_id)
    template = f"{DETAIL}#progress" if request.htmx else DETAIL
    return render(request, template, _detail_context(job))


@staff_view(Perm.EXPORT_CUSTOMERS)
def export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    job = _own_export(request, export_id)
    path = services.export_path(job)
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    if path is None:
        # Not ready yet, failed, or deleted after a week: the page says which.
        return render(request, DETAIL, _detail_context(job))
    return FileResponse(
        open(path, "rb"),  # noqa: SIM115 — FileResponse closes it when sent
        as_attachment=True,
        filename=job.filename,
        content_type=services.CONTENT_TYPES.get(job.file_format),
    )
