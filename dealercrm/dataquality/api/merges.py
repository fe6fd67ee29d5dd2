"""The merge API: merge two customers of one dealer, the merge history, one merge, undo.

The same services as the pages. Customer and merge ids are looked up in the caller's dealers:
another dealer's id answers 404, as a missing one does. A refused merge or undo (a stale
version, customers of two dealers, too old to undo …) answers 422 with the reason.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.customers.selectors import get_customer_for_user

from ..models import MergeRecord
from ..selectors import merges as selectors
from ..services import merges as services

router = Router(tags=["dataquality"])


class MergeOut(Schema):
    id: int
    dealer_id: int
    survivor_id: int
    survivor_name: str
    merged_id: int
    merged_name: str
    candidate_id: int | None
    automatic: bool
    score: float | None
    choices: dict[str, str] = Field(description="Per field: 'survivor' or 'merged'")
    merged_at: datetime.datetime
    merged_by_id: int | None
    undone_at: datetime.datetime | None
    undone_by_id: int | None
    undo_refused: str = Field(description="Why it cannot be undone now; empty when it can")
    moved: dict[str, int] = Field(
        description="Rows moved to the survivor per 'app_label.Model.field'"
    )
    not_copied: dict[str, int] = Field(
        description="Rows the survivor already had the like of, per 'app_label.Model'"
    )

    @staticmethod
    def resolve_survivor_name(obj: MergeRecord) -> str:
        return obj.survivor.name

    @staticmethod
    def resolve_merged_name(obj: MergeRecord) -> str:
        return obj.merged.name

    @staticmethod
    def resolve_undo_refused(obj: MergeRecord) -> str:
        return services.merge_undo_refusal(obj)

    @staticmethod
    def resolve_moved(obj: MergeRecord) -> dict[str, int]:
        return services.merge_moved_counts(obj)

    @staticmethod
    def resolve_not_copied(obj: MergeRecord) -> dict[str, int]:
        return services.merge_not_copied_counts(obj)


class MergeIn(Schema):
    survivor_id: int = Field(description="The customer that stays")
    merged_id: int = Field(description="The customer merged into it (soft-deleted, undoable)")
    survivor_version: int | None = Field(
        default=None, description="The version you read: a later change refuses the merge"
    )
    merged_version: int | None = None
    rule: str = Field(default="most_recent", description="most_recent or most_complete")
    choices: dict[str, str] = Field(
        default_factory=dict,
        description="Per field ('name', 'address', 'id_number' …): 'survivor' or 'merged'",
    )


class MergeQuery(Schema):
    page: int = 1


class UndoIn(Schema):
    confirm: bool = Field(description="Must be true: undo puts the merged customer back")


@router.get("/merges", response=list[MergeOut])
@api_permission(Perm.MERGE_CUSTOMERS)
def merges_list(request: HttpRequest, query: Query[MergeQuery]):  # noqa: ANN201
    return list(selectors.merge_page(request.user, page=query.page).object_list)


@router.post("/merges", response={201: MergeOut})
@api_permission(Perm.MERGE_CUSTOMERS)
def merge_create(request: HttpRequest, payload: MergeIn):  # noqa: ANN201
    survivor = get_customer_for_user(request.user, payload.survivor_id)
    merged = get_customer_for_user(request.user, payload.merged_id)
    if payload.survivor_version is not None:
        survivor.version = payload.survivor_version
    if payload.merged_version is not None:
        merged.version = payload.merged_version
    record = services.customer_merge(
        actor=request.user,
        survivor=survivor,
        merged=merged,
        choices=payload.choices,
        rule=payload.rule,
    )
    return Status(201, selectors.get_merge_for_user(request.user, record.pk))


@router.get("/merges/{merge_id}", response=MergeOut)
@api_permission(Perm.MERGE_CUSTOMERS)
def merge_get(request: HttpRequest, merge_id: int):  # noqa: ANN201
    return selectors.get_merge_for_user(request.user, merge_id)


@router.post("/merges/{merge_id}/undo", response=MergeOut)
@api_permission(Perm.MERGE_CUSTOMERS)
def merge_undo(request: HttpRequest, merge_id: int, payload: UndoIn):  # noqa: ANN201
    merge = selectors.get_merge_for_user(request.user, merge_id)
    if not payload.confirm:
        raise ValidationError({"confirm": [_("Send confirm: true to undo the merge.")]})
    services.merge_undo(actor=request.user, merge=merge)
    return selectors.get_merge_for_user(request.user, merge_id)
