"""The duplicate review queue: pairs side by side, decisions, scans, the dealer's auto-merge policy."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm


@staff_view(Perm.REVIEW_DUPLICATES)
def duplicate_list(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.REVIEW_DUPLICATES)
def duplicate_scan(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.MERGE_CUSTOMERS)
def dedup_settings(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.REVIEW_DUPLICATES)
def duplicate_detail(request: HttpRequest, candidate_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.REVIEW_DUPLICATES)
def duplicate_decide(request: HttpRequest, candidate_id: int) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet
