"""Care pages: the team's figures (managers): completion and overdue rates per person and per
rule over a period, with a bar chart. A fixed number of queries."""

from __future__ import annotations

import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer

from ..selectors.stats import care_stats

PERIODS = ("this_month", "last_month", "last_30", "this_year", "custom")


def period_bounds(
    params,
    today: datetime.date,  # noqa: ANN001 — a QueryDict
) -> tuple[str, datetime.date, datetime.date]:
    period = params.get("period") or "this_month"
    if period not in PERIODS:
        period = "this_month"
    if period == "last_month":
        end = today.replace(day=1) - datetime.timedelta(days=1)
        return period, end.replace(day=1), end
    if period == "last_30":
        return period, today - datetime.timedelta(days=29), today
    if period == "this_year":
        return period, today.replace(month=1, day=1), today
    if period == "custom":
        try:
            start = datetime.date.fromisoformat(params.get("start") or "")
            end = datetime.date.fromisoformat(params.get("end") or "")
        except ValueError:
            start, end = today.replace(day=1), today
        if end < start:
            start, end = end, start
        return period, start, end
    first = today.replace(day=1)
    following = (first + datetime.timedelta(days=32)).replace(day=1)
    return period, first, following - datetime.timedelta(days=1)


@staff_view(Perm.MANAGE_CARE)
def stats(request: HttpRequest) -> HttpResponse:
    dealer = acting_dealer(request)
    today = timezone.localdate()
    period, start, end = period_bounds(request.GET, today)
    figures = care_stats(dealer.pk, start=start, end=end, today=today) if dealer else None
    chart = []
    if figures:
        chart = [
            {
                "label": f.label,
                "completion": f.completion_rate or 0,
                "overdue": f.overdue_rate or 0,
            }
            for f in figures.by_person
        ]
    return render(
        request,
        "care/stats.html",
        {
            "dealer": dealer,
            "figures": figures,
            "period": period,
            "start": start,
            "end": end,
            "periods": [
                ("this_month", _("This month")),
                ("last_month", _("Last month")),
                ("last_30", _("Last 30 days")),
                ("this_year", _("This year")),
                ("custom", _("From … to …")),
            ],
            "chart": chart,
            "chart_labels": {"completion": _("Completion rate %"), "overdue": _("Overdue rate %")},
        },
    )


urlpatterns = [path("stats/", stats, name="stats")]
