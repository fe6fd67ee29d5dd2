"""The dealer's complaint SLA settings (per severity; wall clock or opening hours)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer

from ..forms.sla import SlaTermsForm
from ..models import ComplaintSlaPolicy
from ..services.sla import DEFAULTS, SEVERITIES, sla_settings_save, sla_terms_for_dealers


def _opening_hours(dealer_id: int) -> tuple[Any, str]:
    """The workshop's opening hours and its open days, named ("Mon, Tue, …")."""
    from dealercrm.service.services.policy import policy_for_dealer

    policy = policy_for_dealer(dealer_id)
    days = ", ".join(str(WEEKDAYS_ABBR[int(d)]) for d in policy.open_weekdays)
    return policy, days


@staff_view(Perm.MANAGE_COMPLAINTS)
def sla_settings(request: HttpRequest) -> HttpResponse:
    """GET: the three severities' clocks. POST: save all three in one transaction (audit-logged);
    a mistake in any shows on its field and saves nothing."""
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    terms = sla_terms_for_dealers([dealer.pk])
    saved = set(
        ComplaintSlaPolicy.objects.filter(dealer_id=dealer.pk).values_list("severity", flat=True)
    )
    data = request.POST if request.method == "POST" else None
    forms = [
        SlaTermsForm(data, severity=severity, terms=terms[(dealer.pk, severity)])
        for severity in SEVERITIES
    ]
    errors: list[str] = []
    if data is not None:
        valid = all([form.is_valid() for form in forms])  # every form, so every error shows
        if valid:
            try:
                sla_settings_save(
                    actor=request.user,
                    dealer_id=dealer.pk,
                    rows={form.severity: form.values() for form in forms},
                )
            except ValidationError as exc:
                by_form = {form.severity: form for form in forms}
                for key, texts in exc.message_dict.items():
                    severity, _sep, name = key.partition("-")
                    form = by_form.get(severity)
                    for text in texts:
                        if form is not None and name in form.fields:
                            form.add_error(name, text)
                        else:
                            errors.append(text)
            else:
                messages.success(request, _("The complaint SLA is saved."))
                target = redirect("feedback:sla_settings")
                if not request.user.dealer_id:
                    target["Location"] += f"?dealer={dealer.pk}"
                return target
    hours, open_days = _opening_hours(dealer.pk)
    return render(
        request,
        "feedback/sla_settings.html",
        {
            "dealer": dealer,
            "forms": forms,
            "saved": saved,
            "errors": errors,
            "defaults": DEFAULTS,
            "hours": hours,
            "open_days": open_days,
        },
        status=400 if data is not None else 200,
    )
