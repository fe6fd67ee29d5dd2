"""Customer pages: the list, create and edit, the 360 page and its HTMX parts."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django_htmx.http import reswap, retarget

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import visible_dealers

from . import selectors, services
from .forms import CallForm, ConsentForm, CustomerForm, NoteForm, TagsForm
from .models import ConsentChannel, Customer, Interaction, LifecycleStage, SourceChannel
from .selectors import CustomerFilters, interaction_entry

DETAIL = "customers/detail.html"


def _can_see_contact(request: HttpRequest) -> bool:
    return request.user.has_perm(Perm.VIEW_FULL_CONTACT)


# --- list ---------------------------------------------------------------------------------------


@staff_view(Perm.VIEW_CUSTOMER)
def index(request: HttpRequest) -> HttpResponse:
    filters = CustomerFilters.from_params(request.GET)
    page = selectors.customer_list(request.user, filters, page=request.GET.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "customers": page.object_list,
        "filters": filters,
        "query": query.urlencode(),
        "stages": LifecycleStage.choices,
        "sources": SourceChannel.choices,
        "consultants": selectors.consultant_choices(request.user),
        "tag_names": selectors.tag_names(request.user),
    }
    template = "customers/list.html#results" if request.htmx else "customers/list.html"
    return render(request, template, context)


# --- create and edit ----------------------------------------------------------------------------


def _form_dealers(request: HttpRequest) -> list:
    return [] if request.user.dealer_id else list(visible_dealers(request.user))


@staff_view(Perm.ADD_CUSTOMER)
def create(request: HttpRequest) -> HttpResponse:
    user = request.user
    dealers = _form_dealers(request)
    consultants = selectors.consultant_choices(user)
    if request.method == "POST":
        form = CustomerForm(request.POST, consultants=consultants, dealers=dealers)
        if form.is_valid():
            dealer = form.cleaned_data.get("dealer")
            dealer_id = dealer.pk if dealer is not None else user.dealer_id
            if dealer is not None:
                # A network user picking a dealer assigns among that dealer's staff.
                consultants = selectors.consultant_choices(user, dealer_id=dealer_id)
            kwargs = form.service_kwargs()
            if not kwargs["assigned_consultant_id"] and not user.has_perm(
                Perm.VIEW_ALL_DEALER_CUSTOMERS
            ):
                # A consultant sees only their own customers: what they create is theirs.
                kwargs["assigned_consultant_id"] = user.pk
            try:
                result = services.customer_create(
                    actor=user, dealer_id=dealer_id, request=request, **kwargs
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                customer = result.customer
                messages.success(request, _("Customer %(name)s created.") % {"name": customer})
                for other in result.same_phone_customers:
                    messages.warning(
                        request,
                        _(
                            "Customer no. %(id)s (%(name)s) has one of the same phone numbers: "
                            "check that this is not the same person."
                        )
                        % {"id": other.pk, "name": other.name},
                    )
                if not selectors.visible_customers(user).filter(pk=customer.pk).exists():
                    return redirect("customers:list")  # assigned to a colleague
                return redirect("customers:detail", customer_id=customer.pk)
    else:
        initial = {}
        if any(c.pk == user.pk for c in consultants):
            initial["assigned_consultant"] = user.pk
        form = CustomerForm(initial=initial, consultants=consultants, dealers=dealers)
    return render(
        request,
        "customers/form.html",
        {"form": form, "editing": False, "phone_values": form["phones"].value() or [""]},
    )


@staff_view(Perm.CHANGE_CUSTOMER)
def edit(request: HttpRequest, customer_id: int) -> HttpResponse:
    user = request.user
    data = selectors.customer_360(user, customer_id, timeline_limit=0)
    customer = data.customer
    consultants = selectors.consultant_choices(user, dealer_id=customer.dealer_id)
    if customer.assigned_consultant and customer.assigned_consultant not in consultants:
        consultants.append(customer.assigned_consultant)
    conflict = None
    status = 200
    if request.method == "POST":
        form = CustomerForm(request.POST, consultants=consultants, editing=True)
        if form.is_valid():
            try:
                services.customer_update(
                    actor=user,
                    customer=customer,
                    version=form.cleaned_data["version"],
                    request=request,
                    **form.service_kwargs(),
                )
            except services.ConcurrentEdit as exc:
                conflict = exc.messages[0]
                status = 409
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Changes saved."))
                return redirect("customers:detail", customer_id=customer.pk)
        phone_values = form["phones"].value() or [""]
    else:
        form = CustomerForm(
            initial=CustomerForm.initial_for(data), consultants=consultants, editing=True
        )
        phone_values = [""]
        if _can_see_contact(request) and data.phones:
            # Editing phones needs them in full: that is an unmasking, and logged as one.
            revealed = services.customer_contact_reveal(
                actor=user, customer=customer, request=request
            )
            phone_values = revealed.phones
    return render(
        request,
        "customers/form.html",
        {
            "form": form,
            "editing": True,
            "customer": customer,
            "data": data,
            "conflict": conflict,
            "phone_values": phone_values,
        },
        status=status,
    )


@staff_view(Perm.DELETE_CUSTOMER)
def delete(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = selectors.get_customer_for_user(request.user, customer_id)
    if request.method == "POST":
        services.customer_delete(actor=request.user, customer=customer, request=request)
        messages.success(request, _("Customer %(name)s deleted.") % {"name": customer})
        return redirect("customers:list")
    return render(request, "customers/delete.html", {"customer": customer})


# --- the 360 page -------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, data: selectors.Customer360, **extra: Any) -> dict:
    return {
        "data": data,
        "customer": data.customer,
        "can_reveal": _can_see_contact(request),
        "can_edit": request.user.has_perm(Perm.CHANGE_CUSTOMER),
        "can_add_interaction": request.user.has_perm(Perm.ADD_INTERACTION),
        "can_delete": request.user.has_perm(Perm.DELETE_CUSTOMER),
        "note_form": NoteForm(),
        "consent_form": ConsentForm(),
        "channels": ConsentChannel.choices,
        **extra,
    }


@staff_view(Perm.VIEW_CUSTOMER)
def detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    data = selectors.customer_360(request.user, customer_id)
    return render(request, DETAIL, _detail_context(request, data))


@staff_view(Perm.VIEW_CUSTOMER)
def timeline(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Older timeline entries (the "show older" button): entries before ?before=<ISO time>."""
    customer = selectors.get_customer_for_user(request.user, customer_id)
    before = parse_datetime(request.GET.get("before") or "") or None
    if before is not None and before.tzinfo is None:
        before = before.replace(tzinfo=datetime.UTC)
    limit = selectors.TIMELINE_PAGE
    entries = selectors.customer_timeline(customer, limit=limit + 1, before=before)
    return render(
        request,
        f"{DETAIL}#timeline_entries",
        {
            "customer": customer,
            "entries": entries[:limit],
            "has_more": len(entries) > limit,
            "before": before,
        },
    )


