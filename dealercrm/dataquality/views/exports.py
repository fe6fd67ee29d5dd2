"""Exports of customers and lists: start one, watch its progress, download it."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm


@staff_view(Perm.EXPORT_CUSTOMERS)
def export_list(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.EXPORT_CUSTOMERS)
def export_create(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.EXPORT_CUSTOMERS)
def export_detail(request: HttpRequest, export_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.EXPORT_CUSTOMERS)
def export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet
