"""Survey invitations: the list, one invitation, an ad-hoc list, the dealer's survey settings."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm


@staff_view(Perm.SEND_SURVEYS)
def invitation_list(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.SEND_SURVEYS)
def invitation_detail(request: HttpRequest, invitation_id: int) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.SEND_SURVEYS)
def survey_send(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.MANAGE_SURVEYS)
def survey_settings(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError
