"""The complaint archive's statistics and the satisfaction dashboard."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm


@staff_view(Perm.VIEW_FEEDBACK_STATS)
def complaint_stats(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError("issue 6: complaint statistics")


@staff_view(Perm.VIEW_FEEDBACK_STATS)
def survey_dashboard(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError("issue 6: satisfaction dashboard")
