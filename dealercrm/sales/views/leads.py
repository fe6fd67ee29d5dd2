"""Pages: leads — the list, intake (with duplicates shown as the user types), the lead page,
its actions (assign, follow-up, stage, loss request and decision), follow-ups due, losses to
approve, and the dealer's sales policy.

Every write goes through the services; reads through selectors. An HTMX request gets the named
partial, a normal request the page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer, visible_dealers
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.models import Customer
from dealercrm.customers.selectors import get_customer_for_user

from ..forms.leads import (
    ActivityForm,
    AssignForm,
    LeadCreateForm,
    LeadEditForm,
    LossDecisionForm,
    LossRequestForm,
    PolicyForm,
)
from ..models import LeadChannel, LeadStage, ScenarioTag
from ..models.leads import STAGE_ORDER
from ..selectors import leads as selectors
from ..selectors import test_drives as test_drive_selectors
from ..selectors.policy import sales_policy_for
from ..services.activities import activity_log
from ..services.assignment import lead_assign
from ..services.leads import lead_create, lead_matches, lead_stage_advance, lead_update
from ..services.loss import lead_loss_approve, lead_loss_request, lead_loss_return
from ..services.policy import POLICY_FIELDS, sales_policy_update

# Other topics' sections of the lead page, included when their template exists.
LEAD_SECTIONS = (
    "sales/test_drives/_lead_section.html",
    "sales/quotes/_lead_section.html",
    "sales/orders/_lead_section.html",
)
# The stages a consultant moves by hand; the others follow from test drives, quotes, orders.
MANUAL_STAGES = (LeadStage.CONTACTED, LeadStage.NEGOTIATION)


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _phone_of(customer: Customer, user: User) -> str:
    phones = [p.number for p in customer.phones.all()]
    primary = next((p.number for p in customer.phones.all() if p.is_primary), None)
    number = primary or (phones[0] if phones else "")
    if not number:
        return ""
    # Masked for everyone, as on the customer pages: the full number is one audit-logged
    # "reveal" away on the customer's 360 page.
    return mask_phone(number)


# --- the list -----------------------------------------------------------------------------------


@staff_view(Perm.VIEW_LEADS)
def lead_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.LeadFilters.from_params(request.GET)
    page = selectors.lead_list(request.user, filters, page=request.GET.get("page", 1))
    today = timezone.localdate()
    now = timezone.now()
    for lead in page.object_list:
        lead.is_overdue = lead.is_open and (
            (lead.next_action_due is not None and lead.next_action_due < today)
            or (
                lead.stage == LeadStage.NEW
                and lead.first_contacted_at is None
                and lead.first_response_due_at is not None
                and lead.first_response_due_at < now
            )
        )
    context = {
        "page": page,
        "filters": filters,
        "stages": LeadStage.choices,
        "channels": LeadChannel.choices,
        "consultants": selectors.sales_staff(request.user.dealer_id)
        if request.user.has_perm(Perm.VIEW_ALL_LEADS)
        else [],
        "query": _query_without_page(request),
        "show_dealer": request.user.dealer_id is None,
        # Network users (OEM) filter the brand's leads by dealer.
        "dealers": list(visible_dealers(request.user).order_by("name"))
        if request.user.dealer_id is None
        else [],
        "can_create": request.user.has_perm(Perm.WORK_LEADS),
    }
    name = "sales/leads/list.html"
    return render(request, f"{name}#results" if request.htmx else name, context)


# --- intake -------------------------------------------------------------------------------------


@staff_view(Perm.WORK_LEADS)
def lead_matches_view(request: HttpRequest) -> HttpResponse:
    """The duplicates panel of the create page, refreshed as the user types (HTMX)."""
    dealer = acting_dealer(request)
    name = (request.GET.get("name") or "").strip()
    phone = (request.GET.get("phone") or "").strip()
    wechat_id = (request.GET.get("wechat_id") or "").strip()
    matches = None
    if dealer is not None and (phone or wechat_id or name):
        matches = lead_matches(dealer_id=dealer.pk, name=name, phone=phone, wechat_id=wechat_id)
        visible = set()
        if matches:
            ids = [m.customer.pk for m in matches.customers]
            visible = set(
                Customer.objects.visible_to(request.user)
                .filter(pk__in=ids)
                .values_list("pk", flat=True)
            )
        for match in matches.customers if matches else []:
            # Another consultant's customer: say it exists (no duplicate), without opening it.
            match.can_open = match.customer.pk in visible
    return render(request, "sales/leads/_matches.html", {"matches": matches})


@staff_view(Perm.WORK_LEADS)
def referrer_options(request: HttpRequest) -> HttpResponse:
    """The referring-customer picker of the create page: customers the user sees matching `q`
    (name, pinyin, phone or its tail), as choices of `referrer_id` (HTMX)."""
    from dealercrm.search.selectors import search_customers

    query = (request.GET.get("referrer_q") or "").strip()[:50]
    hits = search_customers(request.user, query, limit=8) if query else []
    return render(request, "sales/leads/_referrers.html", {"hits": hits, "query": query})


@staff_view(Perm.WORK_LEADS)
def lead_create_view(request: HttpRequest) -> HttpResponse:
    dealer = acting_dealer(request)
    consultants = (
        selectors.sales_staff(dealer.pk)
        if dealer is not None and request.user.has_perm(Perm.MANAGE_LEADS)
        else []
    )
    attach: Customer | None = None
    customer_id = request.POST.get("customer_id") or request.GET.get("customer")
    if customer_id:
        try:
            attach = get_customer_for_user(request.user, int(customer_id))
        except (TypeError, ValueError) as exc:
            raise Http404 from exc
    initial: dict[str, Any] = {"channel": LeadChannel.WALK_IN}
    if attach is not None:
        initial["customer_id"] = attach.pk
    form = LeadCreateForm(request.POST or None, initial=initial, consultants=consultants)
    if request.method == "POST" and form.is_valid():
        if dealer is None:
            form.add_error(None, _("Choose a dealer."))
        else:
            data = form.cleaned_data
            try:
                lead = lead_create(
                    actor=request.user,
                    dealer_id=attach.dealer_id if attach is not None else dealer.pk,
                    channel=data["channel"],
                    customer=attach,
                    name=data["name"],
                    phone=data["phone"],
                    wechat_id=data["wechat_id"],
                    gender=data.get("gender") or "",
                    consultant_id=data.get("consultant_id")
                    or (request.user.pk if not consultants and request.user.dealer_id else None),
                    referrer_id=data.get("referrer_id"),
                    campaign=data.get("campaign") or "",
                    **form.interest(),
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Lead created."))
                return redirect("sales:lead", lead_id=lead.pk)
    return render(
        request,
        "sales/leads/create.html",
        {
            "form": form,
            "attach": attach,
            "attach_phone": _phone_of(attach, request.user) if attach is not None else "",
            "dealer": dealer,
            "dealers": [] if request.user.dealer_id else list(visible_dealers(request.user)[:200]),
        },
    )


# --- the lead page ------------------------------------------------------------------------------


def _lead_sections() -> list[str]:
    found = []
    for name in LEAD_SECTIONS:
        try:
            get_template(name)
        except TemplateDoesNotExist:
            continue
        found.append(name)
    return found


def _stage_bar(lead) -> list[dict[str, Any]]:  # noqa: ANN001
    order = [s.value for s in STAGE_ORDER]
    current = order.index(lead.stage) if lead.stage in order else -1
    stamps = {
        LeadStage.NEW: lead.created_at,
        LeadStage.CONTACTED: lead.first_contacted_at,
        LeadStage.TEST_DRIVE: lead.test_drive_at,
        LeadStage.NEGOTIATION: lead.negotiation_at,
        LeadStage.ORDER: lead.ordered_at,
        LeadStage.DELIVERED: lead.delivered_at,
    }
    return [
        {
            "value": stage.value,
            "label": stage.label,
            "reached": index <= current,
            "current": index == current,
            "at": stamps.get(stage),
        }
        for index, stage in enumerate(STAGE_ORDER)
    ]


def _lead_page(request: HttpRequest, lead, **forms: Any) -> HttpResponse:  # noqa: ANN001
    user = request.user
    can_work = user.has_perm(Perm.WORK_LEADS) and lead.is_open
    can_manage = user.has_perm(Perm.MANAGE_LEADS)
    consultants = selectors.sales_staff(lead.dealer_id) if can_manage else []
    phones = list(lead.customer.phones.all())
    order = [s.value for s in STAGE_ORDER]
    current = order.index(lead.stage) if lead.stage in order else len(order)
    context = {
        "lead": lead,
        "customer": lead.customer,
        "phones": [mask_phone(p.number) for p in phones],
        "stage_bar": _stage_bar(lead),
        "activities": selectors.lead_activities(lead),
        "events": selectors.lead_events(lead),
        "sections": _lead_sections(),
        # The test-drive section's rows, loaded in one query with their cars.
        "lead_test_drives": test_drive_selectors.lead_test_drives(lead),
        "can_work": can_work,
        "can_manage": can_manage,
        "manual_stages": [s for s in MANUAL_STAGES if order.index(s) > current] if can_work else [],
        "activity_form": forms.get("activity_form") or ActivityForm(),
        "loss_form": forms.get("loss_form") or LossRequestForm(),
        "assign_form": forms.get("assign_form")
        or AssignForm(consultants=consultants, initial={"consultant": lead.consultant_id}),
        "decision_form": forms.get("decision_form") or LossDecisionForm(consultants=consultants),
        "scenario_labels": [
            ScenarioTag(tag).label for tag in lead.scenario_tags if tag in ScenarioTag.values
        ],
        "today": timezone.localdate(),
        "now": timezone.now(),
    }
    return render(request, "sales/leads/detail.html", context, status=forms.get("status", 200))


@staff_view(Perm.VIEW_LEADS)
def lead_detail(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    return _lead_page(request, lead)


@staff_view(Perm.WORK_LEADS)
def lead_edit(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    initial = {
        name: getattr(lead, name) for name in LeadEditForm.base_fields if hasattr(lead, name)
    }
    form = LeadEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            lead_update(
                actor=request.user,
                lead=lead,
                campaign=form.cleaned_data.get("campaign") or "",
                **form.interest(),
            )
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Lead saved."))
            return redirect("sales:lead", lead_id=lead.pk)
    return render(request, "sales/leads/edit.html", {"form": form, "lead": lead})


def _back_to_lead(lead_id: int) -> HttpResponse:
    return redirect(reverse("sales:lead", kwargs={"lead_id": lead_id}))


def _refused(request: HttpRequest, lead, exc: ValidationError, **forms: Any) -> HttpResponse:  # noqa: ANN001
    if forms:
        for form in forms.values():
            apply_service_errors(form, exc)
        return _lead_page(request, lead, status=422, **forms)
    for message in exc.messages:
        messages.error(request, message)
    return _back_to_lead(lead.pk)


@staff_view(Perm.MANAGE_LEADS)
@require_POST
def lead_assign_view(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    form = AssignForm(request.POST, consultants=selectors.sales_staff(lead.dealer_id))
    if not form.is_valid():
        return _lead_page(request, lead, assign_form=form, status=422)
    consultant = User.objects.get(pk=form.cleaned_data["consultant"])
    try:
        lead_assign(
            actor=request.user, lead=lead, consultant=consultant, note=form.cleaned_data["note"]
        )
    except ValidationError as exc:
        return _refused(request, lead, exc, assign_form=form)
    messages.success(request, _("Lead assigned to %(name)s.") % {"name": consultant})
    return _back_to_lead(lead.pk)


@staff_view(Perm.WORK_LEADS)
@require_POST
def lead_activity_view(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    form = ActivityForm(request.POST)
    if not form.is_valid():
        return _lead_page(request, lead, activity_form=form, status=422)
    data = form.cleaned_data
    try:
        activity_log(
            actor=request.user,
            lead=lead,
            kind=data["kind"],
            result=data["result"],
            note=data["note"],
            next_action=data["next_action"],
            next_action_due=data["next_action_due"],
        )
    except ValidationError as exc:
        return _refused(request, lead, exc, activity_form=form)
    messages.success(request, _("Follow-up logged."))
    return _back_to_lead(lead.pk)


@staff_view(Perm.WORK_LEADS)
@require_POST
def lead_stage_view(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    stage = request.POST.get("stage", "")
    if stage not in MANUAL_STAGES:
        messages.error(
            request, _("This stage follows from test drives, quotes, orders or delivery.")
        )
        return _back_to_lead(lead.pk)
    try:
        lead_stage_advance(actor=request.user, lead=lead, stage=stage)
    except ValidationError as exc:
        return _refused(request, lead, exc)
    messages.success(request, _("Stage changed."))
    return _back_to_lead(lead.pk)


@staff_view(Perm.WORK_LEADS)
@require_POST
def lead_loss_request_view(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    form = LossRequestForm(request.POST)
    if not form.is_valid():
        return _lead_page(request, lead, loss_form=form, status=422)
    try:
        lead_loss_request(actor=request.user, lead=lead, **form.cleaned_data)
    except ValidationError as exc:
        return _refused(request, lead, exc, loss_form=form)
    messages.success(request, _("Loss request sent to the manager."))
    return _back_to_lead(lead.pk)


@staff_view(Perm.MANAGE_LEADS)
@require_POST
def lead_loss_decide_view(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.get_lead_for_user(request.user, lead_id)
    consultants = selectors.sales_staff(lead.dealer_id)
    form = LossDecisionForm(request.POST, consultants=consultants)
    if not form.is_valid():
        return _lead_page(request, lead, decision_form=form, status=422)
    data = form.cleaned_data
    try:
        if data["decision"] == "approve":
            lead_loss_approve(actor=request.user, lead=lead)
            messages.success(request, _("Loss approved."))
        else:
            reassign = next((u for u in consultants if u.pk == data["reassign_to"]), None)
            lead_loss_return(actor=request.user, lead=lead, note=data["note"], reassign_to=reassign)
            messages.success(request, _("Sent back for more follow-up."))
    except ValidationError as exc:
        return _refused(request, lead, exc, decision_form=form)
    except PermissionDenied:
        raise
    if request.POST.get("next") == "losses":
        return redirect("sales:losses")
    return _back_to_lead(lead.pk)


# --- lists of work ------------------------------------------------------------------------------


@staff_view(Perm.WORK_LEADS)
def followups(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    due = selectors.followups_due(request.user, today=today)
    grouped = request.user.has_perm(Perm.VIEW_ALL_LEADS)
    return render(
        request,
        "sales/leads/followups.html",
        {
            "due": due,
            "groups": due.by_consultant() if grouped else [],
            "grouped": grouped,
            "today": today,
        },
    )


@staff_view(Perm.MANAGE_LEADS)
def losses(request: HttpRequest) -> HttpResponse:
    leads = selectors.losses_pending(request.user)
    consultants = selectors.sales_staff(request.user.dealer_id)
    return render(
        request,
        "sales/leads/losses.html",
        {"leads": leads, "decision_form": LossDecisionForm(consultants=consultants)},
    )


@staff_view(Perm.MANAGE_LEADS)
def policy(request: HttpRequest) -> HttpResponse:
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    current = sales_policy_for(dealer.pk)
    initial = {name: getattr(current, name) for name in POLICY_FIELDS}
    initial["open_weekdays"] = list(current.open_weekdays)
    form = PolicyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["open_weekdays"] = "".join(data["open_weekdays"])
        try:
            sales_policy_update(actor=request.user, dealer_id=dealer.pk, **data)
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, _("Sales settings saved."))
            url = reverse("sales:policy")
            return redirect(url if request.user.dealer_id else f"{url}?dealer={dealer.pk}")
    return render(
        request,
        "sales/leads/policy.html",
        {
            "form": form,
            "dealer": dealer,
            "dealers": [] if request.user.dealer_id else list(visible_dealers(request.user)[:200]),
        },
    )


urlpatterns = [
    path("leads/", lead_list, name="leads"),
    path("leads/new/", lead_create_view, name="lead_create"),
    path("leads/matches/", lead_matches_view, name="lead_matches"),
    path("leads/referrers/", referrer_options, name="lead_referrers"),
    path("leads/<int:lead_id>/", lead_detail, name="lead"),
    path("leads/<int:lead_id>/edit/", lead_edit, name="lead_edit"),
    path("leads/<int:lead_id>/assign/", lead_assign_view, name="lead_assign"),
    path("leads/<int:lead_id>/activity/", lead_activity_view, name="lead_activity"),
    path("leads/<int:lead_id>/stage/", lead_stage_view, name="lead_stage"),
    path("leads/<int:lead_id>/loss/", lead_loss_request_view, name="lead_loss_request"),
    path("leads/<int:lead_id>/loss/decide/", lead_loss_decide_view, name="lead_loss_decide"),
    path("follow-ups/", followups, name="followups"),
    path("losses/", losses, name="losses"),
    path("settings/", policy, name="policy"),
]
