"""The dealer's complaint SLA settings (per severity; wall clock or opening hours)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm


@staff_view(Perm.MANAGE_COMPLAINTS)
def sla_settings(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError("issue 6: SLA settings page")
