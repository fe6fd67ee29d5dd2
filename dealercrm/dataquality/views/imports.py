"""Import pages: upload, column mapping with preview, progress, result and error report."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm


@staff_view(Perm.IMPORT_DATA)
def import_list(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.IMPORT_DATA)
def import_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.IMPORT_DATA)
def import_map(request: HttpRequest, run_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.IMPORT_DATA)
def import_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.IMPORT_DATA)
def import_resume(request: HttpRequest, run_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.IMPORT_DATA)
def import_errors(request: HttpRequest, run_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.IMPORT_DATA)
def import_rows(request: HttpRequest, run_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet
