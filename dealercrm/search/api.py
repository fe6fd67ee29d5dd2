"""Search for integrations and scripts: the same router, scope and visibility as the search box."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import BaseModel

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm

from .router import MAX_QUERY
from .selectors import RESULTS_LIMIT, search_customers

router = Router(tags=["search"])


class SearchParams(Schema):
    q: str = Field(..., max_length=200, description="What was typed: name, pinyin, phone …")
    limit: int = Field(10, ge=1, le=RESULTS_LIMIT)


# A plain pydantic model, not a ninja Schema: the hits are built here, so nothing needs a
# Schema's attribute resolution, which ninja would otherwise run again on every hit of the
# response (0.5–0.8 ms of a 4 ms search, on every keystroke).
class SearchHitOut(BaseModel):
    """A customer found, with what matched."""

    customer_id: int
    name: str
    kind: str
    lifecycle_stage: str
    lifecycle_label: str
    masked_phone: str
    dealer_id: int
    dealer_name: str = Field(description="Filled for network (OEM) users only")
    matched: str = Field(description="The plate or VIN that matched, when a vehicle matched")


@router.get("/", response=list[SearchHitOut], summary="Find customers")
@api_permission(Perm.VIEW_CUSTOMER)
def search(request: HttpRequest, params: Query[SearchParams]) -> list[SearchHitOut]:
    """Customers the caller may see matching `q`, best first: exact, then prefix, then substring."""
    hits = search_customers(request.user, params.q.strip()[:MAX_QUERY], limit=params.limit)
    return [
        SearchHitOut(
            customer_id=h.customer_id,
            name=h.name,
            kind=h.kind,
            lifecycle_stage=h.lifecycle_stage,
            lifecycle_label=h.lifecycle_label,
            masked_phone=h.masked_phone,
            dealer_id=h.dealer_id,
            dealer_name=h.dealer_name,
            matched=h.matched_label,
        )
        for h in hits
    ]
