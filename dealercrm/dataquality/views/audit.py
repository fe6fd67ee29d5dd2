"""The data-quality audit: scores with trend and rank, failing records, the OEM's policy, rebates.

A dealer user sees their own dealer; an OEM user every dealer of the brand ranked, and one dealer
with ?dealer=<id> (404 for a dealer outside their scope). Every failing count links to the
records that fail, so the dealer can fix them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from dealercrm.core.access import staff_view
from dealercrm.core.models import Dealer
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import get_dealer_for_user, visible_dealers
from dealercrm.core.tenancy import DealerScope, dealer_scope
from dealercrm.customers.contact_masking import mask_phone

from ..models import DealerAuditScore
from ..selectors import audit as selectors
from ..services.audit import audit_policy_save, clean_bands, rebate_bands_save
from ..services.audit import audit_run as run_audit
from ..services.audit_checks import DIMENSION_LABELS, DIMENSIONS, REQUIRED_FIELD_CHOICES
from ..services.audit_export import FORMATS, rebate_table_export

FAILURES_PER_PAGE = 50
BAND_ROWS = 6


def _brand_id(request: HttpRequest) -> int:
    brand_id = selectors.audit_brand_id(request.user)
    if brand_id is None:
        raise Http404
    return brand_id


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None


def _dealer_in_view(request: HttpRequest) -> Dealer | None:
    """The user's own dealer, or for a network user the ?dealer= one (404 outside scope)."""
    if request.user.dealer_id:
        own = request.user.dealer
        asked = request.GET.get("dealer")
        if asked and _int(asked) != own.pk:
            raise Http404
        return own
    asked = request.GET.get("dealer")
    if not asked:
        return None
    dealer_id = _int(asked)
    if dealer_id is None:
        raise Http404
    return get_dealer_for_user(request.user, dealer_id)


def _period(request: HttpRequest, dealer_ids: list[int]) -> tuple[dt.date, str]:
    period, error = selectors.parse_period(request.GET.get("period"))
    return period or selectors.latest_period(dealer_ids), error


def _ordinal(rank: int | None, of: int | None) -> str:
    if not rank:
        return ""
    return _("rank %(rank)d of %(of)d") % {"rank": rank, "of": of or rank}


def _chart_names() -> dict[str, str]:
    return {
        "score": _("Score"),
        **{d: str(DIMENSION_LABELS[d]) for d in DIMENSIONS},
        "rebate": _("Rebate %"),
    }


@staff_view(Perm.VIEW_DATA_QUALITY)
def quality_dashboard(request: HttpRequest) -> HttpResponse:
    brand_id = _brand_id(request)
    dealer = _dealer_in_view(request)
    dealers = (
        [dealer]
        if dealer
        else list(
            visible_dealers(request.user).filter(brand_id=brand_id, is_active=True).order_by("code")
        )
    )
    dealer_ids = [d.pk for d in dealers]
    period, period_error = _period(request, dealer_ids)
    policy = selectors.policy_of(brand_id)
    context: dict[str, Any] = {
        "period": period,
        "period_value": f"{period:%Y-%m}",
        "period_error": period_error,
        "periods": selectors.brand_periods(dealer_ids),
        "dealer": dealer,
        "is_network": not request.user.dealer_id,
        "can_run": request.user.has_perm(Perm.MANAGE_AUDIT) and not request.user.dealer_id,
        "can_export": request.user.has_perm(Perm.EXPORT_REBATES) and not request.user.dealer_id,
        "formats": FORMATS,
    }
    if dealer is not None:
        score = DealerAuditScore.objects.filter(dealer=dealer, period=period).first()
        bands = selectors.bands_for_brand(brand_id)
        context.update(
            score=score,
            rank_text=_ordinal(score.rank, score.ranked_of) if score else "",
            band=selectors.rebate_for(score.score, bands) if score else None,
            dimensions=selectors.dimension_rows(score, policy.weights),
            failing=selectors.failing_checks(score, policy),
            charts={
                "names": _chart_names(),
                "trend": selectors.dealer_trend(dealer.pk, period),
            },
        )
    else:
        ranking = selectors.brand_ranking(brand_id, period, dealers)
        context.update(
            ranking=ranking,
            charts={
                "names": _chart_names(),
                "dealers": [
                    {
                        "label": r.dealer.name,
                        "score": r.score.score,
                        "rebate": float(r.rebate_percent) if r.rebate_percent is not None else 0,
                    }
                    for r in ranking
                    if r.score is not None
                ],
            },
        )
    return render(request, "dataquality/audit/dashboard.html", context)


