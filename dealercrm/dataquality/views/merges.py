"""Merging a pair field by field, the merge history, and undo within 30 days."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm


@staff_view(Perm.MERGE_CUSTOMERS)
def duplicate_merge(request: HttpRequest, candidate_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.MERGE_CUSTOMERS)
def merge_list(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.MERGE_CUSTOMERS)
def merge_detail(request: HttpRequest, merge_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.MERGE_CUSTOMERS)
def merge_undo(request: HttpRequest, merge_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet
