"""Pages: the funnel dashboard (ECharts) and the export of its comparison table.

Everything comes from the roll-up cells through selectors/funnel.py, in a fixed number of
queries whatever the number of leads. Dealer managers see their dealer (with a table per
consultant); OEM users see every dealer of the brand side by side (with a table per dealer).
An HTMX request (the filters) gets the `body` partial.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.access import staff_view
from dealercrm.core.audit import audit_record
from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Perm

from ..forms.funnel import FunnelFilterForm
from ..selectors import funnel as selectors
from ..selectors.funnel import FunnelFigures, FunnelRow


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None


def _figures(request: HttpRequest) -> tuple[FunnelFilterForm, FunnelFigures]:
    options = selectors.funnel_options(
        request.user, dealer_id=_int_or_none(request.GET.get("dealer"))
    )
    form = FunnelFilterForm(request.GET or None, options=options)
    figures = selectors.funnel_figures(request.user, form.filters(), options)
    return form, figures


def _series(rows: list[FunnelRow]) -> list[dict[str, Any]]:
    return [
        {
            "label": r.label,
            "leads": r.leads,
            "ordered": r.ordered,
            "lost": r.lost,
            "conversion": r.conversion_percent,
            "lost_rate": r.lost_percent,
            "in_time": r.in_time_percent,
            "response_minutes": r.response_minutes,
            "decision_days": r.decision_days,
        }
        for r in rows
    ]


def chart_data(figures: FunnelFigures) -> dict[str, Any]:
    """What the charts draw (json_script), with their translated series names."""
    return {
        "names": {
            "leads": _("Leads"),
            "ordered": _("Orders"),
            "lost": _("Lost"),
            "conversion": _("Conversion to order (%)"),
            "lost_rate": _("Lost rate (%)"),
            "documents": _("Documents"),
            "share": _("Share of leads (%)"),
        },
        "funnel": figures.total.stages(),
        "channels": _series(figures.by_channel),
        "months": _series(figures.by_month),
        "models": _series(figures.by_model),
        "consultants": _series(figures.by_consultant),
        "dealers": _series(figures.by_dealer),
        "losses": [{"label": r.label, "value": r.lost} for r in figures.loss_reasons],
        "referral": {
            "labels": [_("Referral"), _("Advertising")],
            "ours": [figures.referral.conversion_percent, figures.advertising.conversion_percent],
            "documents": [
                figures.documents["referral_percent"],
                figures.documents["advertising_percent"],
            ],
        },
    }


@staff_view(Perm.VIEW_FUNNEL)
def funnel(request: HttpRequest) -> HttpResponse:
    form, figures = _figures(request)
    options = form.options
    context = {
        "form": form,
        "figures": figures,
        "options": options,
        "charts": chart_data(figures),
        "documents": figures.documents,
        "export_query": request.GET.urlencode(),
    }
    name = "sales/funnel/dashboard.html"
    return render(request, f"{name}#body" if request.htmx else name, context)


EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _export_rows(figures: FunnelFigures, *, network: bool) -> tuple[list[str], list[list[Any]]]:
    header = [
        _("Dealer") if network else _("Consultant"),
        _("Leads"),
        _("Contacted"),
        _("Test drive"),
        _("Negotiation"),
        _("Orders"),
        _("Delivered"),
        _("Lost"),
        _("Conversion to order (%)"),
        _("Lost rate (%)"),
        _("First response, average minutes"),
        _("First response in time (%)"),
        _("Decision cycle, average days"),
    ]
    if network:
        header += [_("Delayed orders"), _("Customers told in time (%)")]
    rows = []
    for r in figures.by_dealer if network else figures.by_consultant:
        line = [
            r.label,
            r.leads,
            r.contacted,
            r.test_driven,
            r.negotiated,
            r.ordered,
            r.delivered,
            r.lost,
            r.conversion_percent,
            r.lost_percent,
            r.response_minutes,
            r.in_time_percent,
            r.decision_days,
        ]
        if network:
            line += [r.extra.get("delayed", 0), r.extra.get("percent")]
        rows.append(["" if v is None else v for v in line])
    return header, rows


@staff_view(Perm.VIEW_FUNNEL)
def funnel_export(request: HttpRequest) -> HttpResponse:
    """The comparison table (dealers for network users, consultants for a dealer) as CSV or
    XLSX; every export is written to the audit log."""
    fmt = request.GET.get("format", "csv")
    if fmt not in EXPORT_FORMATS:
        fmt = "csv"
    form, figures = _figures(request)
    network = form.options.is_network
    header, rows = _export_rows(figures, network=network)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")  # Excel opens UTF-8 CSV with Chinese text only with a BOM
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        body: bytes = buffer.getvalue().encode("utf-8")
    else:
        import xlsxwriter

        out = io.BytesIO()
        book = xlsxwriter.Workbook(out, {"in_memory": True})
        sheet = book.add_worksheet(_("Sales funnel")[:31])
        bold = book.add_format({"bold": True})
        sheet.write_row(0, 0, header, bold)
        for i, line in enumerate(rows, start=1):
            sheet.write_row(i, 0, line)
        sheet.set_column(0, 0, 24)
        book.close()
        body = out.getvalue()
    filters = figures.filters
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        target_type="sales.funnelcell",
        target_repr=_("Sales funnel: %(count)d rows") % {"count": len(rows)},
        dealer_id=request.user.dealer_id or filters.dealer_id,
        changes={
            "format": fmt,
            "rows": len(rows),
            "months": filters.months,
            "dealer": filters.dealer_id,
            "channel": filters.channel,
            "consultant": filters.consultant_id,
            "car_model": filters.car_model_id,
        },
        request=request,
    )
    response = HttpResponse(body, content_type=EXPORT_FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="sales-funnel-{stamp}.{fmt}"'
    return response


urlpatterns = [
    path("funnel/", funnel, name="funnel"),
    path("funnel/export/", funnel_export, name="funnel_export"),
]
