"""Import pages: upload, column mapping with preview, progress, result and error report.

A run moves UPLOADED → QUEUED → RUNNING → DONE (or FAILED), and its page shows the step it is at:
the mapping with a preview of the first rows as they would be read, then a progress bar that polls
`import_progress` every second and swaps itself for the result, which links the error report and
the rows that matched existing records. Runs are looked up through the scoped manager, so another
dealer's run answers 404. Importing needs a dealer to import into: users without one (the system
administrator) see the runs but are pointed to the command line to import.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from dealercrm.core.access import staff_view
from dealercrm.core.audit import audit_record
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Perm

from ..forms.imports import ImportMappingForm, ImportUploadForm
from ..models import ImportOutcome, ImportRun, ImportStatus
from ..selectors.imports import (
    get_import_run_for_user,
    import_percent,
    import_preview,
    import_row_issues,
    import_rows_with_notes_count,
    import_runs_recent,
    masked,
)
from ..services.import_fields import FIELDS
from ..services.import_runs import (
    import_error_report,
    import_run_can_resume,
    import_run_create,
    import_run_map,
    import_run_resume,
    import_run_start,
)

LIST = "dataquality/imports/import_list.html"
DETAIL = "dataquality/imports/import_detail.html"
ROWS = "dataquality/imports/import_rows.html"
RUNS_PER_PAGE = 20
ROWS_PER_PAGE = 50
REPORT_FORMATS = ("csv", "xlsx")


def max_upload_bytes() -> int:
    return int(settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024)


def _run_context(request: HttpRequest, run: ImportRun) -> dict[str, Any]:
    finished = run.status in (ImportStatus.DONE, ImportStatus.FAILED)
    return {
        "run": run,
        "percent": import_percent(run),
        "can_resume": import_run_can_resume(run),
        "working": run.status in (ImportStatus.QUEUED, ImportStatus.RUNNING),
        "finished": finished,
        "matched_count": run.updated_count + run.unchanged_count,
        # Counted for the result only: the progress bar polls every second.
        "notes_count": import_rows_with_notes_count(run) if finished else 0,
    }


def _mapping_context(
    request: HttpRequest, run: ImportRun, form: ImportMappingForm, mapping: dict[str, str]
) -> dict[str, Any]:
    return {
        **_run_context(request, run),
        "form": form,
        "preview": import_preview(run, mapping, request.user),
    }


def _mapping_from_params(run: ImportRun, params: Any) -> dict[str, str]:
    """The mapping the selects hold now (the htmx preview sends them), headers of the file only."""
    headers = set(run.headers)
    mapping = {}
    for item in FIELDS.get(run.kind, ()):
        header = params.get(ImportMappingForm.field_name(item.name)) or ""
        if header in headers:
            mapping[item.name] = header
    return mapping


# --- pages -------------------------------------------------------------------------------------


@staff_view(Perm.IMPORT_DATA)
def import_list(request: HttpRequest) -> HttpResponse:
    """The dealer's recent imports and the upload form. POST uploads: a good file becomes a run
    at its mapping step; a bad one is refused on the form and nothing is kept."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    user = request.user
    posted = request.method == "POST"
    form = ImportUploadForm(request.POST, request.FILES) if posted else ImportUploadForm()
    if posted:
        if not user.dealer_id:
            form.add_error(
                None,
                _(
                    "Imports go into one dealer's data: sign in as the dealer's staff, or use "
                    "the command line (dealercrm import FILE --dealer CODE)."
                ),
            )
        elif form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run = import_run_create(
                    actor=user,
                    dealer_id=user.dealer_id,
                    kind=form.cleaned_data["kind"],
                    file=upload,
                    filename=upload.name or "",
                    max_bytes=max_upload_bytes(),
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                return redirect("dataquality:import_detail", run_id=run.pk)
    page = Paginator(import_runs_recent(user), RUNS_PER_PAGE).get_page(request.GET.get("page") or 1)
    context = {
        "form": form,
        "page": page,
        "runs": page.object_list,
        "can_upload": bool(user.dealer_id),
        "network": not user.dealer_id,
        "max_mb": settings.IMPORT_MAX_UPLOAD_MB,
    }
    return render(request, LIST, context)


@staff_view(Perm.IMPORT_DATA)
def import_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run at its step: mapping and preview, progress, or the result. An htmx request for
    #import-preview gets the preview with the mapping the selects hold now."""
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    run = get_import_run_for_user(request.user, run_id)
    if (
        run.status == ImportStatus.UPLOADED
        and request.htmx
        and request.headers.get("HX-Target") == "import-preview"
    ):
        mapping = _mapping_from_params(run, request.GET)
        context = {"run": run, "preview": import_preview(run, mapping, request.user)}
        return render(request, f"{DETAIL}#preview", context)
    return render(request, DETAIL, _page_context(request, run))


def _page_context(request: HttpRequest, run: ImportRun) -> dict[str, Any]:
    """The detail page's context at the run's step (the mapping form with the saved mapping)."""
    if run.status != ImportStatus.UPLOADED:
        return _run_context(request, run)
    mapping = dict(run.mapping)
    form = ImportMappingForm(kind=run.kind, headers=run.headers, mapping=mapping)
    form.fields["save_as"].initial = run.source
    return _mapping_context(request, run, form, mapping)


@staff_view(Perm.IMPORT_DATA)
def import_map(request: HttpRequest, run_id: int) -> HttpResponse:
    """POST the mapping and start: the run is queued and its page shows the progress. A refused
    mapping comes back on the form, saying which field is missing or which column is unknown."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    run = get_import_run_for_user(request.user, run_id)
    if run.status != ImportStatus.UPLOADED:
        messages.info(request, _("This import has already started; its columns stay as they are."))
        return redirect("dataquality:import_detail", run_id=run.pk)
    form = ImportMappingForm(request.POST, kind=run.kind, headers=run.headers)
    mapping = _mapping_from_params(run, request.POST)
    if form.is_valid():
        mapping = form.mapping()
        try:
            run = import_run_map(
                actor=request.user,
                run=run,
                mapping=mapping,
                save_as=form.cleaned_data.get("save_as") or "",
            )
            run = import_run_start(actor=request.user, run=run)
        except ValidationError as exc:
            apply_service_errors(form, exc)
            form.mark_missing(form.unmapped_required(mapping))
        else:
            return redirect("dataquality:import_detail", run_id=run.pk)
    run.refresh_from_db()
    return render(request, DETAIL, _mapping_context(request, run, form, mapping))


@staff_view(Perm.IMPORT_DATA)
def import_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The progress bar (polled every second while the run works), then the result."""
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    run = get_import_run_for_user(request.user, run_id)
    return render(request, f"{DETAIL}#state", _run_context(request, run))


@staff_view(Perm.IMPORT_DATA)
def import_resume(request: HttpRequest, run_id: int) -> HttpResponse:
    """POST: continue a stopped or killed run after its last committed row."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    run = get_import_run_for_user(request.user, run_id)
    try:
        run = import_run_resume(actor=request.user, run=run)
    except ValidationError as exc:
        if request.htmx:
            context = {**_run_context(request, run), "refused": exc.messages}
            return render(request, f"{DETAIL}#state", context, status=400)
        context = {**_page_context(request, run), "refused": exc.messages}
        return render(request, DETAIL, context, status=400)
    if request.htmx:
        return render(request, f"{DETAIL}#state", _run_context(request, run))
    return redirect("dataquality:import_detail", run_id=run.pk)


def audit_error_report(request: HttpRequest, run: ImportRun, file_format: str) -> None:
    """The report holds the rows' cells (phones, ID numbers) as the file gave them: an export."""
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        target=run,
        target_repr=_("Error report of the import %(file)s") % {"file": run.filename},
        changes={
            "report": "import errors",
            "format": file_format,
            "rows": run.error_count,
            "rows_with_notes": import_rows_with_notes_count(run),
        },
        request=request,
    )