def _failure_row(check_table: str, record: Any) -> dict[str, Any]:
    """What the page shows of a failing record, contacts masked, and where to fix it."""
    if check_table == "customer":
        return {
            "title": record.name or _("(no name)"),
            "detail": ", ".join(
                v for v in (record.province, record.city, record.id_number_masked) if v
            ),
            "url": reverse("customers:detail", args=[record.pk]),
        }
    if check_table == "phone":
        return {
            "title": record.customer.name or _("(no name)"),
            "detail": mask_phone(record.number),
            "url": reverse("customers:detail", args=[record.customer_id]),
        }
    if check_table == "vehicle":
        return {
            "title": record.plate or record.vin,
            "detail": f"{record.vin} · {record.owner.name if record.owner else ''}",
            "url": reverse("vehicles:detail", args=[record.pk]),
        }
    return {
        "title": record.number,
        "detail": _("ordered %(ordered)s, delivered %(delivered)s, entered %(entered)s")
        % {
            "ordered": record.ordered_on,
            "delivered": record.delivered_on,
            "entered": record.created_at.date(),
        },
        "url": reverse("customers:detail", args=[record.customer_id]),
    }


@staff_view(Perm.VIEW_DATA_QUALITY)
def quality_failures(request: HttpRequest) -> HttpResponse:
    brand_id = _brand_id(request)
    dealer = _dealer_in_view(request)
    if dealer is None:
        # A network user came without a dealer: let them pick one (the scores link with it).
        dealers = visible_dealers(request.user).filter(brand_id=brand_id, is_active=True)
        return render(
            request,
            "dataquality/audit/failures.html",
            {
                "choose_dealer": dealers.order_by("code"),
                "code": request.GET.get("check", ""),
                "period_value": request.GET.get("period", ""),
            },
        )
    period, period_error = _period(request, [dealer.pk])
    policy = selectors.policy_of(brand_id)
    code = request.GET.get("check", "")
    check = selectors.check_for(policy, code)
    context: dict[str, Any] = {
        "dealer": dealer,
        "period": period,
        "period_value": f"{period:%Y-%m}",
        "period_error": period_error,
        "checks": policy.checks(),
        "check": check,
        "code": code,
        "is_network": not request.user.dealer_id,
    }
    status = 200
    if check is None:
        context["check_error"] = (
            _("Choose one of the checks below.")
            if not code
            else _("“%(code)s” is not one of this brand's checks.") % {"code": code}
        )
        status = 404 if code else 200
    else:
        records = selectors.failing_records(check, dealer_id=dealer.pk, period=period)
        page = Paginator(records, FAILURES_PER_PAGE).get_page(request.GET.get("page"))
        context.update(
            page=page,
            rows=[_failure_row(check.table, r) for r in page.object_list],
            dimension_label=DIMENSION_LABELS[check.dimension],
        )
    return render(request, "dataquality/audit/failures.html", context, status=status)


