"""Care pages: my care tasks (managers: anyone's), one task with its script and outcome form,
and the month calendar of due tasks.

One template per page with named partials; an HTMX request gets the partial.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.permissions import Perm
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.models import CustomerPhone

from ..forms import OutcomeForm
from ..models import CareOccurrence, CareOutcome, CareRuleCode, OccurrenceStatus
from ..selectors import tasks as selectors
from ..services.outcomes import care_task_record_outcome
from ..services.tasks import max_attempts, rule_config

LIST = "care/worklist.html"
TASK = "care/task.html"
CALENDAR = "care/calendar.html"


@staff_view(Perm.WORK_CARE)
def worklist(request: HttpRequest) -> HttpResponse:
    """My care tasks, due first; managers choose whose (or nobody's, or everyone's)."""
    user = request.user
    filters = selectors.CareTaskFilters.from_params(request.GET)
    page = selectors.care_task_page(user, filters, page=request.GET.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "rows": page.object_list,
        "filters": filters,
        "query": query.urlencode(),
        "now": timezone.now(),
        "rules": CareRuleCode.choices,
        "managing": selectors.can_manage(user),
        "unassigned": selectors.UNASSIGNED,
        "due_choices": [
            ("overdue", _("Overdue")),
            ("today", _("Today")),
            ("week", _("This week")),
            ("later", _("Later")),
        ],
        "status_choices": [("open", _("Open")), ("done", _("Closed")), ("all", _("Any"))],
    }
    if request.htmx and request.headers.get("HX-Target") == "care-results":
        return render(request, f"{LIST}#results", context)
    if context["managing"]:
        context["assignees"] = selectors.care_assignee_choices(user)
    return render(request, LIST, context)


def _free_slots(dealer_id: int, day: datetime.date) -> list[datetime.datetime] | None:
    """The workshop's free slots of the day (None when the service app cannot say)."""
    try:
        from dealercrm.service.selectors.appointments import free_slots
    except ImportError:
        return None
    slots = []
    for slot in free_slots(dealer_id, day) or []:
        start = getattr(slot, "starts_at", slot)
        if isinstance(start, tuple):
            if len(start) > 2 and not start[2]:
                continue  # no bay free then
            start = start[0]
        if isinstance(start, datetime.datetime) and start > timezone.now():
            slots.append(start)
    return slots


def _slot_day(request: HttpRequest) -> datetime.date:
    value = request.POST.get("day") or request.GET.get("day") or ""
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return timezone.localdate() + datetime.timedelta(days=1)


def _phones(occurrence: CareOccurrence) -> list[dict]:
    return [
        {
            "masked": mask_phone(phone.number),
            "primary": phone.is_primary,
            "wrong": phone.wrong_number_reported_at is not None,
            "label": phone.get_label_display(),
        }
        for phone in CustomerPhone.objects.filter(
            dealer_id=occurrence.dealer_id, customer_id=occurrence.customer_id
        ).order_by("-is_primary", "id")
    ]


def _attempt_log(detail: dict) -> list[dict]:
    entries = []
    for entry in detail.get("attempt_log", []):
        try:
            at = datetime.datetime.fromisoformat(entry.get("at", ""))
        except (TypeError, ValueError):
            at = None
        entries.append({**entry, "at": at})
    return entries


def _task_context(request: HttpRequest, occurrence: CareOccurrence, form: OutcomeForm) -> dict:
    config = rule_config(occurrence.dealer_id, occurrence.rule)
    detail = occurrence.detail or {}
    return {
        "occurrence": occurrence,
        "task": occurrence.task,
        "form": form,
        "slot_day": _slot_day(request),
        "has_slots": bool(form.slots),
        "max_attempts": max_attempts(config),
        "attempt_log": _attempt_log(detail),
        "appointment_id": detail.get("appointment_id"),
        "complaint_id": detail.get("complaint_id"),
        "is_open": occurrence.status == OccurrenceStatus.OPEN,
        "now": timezone.now(),
        "outcomes": CareOutcome,
    }


def _outcome_form(request: HttpRequest, occurrence: CareOccurrence, data=None) -> OutcomeForm:  # noqa: ANN001
    day = _slot_day(request)
    slots = _free_slots(occurrence.dealer_id, day)
    initial = {"seen_attempts": occurrence.attempts, "day": day}
    if request.GET.get("outcome") in CareOutcome.values:
        initial["outcome"] = request.GET["outcome"]
    if occurrence.rule in (CareRuleCode.ANNUAL_INSPECTION, CareRuleCode.SEASONAL_CHECK):
        initial["kind"] = "inspection"
    return OutcomeForm(data, slots=slots or [], initial=initial)


@staff_view(Perm.WORK_CARE)
def task(request: HttpRequest, occurrence_id: int) -> HttpResponse:
    """GET: the script, the customer's key facts and the outcome form (an HTMX GET with a day
    answers the form with that day's free slots). POST: record the outcome."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    occurrence = selectors.get_care_task_for_user(request.user, occurrence_id)
    if request.method == "GET":
        form = _outcome_form(request, occurrence)
        context = _task_context(request, occurrence, form)
        if request.htmx:
            return render(request, f"{TASK}#outcome_panel", context)
        context["phones"] = _phones(occurrence)
        return render(request, TASK, context)
    form = _outcome_form(request, occurrence, request.POST)
    if form.is_valid():
        try:
            occurrence = care_task_record_outcome(
                actor=request.user,
                occurrence=occurrence,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data.get("note") or "",
                appointment=form.appointment(),
                complaint=form.complaint(),
                seen_attempts=form.cleaned_data.get("seen_attempts"),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            occurrence = selectors.get_care_task_for_user(request.user, occurrence.pk)
            if not request.htmx:
                messages.success(
                    request,
                    _("Outcome recorded: %(outcome)s")
                    % {"outcome": occurrence.get_outcome_display()},
                )
                return redirect("care:task", occurrence_id=occurrence.pk)
            fresh = _outcome_form(request, occurrence)
            context = _task_context(request, occurrence, fresh)
            context["saved"] = True
            return render(request, f"{TASK}#outcome_panel", context)
    context = _task_context(request, occurrence, form)
    if request.htmx:
        return render(request, f"{TASK}#outcome_panel", context)
    context["phones"] = _phones(occurrence)
    return render(request, TASK, context, status=400)


@staff_view(Perm.WORK_CARE)
def calendar_view(request: HttpRequest) -> HttpResponse:
    """A month of open care tasks by due day and rule; a day links to the worklist."""
    try:
        month = datetime.date.fromisoformat((request.GET.get("month") or "") + "-01")
    except ValueError:
        month = timezone.localdate().replace(day=1)
    team = request.GET.get("team") == "1" and selectors.can_manage(request.user)
    cal = selectors.care_calendar(request.user, month=month, team=team)
    context = {
        "cal": cal,
        "team": team,
        "managing": selectors.can_manage(request.user),
        "today": timezone.localdate(),
    }
    if request.htmx:
        return render(request, f"{CALENDAR}#grid", context)
    return render(request, CALENDAR, context)


urlpatterns = [
    path("tasks/", worklist, name="worklist"),
    path("tasks/calendar/", calendar_view, name="calendar"),
    path("tasks/<int:occurrence_id>/", task, name="task"),
]
