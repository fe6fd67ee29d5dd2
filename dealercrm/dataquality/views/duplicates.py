"""The duplicate review queue: pairs side by side, decisions, scans, the dealer's auto-merge policy.

A dealer's staff review their dealer's own pairs; the OEM's roles review the pairs across the
brand's dealers (a tab) and see the dealers' own pairs read-only. Scans run as jobs.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer, visible_dealers

from ..models import DuplicateStatus
from ..selectors import duplicates as selectors
from ..services.duplicates import (
    DECISIONS,
    dealer_threshold,
    dedup_settings_save,
)
from ..services.duplicates import (
    duplicate_decide as decide,
)

LIST = "dataquality/duplicates/duplicate_list.html"
DETAIL = "dataquality/duplicates/duplicate_detail.html"
SETTINGS = "dataquality/duplicates/dedup_settings.html"


@staff_view(Perm.REVIEW_DUPLICATES)
def duplicate_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    network = selectors.is_network(user)
    filters = selectors.DuplicateFilters.from_params(request.GET, network=network)
    page = selectors.duplicate_page(user, filters, page=request.GET.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    counts = selectors.status_counts(user, filters)
    context = {
        "page": page,
        "candidates": page.object_list,
        "filters": filters,
        "query": query.urlencode(),
        "statuses": [
            (value, label, counts.get(value, 0)) for value, label in DuplicateStatus.choices
        ],
        "network": network,
        "tabs": [(selectors.ACROSS, _("Across dealers")), (selectors.WITHIN, _("Within dealers"))],
        "can_scan": network or bool(user.dealer_id),
        "can_set_policy": bool(user.dealer_id) and user.has_perm(Perm.MERGE_CUSTOMERS),
    }
    if request.htmx and request.headers.get("HX-Target") == "duplicate-results":
        return render(request, f"{LIST}#results", context)
    if network:
        context["dealers"] = list(visible_dealers(user).order_by("name"))
    return render(request, LIST, context)


def _can_decide(user: Any, candidate: Any) -> bool:
    if candidate.status == DuplicateStatus.MERGED:
        return False
    if candidate.cross_dealer:
        return selectors.is_network(user)
    return bool(user.dealer_id) and user.dealer_id == candidate.dealer_id


def _decisions(candidate: Any) -> list[tuple[str, str]]:
    allowed = (
        [DuplicateStatus.LINKED, DuplicateStatus.NOT_DUPLICATE]
        if candidate.cross_dealer
        else [DuplicateStatus.NOT_DUPLICATE, DuplicateStatus.HOUSEHOLD]
    )
    if candidate.status != DuplicateStatus.OPEN:
        allowed.append(DuplicateStatus.OPEN)
    labels = dict(DuplicateStatus.choices)
    labels[DuplicateStatus.OPEN] = _("Back to review")
    return [(value, labels[value]) for value in allowed if value != candidate.status]


def _detail_context(request: HttpRequest, candidate: Any, *, reveal: bool = False) -> dict:
    user = request.user
    revealed: dict[int, Any] = {}
    can_reveal = user.has_perm(Perm.VIEW_FULL_CONTACT) and bool(user.dealer_id)
    if reveal and can_reveal:
        from dealercrm.customers.services import customer_contact_reveal

        for customer in (candidate.customer_a, candidate.customer_b):
            revealed[customer.pk] = customer_contact_reveal(
                actor=user, customer=customer, request=request
            )
    side_a, side_b = selectors.customer_sides(candidate, revealed=revealed)
    context: dict[str, Any] = {
        "candidate": candidate,
        "sides": [side_a, side_b],
        "reasons": candidate.reasons or {},
        "can_decide": _can_decide(user, candidate),
        "decisions": _decisions(candidate),
        "can_reveal": can_reveal and not revealed,
        "revealed": bool(revealed),
        "history_labels": [
            ("leads", _("Leads")),
            ("orders", _("Orders")),
            ("repair_orders", _("Repair orders")),
            ("messages", _("Messages")),
            ("complaints", _("Complaints")),
        ],
        "show_merge": False,
    }
    if (
        not candidate.cross_dealer
        and candidate.status in (DuplicateStatus.OPEN, DuplicateStatus.HOUSEHOLD)
        and user.has_perm(Perm.MERGE_CUSTOMERS)
        and user.dealer_id == candidate.dealer_id
        and not candidate.customer_a.is_deleted
        and not candidate.customer_b.is_deleted
    ):
        from .merges import merge_form_context

        context.update(merge_form_context(request, candidate))
        context["show_merge"] = True
    return context


@staff_view(Perm.REVIEW_DUPLICATES)
def duplicate_detail(request: HttpRequest, candidate_id: int) -> HttpResponse:
    candidate = selectors.get_candidate_for_user(request.user, candidate_id)
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    # A POST with reveal=1 shows the full phones and ID numbers (audit-logged as an unmasking).
    reveal = request.method == "POST" and request.POST.get("reveal") == "1"
    return render(request, DETAIL, _detail_context(request, candidate, reveal=reveal))


@staff_view(Perm.REVIEW_DUPLICATES)
def duplicate_decide(request: HttpRequest, candidate_id: int) -> HttpResponse:
    candidate = selectors.get_candidate_for_user(request.user, candidate_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    status = request.POST.get("status", "")
    url = reverse("dataquality:duplicate_detail", kwargs={"candidate_id": candidate.pk})
    if status not in DECISIONS:
        messages.error(request, _("Choose a decision: not the same customer, or a household."))
        return redirect(url)
    if not _can_decide(request.user, candidate):
        raise PermissionDenied
    try:
        decide(actor=request.user, candidate=candidate, status=status)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(url)
    messages.success(
        request,
        _("Decision saved: %(status)s.") % {"status": DuplicateStatus(status).label},
    )
    if status == DuplicateStatus.OPEN:
        return redirect(url)
    return redirect(reverse("dataquality:duplicate_list") + _tab_query(candidate))


def _tab_query(candidate: Any) -> str:
    return f"?tab={selectors.ACROSS}" if candidate.cross_dealer else ""


@staff_view(Perm.REVIEW_DUPLICATES)
def duplicate_scan(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    from ..duplicate_jobs import duplicates_scan_job

    user = request.user
    if selectors.is_network(user):
        if not user.brand_id:
            raise PermissionDenied
        duplicates_scan_job(brand_id=user.brand_id)
        messages.success(
            request,
            _("A scan across the brand's dealers has started; new pairs appear here when done."),
        )
        return redirect(reverse("dataquality:duplicate_list") + f"?tab={selectors.ACROSS}")
    dealer = acting_dealer(request)
    if dealer is None:
        raise PermissionDenied
    duplicates_scan_job(dealer_id=dealer.pk)
    messages.success(request, _("A duplicate scan has started; new pairs appear here when done."))
    return redirect("dataquality:duplicate_list")


@staff_view(Perm.MERGE_CUSTOMERS)
def dedup_settings(request: HttpRequest) -> HttpResponse:
    user = request.user
    # A dealer's own policy; a system administrator picks the dealer (?dealer=).
    dealer = acting_dealer(request)
    if dealer is None:
        raise PermissionDenied
    errors: list[str] = []
    value = dealer_threshold(dealer.pk)
    raw = "" if value is None else f"{value:g}"
    if request.method == "POST":
        raw = (request.POST.get("auto_merge_above") or "").strip()
        threshold: float | None = None
        if raw:
            try:
                threshold = float(raw.replace(",", "."))
            except ValueError:
                errors.append(
                    _("Merge automatically above: enter a number such as 0.95, or leave it empty.")
                )
        if not errors:
            try:
                dedup_settings_save(actor=user, dealer_id=dealer.pk, auto_merge_above=threshold)
            except ValidationError as exc:
                errors.extend(exc.messages)
            else:
                messages.success(request, _("Duplicate settings saved."))
                url = reverse("dataquality:dedup_settings")
                return redirect(url if user.dealer_id else f"{url}?dealer={dealer.pk}")
    status = 400 if errors else 200
    context = {"value": raw, "errors": errors, "dealer": dealer}
    return render(request, SETTINGS, context, status=status)
