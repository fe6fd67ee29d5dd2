"""The audit log page: who created, changed, deleted, exported or unmasked what, and when."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .access import staff_view
from .forms import AuditFilterForm
from .permissions import Perm
from .selectors import audit_events_filtered, audit_target_types

PAGE_SIZE = 50


@staff_view(Perm.VIEW_AUDIT_LOG)
def audit_log(request: HttpRequest) -> HttpResponse:
    """Filtered by action, actor, object type and dates; newest first; fifty a page."""
    form = AuditFilterForm(request.GET or None, target_types=audit_target_types(request.user))
    filters = {}
    if form.is_bound and form.is_valid():
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    events = audit_events_filtered(request.user, **filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    template = "core/audit_log.html"
    if request.htmx:
        template += "#audit-table"
    return render(request, template, context)
