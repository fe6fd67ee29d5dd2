"""The duplicates API: the review queue, one pair with both records (contact details masked), a
decision on a pair, and a scan on demand.

The same selectors and services as the pages: a dealer's caller sees its dealer's own pairs
only, the OEM's the pairs across the brand's dealers (`across=true`) and the dealers' own. A pair
the caller may not see answers 404, as a missing one does. A refused decision answers 422.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer

from ..models import DuplicateCandidate
from ..selectors import duplicates as selectors
from ..services.duplicates import duplicate_decide

router = Router(tags=["dataquality"])


class DuplicateOut(Schema):
    id: int
    dealer_id: int
    other_dealer_id: int
    cross_dealer: bool
    customer_a_id: int
    customer_a_name: str
    customer_b_id: int
    customer_b_name: str
    score: float = Field(description="Confidence that both records are one person, 0–1")
    reasons: dict = Field(
        description='What matched: {"blocks": ["phone"], "name": 0.93, "address": 0.5, '
        '"birthday": true, "household": false}'
    )
    status: str
    found_at: datetime.datetime
    decided_at: datetime.datetime | None
    decided_by_id: int | None

    @staticmethod
    def resolve_customer_a_name(obj: DuplicateCandidate) -> str:
        return obj.customer_a.name

    @staticmethod
    def resolve_customer_b_name(obj: DuplicateCandidate) -> str:
        return obj.customer_b.name


class DuplicateSideOut(Schema):
    customer_id: int
    dealer_id: int
    name: str
    latin_name: str
    phones: list[str] = Field(description="Masked: 138****1234")
    id_number: str = Field(description="Masked")
    birthday: datetime.date | None
    address: str
    vehicles: list[str] = Field(description="Plates (or VINs) of the cars the customer owns")
    counts: dict[str, int] = Field(description="leads, orders, repair_orders, messages, complaints")


class DuplicateDetailOut(DuplicateOut):
    sides: list[DuplicateSideOut]


class DuplicateQuery(Schema):
    status: str = Field("open", description="open, merged, not_duplicate, household, linked, all")
    min_score: float | None = None
    across: bool = Field(False, description="The OEM's pairs across dealers")
    dealer_id: int | None = None
    page: int = 1


class DecideIn(Schema):
    status: str = Field(description="not_duplicate, household, linked (across dealers) or open")


class ScanOut(Schema):
    queued: bool
    dealer_id: int | None
    brand_id: int | None


@router.get("/duplicates", response=list[DuplicateOut])
@api_permission(Perm.REVIEW_DUPLICATES)
def duplicates_list(request: HttpRequest, query: Query[DuplicateQuery]):  # noqa: ANN201
    network = selectors.is_network(request.user)
    filters = selectors.DuplicateFilters.from_params(
        {
            "status": query.status,
            "min_score": "" if query.min_score is None else str(query.min_score),
            "tab": selectors.ACROSS if query.across else selectors.WITHIN,
            "dealer": str(query.dealer_id or ""),
        },
        network=network,
    )
    return list(selectors.duplicate_page(request.user, filters, page=query.page).object_list)


@router.post("/duplicates/scan", response={202: ScanOut})
@api_permission(Perm.REVIEW_DUPLICATES)
def duplicates_scan_api(request: HttpRequest):  # noqa: ANN201
    from ..duplicate_jobs import duplicates_scan_job

    user = request.user
    if selectors.is_network(user):
        if not user.brand_id:
            raise PermissionDenied
        duplicates_scan_job(brand_id=user.brand_id)
        return Status(202, {"queued": True, "dealer_id": None, "brand_id": user.brand_id})
    dealer = acting_dealer(request)
    if dealer is None:
        raise PermissionDenied
    duplicates_scan_job(dealer_id=dealer.pk)
    return Status(202, {"queued": True, "dealer_id": dealer.pk, "brand_id": None})


def _detail(candidate: DuplicateCandidate) -> DuplicateCandidate:
    candidate.sides = [  # type: ignore[attr-defined]
        {
            "customer_id": s.customer.pk,
            "dealer_id": s.customer.dealer_id,
            "name": s.customer.name,
            "latin_name": s.customer.latin_name,
            "phones": s.phones,
            "id_number": s.id_number,
            "birthday": s.customer.birthday,
            "address": s.address,
            "vehicles": [v.plate or v.vin for v in s.vehicles],
            "counts": s.counts,
        }
        for s in selectors.customer_sides(candidate)
    ]
    return candidate


@router.get("/duplicates/{candidate_id}", response=DuplicateDetailOut)
@api_permission(Perm.REVIEW_DUPLICATES)
def duplicate_get(request: HttpRequest, candidate_id: int):  # noqa: ANN201
    return _detail(selectors.get_candidate_for_user(request.user, candidate_id))


@router.post("/duplicates/{candidate_id}/decide", response=DuplicateDetailOut)
@api_permission(Perm.REVIEW_DUPLICATES)
def duplicate_decide_api(request: HttpRequest, candidate_id: int, payload: DecideIn):  # noqa: ANN201
    user = request.user
    candidate = selectors.get_candidate_for_user(user, candidate_id)
    if not candidate.cross_dealer and user.dealer_id != candidate.dealer_id:
        # The OEM sees a dealer's own pairs read-only.
        raise PermissionDenied
    duplicate_decide(actor=user, candidate=candidate, status=payload.status)
    return _detail(selectors.get_candidate_for_user(user, candidate_id))
