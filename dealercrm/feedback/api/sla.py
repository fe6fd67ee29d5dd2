"""Feedback API: the dealer's complaint SLA per severity (managers).

GET /api/feedback/sla answers every severity's terms (the documents' 30 minutes / 24 hours
where the dealer set none); PUT saves the severities given, all checked before any is written.
Errors come back as 422 keyed "<severity>-<field>".
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from ninja import Router, Schema

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer

from ..models import ComplaintSeverity, ComplaintSlaPolicy
from ..services.sla import SEVERITIES, TERM_FIELDS, sla_settings_save, sla_terms_for_dealers

router = Router(tags=["feedback"])


class SlaTermsOut(Schema):
    severity: str
    label: str
    response_minutes: int
    solution_minutes: int
    response_warn_minutes: int
    solution_warn_minutes: int
    oem_after_minutes: int
    business_hours_only: bool
    # False while the documents' figures apply (the dealer never saved this severity).
    customised: bool


class SlaOut(Schema):
    dealer_id: int
    severities: list[SlaTermsOut]


class SlaTermsIn(Schema):
    response_minutes: int
    solution_minutes: int
    response_warn_minutes: int
    solution_warn_minutes: int
    oem_after_minutes: int
    business_hours_only: bool = False


class SlaIn(Schema):
    # Only the severities to change; keys "low", "medium", "high".
    severities: dict[str, SlaTermsIn]


def _dealer_id(request: HttpRequest) -> int:
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    return dealer.pk


def _answer(dealer_id: int) -> dict[str, Any]:
    terms = sla_terms_for_dealers([dealer_id])
    saved = set(
        ComplaintSlaPolicy.objects.filter(dealer_id=dealer_id).values_list("severity", flat=True)
    )
    return {
        "dealer_id": dealer_id,
        "severities": [
            {
                "severity": severity,
                "label": str(ComplaintSeverity(severity).label),
                **{name: getattr(terms[(dealer_id, severity)], name) for name in TERM_FIELDS},
                "customised": severity in saved,
            }
            for severity in SEVERITIES
        ],
    }


@router.get("/sla", response=SlaOut)
@api_permission(Perm.MANAGE_COMPLAINTS)
def complaint_sla_get(request: HttpRequest):  # noqa: ANN201
    return _answer(_dealer_id(request))


@router.put("/sla", response=SlaOut)
@api_permission(Perm.MANAGE_COMPLAINTS)
def complaint_sla_put(request: HttpRequest, payload: SlaIn):  # noqa: ANN201
    dealer_id = _dealer_id(request)
    sla_settings_save(
        actor=request.user,
        dealer_id=dealer_id,
        rows={severity: values.dict() for severity, values in payload.severities.items()},
    )
    return _answer(dealer_id)