def _interaction_response(
    request: HttpRequest, customer: Customer, form: Any, partial: str, save: Any
) -> HttpResponse:
    """POST: save and answer the new timeline entry; GET or errors: the form partial."""
    if request.method == "POST" and form.is_valid():
        try:
            interaction = save()
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            if not request.htmx:
                messages.success(request, _("Added to the timeline."))
                return redirect("customers:detail", customer_id=customer.pk)
            return render(
                request,
                f"{DETAIL}#timeline_entry_new",
                {"entry": interaction_entry(interaction), "customer": customer},
            )
    context = {"customer": customer, f"{partial}": form, "can_add_interaction": True}
    response = render(request, f"{DETAIL}#{partial}", context)
    if request.method == "POST" and request.htmx:
        # The form goes back, with its errors, in place of the one posted.
        response = reswap(retarget(response, f"#{partial.replace('_', '-')}"), "outerHTML")
    elif request.method == "POST":
        messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
        return redirect("customers:detail", customer_id=customer.pk)
    return response


@staff_view(Perm.ADD_INTERACTION)
def note_add(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = selectors.get_customer_for_user(request.user, customer_id)
    form = NoteForm(request.POST if request.method == "POST" else None)

    def save() -> Interaction:
        return services.interaction_add(
            actor=request.user,
            customer=customer,
            kind=Interaction.Kind.NOTE,
            body=form.cleaned_data["body"],
            request=request,
        )

    return _interaction_response(request, customer, form, "note_form", save)


@staff_view(Perm.ADD_INTERACTION)
def call_add(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = selectors.get_customer_for_user(request.user, customer_id)
    form = CallForm(request.POST if request.method == "POST" else None)

    def save() -> Interaction:
        return services.interaction_add(
            actor=request.user,
            customer=customer,
            kind=Interaction.Kind.CALL,
            direction=form.cleaned_data["direction"],
            outcome=form.cleaned_data["outcome"],
            duration_seconds=form.duration_seconds(),
            body=form.cleaned_data["body"],
            request=request,
        )

    return _interaction_response(request, customer, form, "call_form", save)


@staff_view(Perm.VIEW_FULL_CONTACT)
def reveal(request: HttpRequest, customer_id: int) -> HttpResponse:
    """POST: the full phones and ID number (audit-logged). GET: the masked block again."""
    data = selectors.customer_360(request.user, customer_id, timeline_limit=0)
    revealed = None
    if request.method == "POST":
        revealed = services.customer_contact_reveal(
            actor=request.user, customer=data.customer, request=request
        )
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(
        request,
        f"{DETAIL}#contact",
        _detail_context(request, data, revealed=revealed),
    )


@staff_view(Perm.CHANGE_CUSTOMER)
def consent(request: HttpRequest, customer_id: int) -> HttpResponse:
    """POST channel, granted, source: record the consent; answers the consent card."""
    customer = selectors.get_customer_for_user(request.user, customer_id)
    form = ConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.consent_set(
                    actor=request.user,
                    customer=customer,
                    channel=form.cleaned_data["channel"],
                    granted=form.cleaned_data["granted"],
                    source=form.cleaned_data["source"],
                    request=request,
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                form = ConsentForm()
        if not request.htmx:
            if form.errors:
                messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
            return redirect(reverse("customers:detail", args=[customer.pk]) + "#consents")
    data = selectors.customer_360(request.user, customer.pk, timeline_limit=0)
    return render(request, f"{DETAIL}#consents", _detail_context(request, data, consent_form=form))


@staff_view(Perm.CHANGE_CUSTOMER)
def tags(request: HttpRequest, customer_id: int) -> HttpResponse:
    """GET: the tag editor; POST tags="a, b": set the customer's tags; answers the tag card."""
    customer = selectors.get_customer_for_user(request.user, customer_id)
    editing = request.method == "GET" and request.htmx and "edit" in request.GET
    form = TagsForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.customer_tags_set(
                    actor=request.user, customer=customer, names=form.names(), request=request
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
                editing = True
        else:
            editing = True
        if not request.htmx:
            if form.errors:
                messages.error(request, " ".join(m for ms in form.errors.values() for m in ms))
            return redirect("customers:detail", customer_id=customer.pk)
    data = selectors.customer_360(request.user, customer.pk, timeline_limit=0)
    if not form.is_bound:
        form = TagsForm(initial={"tags": ", ".join(data.tag_names)})
    return render(
        request,
        f"{DETAIL}#tags",
        _detail_context(request, data, tags_form=form, editing_tags=editing),
    )
