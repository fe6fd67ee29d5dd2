"""Worklist pages: my tasks, the dealer's tasks for managers, closing and handing out a task.

One template holds the list page and its partials (the results, one task row, the completion
form); an HTMX request gets the partial, a plain request the page or a redirect back.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_htmx.http import reswap, retarget

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.permissions import Perm

from . import selectors, services
from .forms import TaskAssignForm, TaskCompleteForm
from .models import Task, TaskStatus

LIST = "worklist/tasks.html"
DETAIL = "worklist/task.html"


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("worklist:mine")


def _list(request: HttpRequest, *, managing: bool) -> HttpResponse:
    user = request.user
    filters = selectors.TaskFilters.from_params(request.GET)
    number = request.GET.get("page") or 1
    if managing:
        page = selectors.dealer_tasks(user, filters, page=number)
    else:
        page = selectors.my_tasks(user, filters, page=number)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "tasks": page.object_list,
        "filters": filters,
        "query": query.urlencode(),
        "managing": managing,
        "now": timezone.now(),
        "statuses": TaskStatus.choices,
        "unassigned": selectors.UNASSIGNED,
        "next": request.get_full_path(),
    }
    if managing:
        context["assignees"] = selectors.assignee_choices(user)
    if request.htmx:
        return render(request, f"{LIST}#results", context)
    context["counts"] = selectors.task_counts(user, mine=not managing)
    return render(request, LIST, context)


@staff_view(Perm.WORK_TASKS)
def mine(request: HttpRequest) -> HttpResponse:
    """My tasks: open ones due first, overdue highlighted, each with what to say or do."""
    return _list(request, managing=False)


@staff_view(Perm.MANAGE_TASKS)
def all_tasks(request: HttpRequest) -> HttpResponse:
    """Every task of the dealer, by assignee and status, for handing out and checking."""
    return _list(request, managing=True)


def _row_context(request: HttpRequest, task: Task, **extra) -> dict:  # noqa: ANN003
    """What one task row needs; rows of the managers' page carry managing=1 in their forms."""
    managing = bool(
        request.user.has_perm(Perm.MANAGE_TASKS)
        and (request.POST.get("managing") or request.GET.get("managing"))
    )
    context = {
        "task": task,
        "now": timezone.now(),
        "managing": managing,
        "next": request.POST.get("next") or request.GET.get("next") or "",
    }
    if managing and task.status == TaskStatus.OPEN:
        context["assignees"] = selectors.assignee_choices(request.user)
    context.update(extra)
    return context


@staff_view(Perm.WORK_TASKS)
def detail(request: HttpRequest, task_id: int) -> HttpResponse:
    """The task on its own page; an HTMX request gets its row (the completion form's Cancel)."""
    task = selectors.get_task_for_user(request.user, task_id)
    if request.htmx:
        return render(request, f"{LIST}#task_row", _row_context(request, task))
    form = TaskCompleteForm(kind=task.kind)
    return render(request, DETAIL, _row_context(request, task, form=form))


@staff_view(Perm.WORK_TASKS)
def complete(request: HttpRequest, task_id: int) -> HttpResponse:
    """GET: the completion form in the task's row. POST result, note: close the task."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    task = selectors.get_task_for_user(request.user, task_id)
    form = TaskCompleteForm(request.POST if request.method == "POST" else None, kind=task.kind)
    if request.method == "POST" and form.is_valid():
        try:
            services.task_complete(actor=request.user, task=task, outcome=form.outcome())
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if not request.htmx:
                messages.success(request, _("Task done: %(title)s") % {"title": task.title})
                return _back(request)
            # The form asked to swap itself; the answer is the whole row, closed.
            response = render(request, f"{LIST}#task_row", _row_context(request, task))
            return reswap(retarget(response, f"#task-{task.pk}"), "outerHTML")
    if request.method == "POST" and not request.htmx:
        return render(request, DETAIL, _row_context(request, task, form=form), status=400)
    # HTMX swaps only successful answers: the form comes back, errors and all, with 200.
    return render(request, f"{LIST}#complete_form", _row_context(request, task, form=form))


@staff_view(Perm.MANAGE_TASKS)
def assign(request: HttpRequest, task_id: int) -> HttpResponse:
    """POST assignee: hand the task to a colleague (or back to nobody); answers the task row."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    task = selectors.get_task_for_user(request.user, task_id)
    form = TaskAssignForm(request.POST, assignees=selectors.assignee_choices(request.user))
    error = ""
    if form.is_valid():
        try:
            services.task_assign(
                actor=request.user, task=task, assignee=form.cleaned_data["assignee"]
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(m for ms in form.errors.values() for m in ms)
    if not request.htmx:
        if error:
            messages.error(request, error)
        return _back(request)
    return render(request, f"{LIST}#task_row", _row_context(request, task, assign_error=error))


@staff_view()
def notices_read(request: HttpRequest) -> HttpResponse:
    """POST: mark the user's notices read — those named by `notice` (repeatable), else all.

    Only the user's own notices change (the service filters by recipient), so no id here can
    touch anybody else's. Answers the emptied panel to HTMX, a redirect back otherwise.
    """
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    ids: list[int] | None = None
    if request.POST.getlist("notice"):
        ids = [int(v) for v in request.POST.getlist("notice") if v.isdigit()]
    services.notices_mark_read(actor=request.user, notice_ids=ids)
    if request.htmx:
        rows, count = selectors.unread_notices(request.user)
        return render(
            request,
            "worklist/_notices_panel.html",
            {"panel": {"notices": rows, "count": count}},
        )
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("core:workspace")
