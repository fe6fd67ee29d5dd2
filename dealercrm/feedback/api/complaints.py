"""Feedback API: complaints — the list with the pages' filters, one complaint with its steps,
intake, and the handling steps (contact, solution, analysis, assignment, follow-up). The same
services as the pages; another dealer's complaint answers 404. Handling steps take the
`version` the client last read: a stale one is refused (422) and nothing changes.

The status is not writable: it follows the handling steps, and only the follow-up closes."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm

from ..models import Complaint, ComplaintEvent
from ..selectors import complaints as selectors
from ..services import handling
from ..services.intake import complaint_open

router = Router(tags=["feedback"])


class ComplaintEventOut(Schema):
    kind: str
    at: datetime.datetime
    actor_id: int | None
    actor: str
    channel: str
    note: str
    data: dict

    @staticmethod
    def resolve_actor(obj: ComplaintEvent) -> str:
        return str(obj.actor) if obj.actor else ""


class ComplaintOut(Schema):
    id: int
    dealer_id: int
    customer_id: int
    customer_name: str
    customer_phone: str = Field(description="Masked: 138****1234")
    vehicle_id: int | None
    repair_order_id: int | None
    order_id: int | None
    car_model_id: int | None
    staff_id: int | None
    handler_id: int | None
    channel: str
    category: str
    severity: str
    status: str
    description: str
    oem_reference: str
    created_at: datetime.datetime
    response_due_at: datetime.datetime | None
    solution_due_at: datetime.datetime | None
    first_response_at: datetime.datetime | None
    solved_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    escalation_level: int
    solution: str
    solution_accepted: bool | None
    root_cause: str
    root_cause_detail: str
    corrective_action: str
    preventive_action: str
    follow_up_satisfied: bool | None
    followed_up_at: datetime.datetime | None
    reopen_count: int
    version: int = Field(description="Send it back with a handling step (optimistic lock)")

    @staticmethod
    def resolve_customer_name(obj: Complaint) -> str:
        return obj.customer.name

    @staticmethod
    def resolve_customer_phone(obj: Complaint) -> str:
        return getattr(obj, "masked_phone", "")


class ComplaintDetailOut(ComplaintOut):
    events: list[ComplaintEventOut]

    @staticmethod
    def resolve_events(obj: Complaint) -> list[ComplaintEvent]:
        return selectors.complaint_events(obj)


class ComplaintQuery(Schema):
    status: str = ""
    channel: str = ""
    category: str = ""
    severity: str = ""
    handler: str = Field(default="", description="'mine', 'none' or a user id")
    escalated: bool = False
    overdue: bool = Field(default=False, description="A running clock past its deadline")
    dealer: int | None = Field(default=None, description="Network users: one dealer")
    customer: int | None = None
    q: str = ""
    page: int = 1


class ComplaintIn(Schema):
    dealer_id: int | None = Field(
        default=None, description="The dealer (the brand hotline); dealer staff: their own"
    )
    customer_id: int | None = None
    customer_name: str = Field(default="", description="Without customer_id: a new prospect")
    customer_phone: str = ""
    channel: str = Field(
        default="phone",
        description="phone, walk_in, wechat, email, survey, care_task; network users: "
        "always oem_hotline",
    )
    category: str = "other"
    severity: str = "medium"
    description: str
    vehicle_id: int | None = None
    repair_order_id: int | None = None
    order_id: int | None = None
    staff_id: int | None = None
    handler_id: int | None = None
    oem_reference: str = ""


class ComplaintPatchIn(Schema):
    category: str | None = None
    description: str | None = None
    status: str | None = Field(
        default=None, description="Not settable: the status follows the handling steps"
    )
    version: int | None = None


class ContactIn(Schema):
    channel: str = Field(description="phone, wechat, walk_in or email")
    note: str
    at: datetime.datetime | None = Field(default=None, description="Default: now")
    version: int | None = None


class SolutionIn(Schema):
    solution: str
    accepted: bool | None = Field(default=None, description="null: not answered yet")
    version: int | None = None


class AnalysisIn(Schema):
    root_cause: str
    root_cause_detail: str = ""
    corrective_action: str = ""
    preventive_action: str = ""
    version: int | None = None


class AssignIn(Schema):
    handler_id: int
    version: int | None = None


class FollowUpIn(Schema):
    satisfied: bool
    note: str = ""
    version: int | None = None


def _fresh(request: HttpRequest, complaint_id: int) -> Complaint:
    return selectors.get_complaint_for_user(request.user, complaint_id)


@router.get("/complaints", response=list[ComplaintOut])
@api_permission(Perm.VIEW_COMPLAINTS)
def complaints_list(request: HttpRequest, query: Query[ComplaintQuery]):  # noqa: ANN201
    params = query.dict()
    params["escalated"] = "1" if query.escalated else ""
    params["overdue"] = "1" if query.overdue else ""
    filters = selectors.ComplaintFilters.from_params(params)
    return list(selectors.complaint_page(request.user, filters, page=query.page).object_list)


@router.post("/complaints", response={201: ComplaintDetailOut})
@api_permission(Perm.ADD_COMPLAINT)
def complaint_create(request: HttpRequest, payload: ComplaintIn):  # noqa: ANN201
    user = request.user
    dealer_id = user.dealer_id or payload.dealer_id
    if not dealer_id:
        raise ValidationError({"dealer_id": [_("Choose the dealer the complaint is for.")]})
    values = payload.dict(exclude={"dealer_id"})
    complaint = complaint_open(actor=user, dealer_id=dealer_id, **values)
    return Status(201, _fresh(request, complaint.pk))


@router.get("/complaints/{complaint_id}", response=ComplaintDetailOut)
@api_permission(Perm.VIEW_COMPLAINTS)
def complaint_get(request: HttpRequest, complaint_id: int):  # noqa: ANN201
    return _fresh(request, complaint_id)


@router.patch("/complaints/{complaint_id}", response=ComplaintDetailOut)
@api_permission(Perm.WORK_COMPLAINTS)
def complaint_patch(request: HttpRequest, complaint_id: int, payload: ComplaintPatchIn):  # noqa: ANN201
    handling.complaint_details_update(
        actor=request.user, complaint=_fresh(request, complaint_id), **payload.dict()
    )
    return _fresh(request, complaint_id)


@router.post("/complaints/{complaint_id}/contact", response=ComplaintDetailOut)
@api_permission(Perm.WORK_COMPLAINTS)
def complaint_contact(request: HttpRequest, complaint_id: int, payload: ContactIn):  # noqa: ANN201
    handling.complaint_contact_log(
        actor=request.user, complaint=_fresh(request, complaint_id), **payload.dict()
    )
    return _fresh(request, complaint_id)


@router.post("/complaints/{complaint_id}/solution", response=ComplaintDetailOut)
@api_permission(Perm.WORK_COMPLAINTS)
def complaint_solution(request: HttpRequest, complaint_id: int, payload: SolutionIn):  # noqa: ANN201
    handling.complaint_solution_record(
        actor=request.user, complaint=_fresh(request, complaint_id), **payload.dict()
    )
    return _fresh(request, complaint_id)


@router.post("/complaints/{complaint_id}/analysis", response=ComplaintDetailOut)
@api_permission(Perm.WORK_COMPLAINTS)
def complaint_analysis(request: HttpRequest, complaint_id: int, payload: AnalysisIn):  # noqa: ANN201
    handling.complaint_analysis_record(
        actor=request.user, complaint=_fresh(request, complaint_id), **payload.dict()
    )
    return _fresh(request, complaint_id)


@router.post("/complaints/{complaint_id}/assign", response=ComplaintDetailOut)
@api_permission(Perm.WORK_COMPLAINTS)
def complaint_assign(request: HttpRequest, complaint_id: int, payload: AssignIn):  # noqa: ANN201
    handling.complaint_assign(
        actor=request.user, complaint=_fresh(request, complaint_id), **payload.dict()
    )
    return _fresh(request, complaint_id)


@router.post("/complaints/{complaint_id}/follow-up", response=ComplaintDetailOut)
@api_permission(Perm.WORK_COMPLAINTS)
def complaint_follow_up(request: HttpRequest, complaint_id: int, payload: FollowUpIn):  # noqa: ANN201
    handling.complaint_follow_up(
        actor=request.user, complaint=_fresh(request, complaint_id), **payload.dict()
    )
    return _fresh(request, complaint_id)
