"""The data-quality audit: scores with trend and rank, failing records, the OEM's policy, rebates."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm


@staff_view(Perm.VIEW_DATA_QUALITY)
def quality_dashboard(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.VIEW_DATA_QUALITY)
def quality_failures(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.MANAGE_AUDIT)
def audit_policy(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.MANAGE_AUDIT)
def audit_run(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet


@staff_view(Perm.EXPORT_REBATES)
def rebate_export(request: HttpRequest) -> HttpResponse:
    raise Http404  # TODO(helper): not built yet
