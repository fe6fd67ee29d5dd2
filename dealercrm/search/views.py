"""The one-box search: suggestions as the user types (HTMX), and the full results page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm

from .router import MAX_QUERY
from .selectors import RESULTS_LIMIT, SUGGEST_LIMIT, search_customers


def _query(request: HttpRequest) -> str:
    return request.GET.get("q", "").strip()[:MAX_QUERY]


@staff_view(Perm.VIEW_CUSTOMER)
def suggest(request: HttpRequest) -> HttpResponse:
    """The dropdown under the search box: at most ten customers, best first."""
    q = _query(request)
    hits = search_customers(request.user, q, limit=SUGGEST_LIMIT) if q else []
    return render(
        request,
        "search/_suggestions.html",
        {"q": q, "hits": hits, "show_dealer": request.user.is_network_user},
    )


@staff_view(Perm.VIEW_CUSTOMER)
def results(request: HttpRequest) -> HttpResponse:
    """/search/?q=… : up to fifty customers; an HTMX request gets only the list."""
    q = _query(request)
    hits = search_customers(request.user, q, limit=RESULTS_LIMIT) if q else []
    template = "search/results.html#result-list" if request.htmx else "search/results.html"
    return render(
        request,
        template,
        {
            "q": q,
            "hits": hits,
            "limit": RESULTS_LIMIT,
            "show_dealer": request.user.is_network_user,
        },
    )