def _policy_form(brand_id: int, data: Any | None = None) -> dict[str, Any]:
    """The form's values: what was posted, else the saved policy and bands."""
    if data is not None:
        weights = {d: data.get(f"weight_{d}", "") for d in DIMENSIONS}
        required = data.getlist("required_fields")
        days = data.get("timeliness_days", "")
        bands = [
            (
                data.get(f"band_{n}_min", ""),
                data.get(f"band_{n}_percent", ""),
                data.get(f"band_{n}_label", ""),
            )
            for n in range(1, BAND_ROWS + 1)
        ]
    else:
        policy = selectors.policy_of(brand_id)
        weights = {d: f"{policy.weights[d]:g}" for d in DIMENSIONS}
        required, days = policy.required_fields, policy.timeliness_days
        saved = selectors.bands_for_brand(brand_id)
        bands = [(f"{b.min_score:g}", f"{b.rebate_percent:g}", b.label) for b in saved]
        bands += [("", "", "")] * (BAND_ROWS - len(bands))
    return {
        "weights": [(d, DIMENSION_LABELS[d], weights[d]) for d in DIMENSIONS],
        "required": required,
        "days": days,
        "bands": [(n, *band) for n, band in enumerate(bands[:BAND_ROWS], start=1)],
        "field_choices": [(k, v[0]) for k, v in REQUIRED_FIELD_CHOICES.items()],
    }


@staff_view(Perm.MANAGE_AUDIT)
@require_http_methods(["GET", "POST"])
def audit_policy(request: HttpRequest) -> HttpResponse:
    brand_id = _brand_id(request)
    if request.user.dealer_id:
        raise Http404
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = _policy_form(brand_id, request.POST)
        filled = [b[1:] for b in form["bands"] if any(str(v).strip() for v in b[1:])]
        try:
            clean_bands(filled)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        # The policy is checked even when the bands are wrong, so every error shows at once;
        # nothing is written unless both are right.
        try:
            with transaction.atomic():
                audit_policy_save(
                    actor=request.user,
                    brand_id=brand_id,
                    weights={d: request.POST.get(f"weight_{d}", "") for d in DIMENSIONS},
                    required_fields=request.POST.getlist("required_fields"),
                    timeliness_days=request.POST.get("timeliness_days", ""),
                )
                if errors:
                    transaction.set_rollback(True)
                else:
                    rebate_bands_save(actor=request.user, brand_id=brand_id, bands=filled)
        except ValidationError as exc:
            errors.update(exc.message_dict)
        if not errors:
            messages.success(request, _("The audit policy is saved; it applies from the next run."))
            return redirect("dataquality:audit_policy")
    else:
        form = _policy_form(brand_id)
    return render(
        request,
        "dataquality/audit/policy.html",
        {"form": form, "errors": errors},
        status=200,
    )


@staff_view(Perm.MANAGE_AUDIT)
@require_POST
def audit_run(request: HttpRequest) -> HttpResponse:
    """Recompute the month now: one query per table, so it runs inline."""
    brand_id = _brand_id(request)
    if request.user.dealer_id:
        raise Http404
    period, error = selectors.parse_period(request.POST.get("period"))
    if error:
        messages.error(request, error)
        return redirect("dataquality:quality")
    period = period or selectors.current_period()
    with dealer_scope(DealerScope.everything()):
        rows = run_audit(brand_id=brand_id, period=period)
    messages.success(
        request,
        _("%(count)d dealers audited for %(period)s.")
        % {"count": len(rows), "period": f"{period:%Y-%m}"},
    )
    return redirect(f"{reverse('dataquality:quality')}?period={period:%Y-%m}")


@staff_view(Perm.EXPORT_REBATES)
def rebate_export(request: HttpRequest) -> HttpResponse:
    if request.user.dealer_id:
        raise Http404  # the rebate table is the OEM's, whatever a role says
    brand_id = _brand_id(request)
    file_format = request.GET.get("format", "xlsx")
    if file_format not in FORMATS:
        return HttpResponse(
            _("Choose the format xlsx or csv."), status=400, content_type="text/plain"
        )
    period, error = selectors.parse_period(request.GET.get("period"))
    if error:
        return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
    dealer_ids = list(
        visible_dealers(request.user).filter(brand_id=brand_id).values_list("pk", flat=True)
    )
    period = period or selectors.latest_period(dealer_ids)
    export = rebate_table_export(
        actor=request.user,
        brand_id=brand_id,
        period=period,
        file_format=file_format,
        request=request,
    )
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    return response
