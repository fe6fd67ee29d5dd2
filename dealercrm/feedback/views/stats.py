"""The complaint archive's statistics and the satisfaction dashboard (ECharts).

Both read through selectors in a fixed number of queries whatever the number of complaints or
answers: the dashboard from the score rollup only, the archive from grouped queries over the
period's complaints. Dealer users see their dealer; network users their brand's dealers side
by side, ranked. An HTMX request (the filters) gets the `body` partial.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm

from ..models import ComplaintCategory
from ..selectors import complaint_stats as archive
from ..selectors import survey_scores as scores


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None


def _render(request: HttpRequest, name: str, context: dict[str, Any]) -> HttpResponse:
    return render(request, f"{name}#body" if request.htmx else name, context)


@staff_view(Perm.VIEW_FEEDBACK_STATS)
def complaint_stats(request: HttpRequest) -> HttpResponse:
    options = archive.complaint_stats_options(request.user)
    filters, errors = archive.parse_filters(request.GET, options)
    stats = archive.complaint_stats(request.user, filters, options)
    charts = {
        "names": {
            "complaints": _("Complaints"),
            "cumulative": _("Cumulative %"),
            "response": _("First response in time (%)"),
            "solution": _("Solution in time (%)"),
        },
        "months": [{"label": c.label, "count": c.count} for c in stats.by_month],
        "categories": [{"label": c.label, "count": c.count} for c in stats.by_category],
        "pareto": [
            {"label": c.label, "count": c.count, "cumulative": c.cumulative_percent}
            for c in stats.root_causes
        ],
        "dealers": [
            {
                "label": s.label,
                "complaints": s.complaints,
                "response": s.response_percent,
                "solution": s.solution_percent,
            }
            for s in stats.by_dealer
        ],
    }
    return _render(
        request,
        "feedback/complaint_stats.html",
        {
            "stats": stats,
            "options": options,
            "errors": errors,
            "periods": [(n, _("Last %(n)d months") % {"n": n}) for n in archive.PERIODS],
            "categories": ComplaintCategory.choices,
            "charts": charts,
            "query": request.GET.urlencode(),
        },
    )


def dashboard_charts(figures: scores.DashboardFigures) -> dict[str, Any]:
    """What the charts draw (json_script), with their translated names."""
    return {
        "names": {
            "csi": _("CSI"),
            "expectation": _("Expectation"),
            "gap": _("Gap (experience − expectation)"),
            "nps": _("NPS"),
            "interval": _("95 percent interval"),
            "answers": _("Answers"),
            "small": _("small sample"),
            "promoters": _("Promoters"),
            "passives": _("Passives"),
            "detractors": _("Detractors"),
            "response_rate": _("Response rate (%)"),
        },
        "small_sample": scores.SMALL_SAMPLE,
        "dimensions": [s.as_dict() for s in figures.by_dimension],
        "months": [s.as_dict() for s in figures.by_month],
        "dealers": [s.as_dict() for s in figures.by_dealer],
        "total": figures.total.as_dict(),
    }


@staff_view(Perm.VIEW_FEEDBACK_STATS)
def survey_dashboard(request: HttpRequest) -> HttpResponse:
    options = scores.score_options(request.user, dealer_id=_int_or_none(request.GET.get("dealer")))
    filters, errors = scores.parse_filters(request.GET, options)
    figures = scores.dashboard_figures(request.user, filters, options)
    return _render(
        request,
        "feedback/survey_dashboard.html",
        {
            "figures": figures,
            "options": options,
            "errors": errors,
            "filters": filters,
            "periods": [(n, _("Last %(n)d months") % {"n": n}) for n in scores.PERIODS],
            "kinds": scores.kind_choices(),
            "charts": dashboard_charts(figures),
            "small_sample": scores.SMALL_SAMPLE,
            "query": request.GET.urlencode(),
        },
    )
