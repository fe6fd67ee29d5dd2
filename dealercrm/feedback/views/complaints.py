"""Complaint pages (intake for now): the list and one complaint. The complaint issue adds the
handling record, SLA clocks and escalation on these pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm

from .. import selectors
from ..models import ComplaintChannel, ComplaintStatus


@staff_view(Perm.VIEW_COMPLAINTS)
def complaint_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.ComplaintFilters.from_params(request.GET)
    page = selectors.complaint_page(request.user, filters, page=request.GET.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "feedback/complaint_list.html",
        {
            "page": page,
            "complaints": page.object_list,
            "filters": filters,
            "query": query.urlencode(),
            "statuses": ComplaintStatus.choices,
            "channels": ComplaintChannel.choices,
        },
    )


@staff_view(Perm.VIEW_COMPLAINTS)
def complaint_detail(request: HttpRequest, complaint_id: int) -> HttpResponse:
    complaint = selectors.get_complaint_for_user(request.user, complaint_id)
    source_url = ""
    if complaint.source_kind == "care.occurrence" and complaint.source_id.isdigit():
        from django.urls import NoReverseMatch, reverse

        try:
            source_url = reverse("care:task", kwargs={"occurrence_id": int(complaint.source_id)})
        except NoReverseMatch:
            source_url = ""
    return render(
        request,
        "feedback/complaint_detail.html",
        {"complaint": complaint, "source_url": source_url if request.user.dealer_id else ""},
    )


@staff_view(Perm.ADD_COMPLAINT)
def complaint_create(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.WORK_COMPLAINTS)
def complaint_contact(request: HttpRequest, complaint_id: int) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.WORK_COMPLAINTS)
def complaint_solution(request: HttpRequest, complaint_id: int) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.WORK_COMPLAINTS)
def complaint_analysis(request: HttpRequest, complaint_id: int) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.WORK_COMPLAINTS)
def complaint_assign(request: HttpRequest, complaint_id: int) -> HttpResponse:
    raise NotImplementedError


@staff_view(Perm.WORK_COMPLAINTS)
def complaint_follow_up(request: HttpRequest, complaint_id: int) -> HttpResponse:
    raise NotImplementedError
