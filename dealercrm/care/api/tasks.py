"""Care API: my care tasks (managers: anyone's) with the worklist's filters, and recording a
call's outcome. Scoped like the pages: another dealer's or a colleague's task answers 404."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from pydantic import Field

from dealercrm.core.access import api_permission
from dealercrm.core.permissions import Perm
from dealercrm.customers.contact_masking import mask_phone

from ..models import CareOccurrence
from ..selectors import tasks as selectors
from ..services.outcomes import AppointmentRequest, ComplaintRequest, care_task_record_outcome

router = Router(tags=["care"])


class CareTaskOut(Schema):
    id: int = Field(description="The occurrence's id (the path's occurrence_id)")
    task_id: int | None
    rule: str
    rule_label: str
    customer_id: int
    customer_name: str
    customer_phone: str = Field(description="Masked: 138****1234")
    vehicle_id: int | None
    vehicle: str
    due_on: datetime.date
    due_at: datetime.datetime | None
    status: str
    task_status: str
    assignee_id: int | None
    attempts: int
    channel: str
    script: str
    outcome: str
    outcome_note: str

    @staticmethod
    def resolve_task_id(obj: CareOccurrence) -> int | None:
        return obj.task_id

    @staticmethod
    def resolve_rule_label(obj: CareOccurrence) -> str:
        return str(obj.get_rule_display())

    @staticmethod
    def resolve_customer_name(obj: CareOccurrence) -> str:
        return obj.customer.name

    @staticmethod
    def resolve_customer_phone(obj: CareOccurrence) -> str:
        phone = getattr(obj.customer, "care_phone", None)
        return mask_phone(phone.number) if phone else ""

    @staticmethod
    def resolve_vehicle(obj: CareOccurrence) -> str:
        return str(obj.vehicle) if obj.vehicle else ""

    @staticmethod
    def resolve_due_at(obj: CareOccurrence) -> datetime.datetime | None:
        return obj.task.due_at if obj.task else None

    @staticmethod
    def resolve_task_status(obj: CareOccurrence) -> str:
        return obj.task.status if obj.task else ""

    @staticmethod
    def resolve_assignee_id(obj: CareOccurrence) -> int | None:
        return obj.task.assignee_id if obj.task else None

    @staticmethod
    def resolve_script(obj: CareOccurrence) -> str:
        return obj.task.body if obj.task else ""


class CareTaskQuery(Schema):
    rule: str = ""
    due: str = Field(default="", description="overdue, today, week or later")
    day: datetime.date | None = Field(default=None, description="Due on this day")
    status: str = Field(default="open", description="open, done or all")
    q: str = Field(default="", description="Customer name, phone tail or plate")
    assignee: str = Field(
        default="",
        description="Managers: a user id, 'none' (unassigned) or 'all'; default: mine",
    )
    page: int = 1


class OutcomeIn(Schema):
    outcome: str = Field(
        description="reached, no_answer, wrong_number, appointment_booked, not_interested, "
        "complaint"
    )
    note: str = ""
    starts_at: datetime.datetime | None = Field(
        default=None, description="appointment_booked: the slot (dealer's local time if naive)"
    )
    kind: str = Field(default="", description="appointment_booked: the service type")
    complaint_category: str = "other"
    complaint_severity: str = "medium"
    seen_attempts: int | None = Field(
        default=None,
        description="The attempt count you saw: a repeated no_answer with an old count is a "
        "double submit and changes nothing",
    )


@router.get("/tasks", response=list[CareTaskOut])
@api_permission(Perm.WORK_CARE)
def care_tasks_list(request: HttpRequest, query: Query[CareTaskQuery]):  # noqa: ANN201
    params = query.dict()
    params["day"] = params["day"].isoformat() if params.get("day") else ""
    filters = selectors.CareTaskFilters.from_params(params)
    page = selectors.care_task_page(request.user, filters, page=query.page)
    return list(page.object_list)


@router.post("/tasks/{occurrence_id}/outcome", response=CareTaskOut)
@api_permission(Perm.WORK_CARE)
def care_task_outcome(request: HttpRequest, occurrence_id: int, payload: OutcomeIn):  # noqa: ANN201
    occurrence = selectors.get_care_task_for_user(request.user, occurrence_id)
    starts_at = payload.starts_at
    if starts_at is not None and starts_at.tzinfo is None:
        from django.utils import timezone

        starts_at = timezone.make_aware(starts_at)
    appointment = None
    if payload.outcome == "appointment_booked":
        if starts_at is None:
            raise ValidationError({"starts_at": [_("Choose the appointment's time slot.")]})
        appointment = AppointmentRequest(starts_at=starts_at, kind=payload.kind)
    complaint = None
    if payload.outcome == "complaint":
        complaint = ComplaintRequest(
            description=payload.note,
            category=payload.complaint_category,
            severity=payload.complaint_severity,
        )
    care_task_record_outcome(
        actor=request.user,
        occurrence=occurrence,
        outcome=payload.outcome,
        note=payload.note,
        appointment=appointment,
        complaint=complaint,
        seen_attempts=payload.seen_attempts,
    )
    fresh = selectors.get_care_task_for_user(request.user, occurrence_id)
    selectors._attach_primary_phones([fresh])
    return fresh
