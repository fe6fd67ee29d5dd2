"""Merging a pair field by field, the merge history, and undo within 30 days.

The merge form itself is a partial of the duplicate pair's page (views.duplicates): that page
calls `merge_form_context` for the form's context. Writes are POSTs that redirect with a message;
undo needs `confirm=1`, so an empty post never undoes anything.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm

from ..models import DuplicateCandidate, DuplicateStatus
from ..selectors import merges as selectors
from ..services import merges as services
from ..services.merges import (
    MERGE_UNDO_DAYS,
    PLAN_FIELD_NAMES,
    PLAN_LABELS,
    RULE_LABELS,
    RULES,
    SURVIVOR,
    customer_merge,
    merge_plan,
    merge_undo_refusal,
)

LIST = "dataquality/merges/merge_list.html"
DETAIL = "dataquality/merges/merge_detail.html"


def merge_form_context(request: HttpRequest, candidate: DuplicateCandidate) -> dict[str, Any]:
    """What `dataquality/merges/_merge_form.html` needs, for the pair's side-by-side page.

    The older record survives unless `?survivor=<id>` names the other; `?rule=` picks the
    survivorship rule (most recent by default).
    """
    older, newer = selectors.pair_customers(candidate)
    survivor, merged = older, newer
    if request.GET.get("survivor") == str(newer.pk):
        survivor, merged = newer, older
    rule = request.GET.get("rule")
    if rule not in RULES:
        rule = RULES[0]
    return {
        "candidate": candidate,
        "survivor": survivor,
        "merged": merged,
        "rule": rule,
        "rules": [(value, RULE_LABELS[value]) for value in RULES],
        "plan": merge_plan(survivor=survivor, merged=merged, rule=rule),
    }


def _error_text(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _back_to_pair(candidate: DuplicateCandidate, **params: Any) -> HttpResponse:
    url = reverse("dataquality:duplicate_detail", kwargs={"candidate_id": candidate.pk})
    query = {k: v for k, v in params.items() if v}
    return redirect(f"{url}?{urlencode(query)}" if query else url)


@staff_view(Perm.MERGE_CUSTOMERS)
def duplicate_merge(request: HttpRequest, candidate_id: int) -> HttpResponse:
    candidate = selectors.get_mergeable_pair_for_user(request.user, candidate_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    post = request.POST
    survivor_id, rule = post.get("survivor_id", ""), post.get("rule") or RULES[0]
    if post.get("confirm") != "1":
        messages.error(request, _("Tick “These are the same customer” to merge them."))
        return _back_to_pair(candidate, survivor=survivor_id, rule=rule)
    # A pair marked a household may still turn out to be one person; a decided one may not.
    if candidate.status not in (DuplicateStatus.OPEN, DuplicateStatus.HOUSEHOLD):
        messages.error(
            request,
            _("This pair was already decided (%(status)s).")
            % {"status": candidate.get_status_display()},
        )
        return _back_to_pair(candidate)
    pair = {str(candidate.customer_a_id): candidate.customer_a}
    pair[str(candidate.customer_b_id)] = candidate.customer_b
    if survivor_id not in pair:
        messages.error(request, _("Choose which of the two records to keep."))
        return _back_to_pair(candidate, rule=rule)
    survivor = pair.pop(survivor_id)
    merged = next(iter(pair.values()))
    try:
        # The versions the user saw: a change since then refuses the merge.
        survivor.version = int(post.get("survivor_version", ""))
        merged.version = int(post.get("merged_version", ""))
    except ValueError:
        messages.error(request, _("The form is out of date: reload the page and merge again."))
        return _back_to_pair(candidate, survivor=survivor_id, rule=rule)
    choices = {
        name: post[f"choice_{name}"] for name in PLAN_FIELD_NAMES if f"choice_{name}" in post
    }
    try:
        record = customer_merge(
            actor=request.user,
            survivor=survivor,
            merged=merged,
            choices=choices,
            rule=rule,
            candidate=candidate,
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return _back_to_pair(candidate, survivor=survivor_id, rule=rule if rule in RULES else "")
    messages.success(
        request,
        format_html(
            '{} <a href="{}" data-undo-link>{}</a>',
            _("%(merged)s (#%(id)s) was merged into this customer.")
            % {"merged": merged.name, "id": merged.pk},
            reverse("dataquality:merge_detail", kwargs={"merge_id": record.pk}),
            _("Undo"),
        ),
    )
    return redirect("customers:detail", customer_id=survivor.pk)


@staff_view(Perm.MERGE_CUSTOMERS)
def merge_list(request: HttpRequest) -> HttpResponse:
    page = selectors.merge_page(request.user, page=request.GET.get("page") or 1)
    now = timezone.now()
    rows = [(merge, not merge_undo_refusal(merge, now=now)) for merge in page.object_list]
    return render(
        request,
        LIST,
        {
            "page": page,
            "rows": rows,
            "undo_days": MERGE_UNDO_DAYS,
            "network": not request.user.dealer_id,
        },
    )


@staff_view(Perm.MERGE_CUSTOMERS)
def merge_detail(request: HttpRequest, merge_id: int) -> HttpResponse:
    merge = selectors.get_merge_for_user(request.user, merge_id)
    choices = merge.choices or {}
    return render(
        request,
        DETAIL,
        {
            "merge": merge,
            "moved": selectors.moved_kinds(merge),
            "dropped": selectors.dropped_kinds(merge),
            "taken_from_merged": [
                str(PLAN_LABELS.get(name, name))
                for name, side in choices.items()
                if side != SURVIVOR
            ],
            "refusal": merge_undo_refusal(merge),
            "undo_days": MERGE_UNDO_DAYS,
        },
    )


@staff_view(Perm.MERGE_CUSTOMERS)
def merge_undo(request: HttpRequest, merge_id: int) -> HttpResponse:
    merge = selectors.get_merge_for_user(request.user, merge_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if request.POST.get("confirm") != "1":
        messages.error(request, _("Confirm that you want to undo this merge."))
        return redirect("dataquality:merge_detail", merge_id=merge.pk)
    try:
        services.merge_undo(actor=request.user, merge=merge)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return redirect("dataquality:merge_detail", merge_id=merge.pk)
    messages.success(
        request,
        _("The merge was undone: %(merged)s (#%(id)s) is back with everything that was theirs.")
        % {"merged": merge.merged.name, "id": merge.merged_id},
    )
    return redirect("dataquality:merge_detail", merge_id=merge.pk)