def error_report_response(request: HttpRequest, run: ImportRun, file_format: str) -> HttpResponse:
    filename, content_type, content = import_error_report(run=run, file_format=file_format)
    audit_error_report(request, run, file_format)
    response = StreamingHttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = _attachment(filename)
    response["Cache-Control"] = "no-store"
    return response


def _attachment(filename: str) -> str:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "ignore").decode() or "import-errors"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


@staff_view(Perm.IMPORT_DATA)
def import_errors(request: HttpRequest, run_id: int) -> HttpResponse:
    """The error report, ?format=csv (default) or xlsx: row, field, reason, the row's cells."""
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    run = get_import_run_for_user(request.user, run_id)
    file_format = request.GET.get("format") or "csv"
    if file_format not in REPORT_FORMATS:
        raise Http404
    return error_report_response(request, run, file_format)


@staff_view(Perm.IMPORT_DATA)
def import_rows(request: HttpRequest, run_id: int) -> HttpResponse:
    """The rows kept with the run: those merged into (or already matching) an existing record,
    linked to it, those imported with a note (?notes=1), and those not imported, with the field
    and reason; filterable by outcome."""
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    run = get_import_run_for_user(request.user, run_id)
    outcome = request.GET.get("outcome") or ""
    if outcome not in ImportOutcome.values:
        outcome = ""
    notes = request.GET.get("notes") == "1"
    page = Paginator(import_row_issues(run, outcome=outcome, notes=notes), ROWS_PER_PAGE).get_page(
        request.GET.get("page") or 1
    )
    labels = {f.name: f.label for f in FIELDS.get(run.kind, ())}
    header_fields = {header: name for name, header in (run.mapping or {}).items()}
    rows = []
    for issue in page.object_list:
        cells = [
            (header, masked(header_fields.get(header, ""), str(text), request.user))
            for header, text in (issue.values or {}).items()
        ]
        rows.append(
            {
                "issue": issue,
                "field_label": labels.get(issue.field, issue.field),
                "cells": cells,
            }
        )
    context = {
        "run": run,
        "page": page,
        "rows": rows,
        "outcome": outcome,
        "outcomes": [
            (value, label) for value, label in ImportOutcome.choices if value != "created"
        ],
        "notes": notes,
        "query": urlencode(
            {k: v for k, v in (("outcome", outcome), ("notes", notes and "1")) if v}
        ),
    }
    return render(request, ROWS, context)
