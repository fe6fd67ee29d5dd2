"""Pages: quotes — a new version for a lead (with the live recalculation), a quote with every
version of its lead and what changed, the print page the customer takes away, and the public
share link (no login; `public_urlpatterns`, mounted under /p/).

Writes go through services/quotes.py; every figure is computed on the server by pricing.py, the
live recalculation included (HTMX posts the form, the totals partial comes back).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.models import Customer, CustomerPhone

from ..forms.quotes import QuoteForm
from ..models import Lead, Quote, QuoteLine
from ..selectors import quotes as selectors
from ..selectors.quotes import share_url
from ..services import quotes as services

# What the public page answers besides its body: never cached (a newer version replaces it),
# never indexed, and the token never leaks to another site through the Referer header.
PUBLIC_HEADERS = {
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


def _lead_url(lead_id: int) -> str:
    # The lead page belongs to the leads topic; a missing route leaves the link out.
    try:
        return reverse("sales:lead", kwargs={"lead_id": lead_id})
    except NoReverseMatch:
        return ""


def _model_prices(form: QuoteForm) -> dict[str, str]:
    # The list price of each model offered: choosing a model fills in its price.
    models = form.fields["car_model"].queryset  # type: ignore[attr-defined]
    return {str(pk): str(price) for pk, price in models.values_list("pk", "list_price")}


def _initial(lead: Lead, latest: Quote | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A new version starts from the latest one (the usual case: the price moves a little);
    a first quote from the lead's model at its list price."""
    today = timezone.localdate()
    valid = today + datetime.timedelta(days=services.DEFAULT_VALID_DAYS)
    if latest is None:
        initial: dict[str, Any] = {"quote_date": today, "valid_until": valid, "term_months": 0}
        if lead.car_model_id:
            initial["car_model"] = lead.car_model_id
            initial["vehicle_price"] = lead.car_model.list_price
        return initial, []
    initial = {
        "car_model": latest.car_model_id,
        "colour": latest.colour,
        "quote_date": today,
        "valid_until": valid,
        "term_months": latest.term_months,
        "annual_rate": latest.annual_rate_percent if latest.term_months else "",
    }
    for name in (
        "vehicle_price",
        "discount",
        "compulsory_insurance",
        "commercial_insurance",
        "registration_fee",
        "extended_warranty",
        "trade_in_credit",
        "down_payment",
    ):
        initial[name] = getattr(latest, name)
    lines = [
        {"kind": line.kind, "description": line.description, "amount": line.amount}
        for line in latest.lines.all()
    ]
    return initial, lines


def _calculate(form: QuoteForm) -> tuple[Any, dict[str, list[str]]]:
    """The figures of what the form holds, or the errors that stop them."""
    if not form.is_valid():
        return None, {name: list(errs) for name, errs in form.errors.items()}
    try:
        return services.quote_calculate(**form.service_kwargs()), {}
    except ValidationError as exc:
        return None, exc.message_dict


def _form_context(request: HttpRequest, lead: Lead, form: QuoteForm, calc: Any, errors: dict):
    return {
        "lead": lead,
        "form": form,
        "lines": form.lines,
        "calc": calc,
        "calc_errors": errors,
        "model_prices": _model_prices(form),
        "line_kinds": QuoteLine.Kind.choices,
        "lead_url": _lead_url(lead.pk),
        "versions": selectors.lead_quotes(lead),
    }


@staff_view(Perm.WORK_LEADS)
def quote_create(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = selectors.get_lead_for_quoting(request.user, lead_id)
    if request.method == "POST":
        models = selectors.quotable_models(lead)
        form = QuoteForm(request.POST, car_models=models)
        if form.is_valid():
            try:
                quote = services.quote_create(
                    actor=request.user,
                    lead=lead,
                    valid_until=form.cleaned_data.get("valid_until"),
                    colour=form.cleaned_data.get("colour", ""),
                    notes=form.cleaned_data.get("notes", ""),
                    **form.service_kwargs(),
                )
            except ValidationError as exc:
                form.apply_errors(exc)
            else:
                messages.success(
                    request, _("Quote version %(version)s saved.") % {"version": quote.version}
                )
                return redirect("sales:quote", quote_id=quote.pk)
        calc, errors = _calculate(QuoteForm(request.POST, car_models=models))
        status = 422 if form.errors or form.line_errors else 200
        context = _form_context(request, lead, form, calc, errors)
        return render(request, "sales/quotes/form.html", context, status=status)
    latest = selectors.latest_quote(lead)
    initial, lines = _initial(lead, latest)
    models = selectors.quotable_models(lead)
    form = QuoteForm(initial=initial, lines=lines, car_models=models)
    preview = QuoteForm(data=_as_data(initial, lines), car_models=models)
    calc, errors = _calculate(preview)
    return render(
        request, "sales/quotes/form.html", _form_context(request, lead, form, calc, errors)
    )


def _as_data(initial: dict[str, Any], lines: list[dict[str, Any]]) -> QueryDict:
    """The initial values as a posted form, to compute the first totals the same way."""
    data = QueryDict(mutable=True)
    for name, value in initial.items():
        if value is None:
            continue
        data[name] = value.isoformat() if isinstance(value, datetime.date) else str(value)
    for line in lines:
        data.appendlist("line_kind", line["kind"])
        data.appendlist("line_description", line["description"])
        data.appendlist("line_amount", str(line["amount"]))
    return data


@staff_view(Perm.WORK_LEADS)
@require_POST
def quote_calculate(request: HttpRequest, lead_id: int) -> HttpResponse:
    """The totals partial for what the form holds now (nothing saved)."""
    lead = selectors.get_lead_for_quoting(request.user, lead_id)
    form = QuoteForm(request.POST, car_models=selectors.quotable_models(lead))
    calc, errors = _calculate(form)
    return render(request, "sales/quotes/form.html#totals", {"calc": calc, "calc_errors": errors})


def _quote_context(request: HttpRequest, quote: Quote) -> dict[str, Any]:
    versions = list(selectors.lead_quotes(quote.lead, with_lines=True))
    previous = next((v for v in versions if v.version < quote.version), None)
    return {
        "quote": quote,
        "lead": quote.lead,
        "figures": selectors.saved_figures(quote),
        "versions": versions,
        "previous": previous,
        "diff": selectors.quote_diff(previous, quote) if previous else [],
        "share_url": share_url(quote),
        "lead_url": _lead_url(quote.lead_id),
        "can_quote": request.user.has_perm(Perm.WORK_LEADS) and quote.lead.is_open,
        "can_see_customer": request.user.has_perm(Perm.VIEW_CUSTOMER),
        "expired": quote.valid_until is not None and quote.valid_until < timezone.localdate(),
    }


@staff_view(Perm.VIEW_LEADS)
@require_safe
def quote_detail(request: HttpRequest, quote_id: int) -> HttpResponse:
    quote = selectors.get_quote_for_user(request.user, quote_id)
    return render(request, "sales/quotes/detail.html", _quote_context(request, quote))


@staff_view(Perm.VIEW_LEADS)
@require_safe
def quote_print(request: HttpRequest, quote_id: int) -> HttpResponse:
    """A clean A4 page the customer takes away (the browser prints it)."""
    quote = selectors.get_quote_for_user(request.user, quote_id)
    phone = (
        CustomerPhone.objects.filter(dealer_id=quote.dealer_id, customer_id=quote.customer_id)
        .order_by("-is_primary", "id")
        .values_list("number", flat=True)
        .first()
    )
    context = {
        "quote": quote,
        "dealer": quote.dealer,
        "figures": selectors.saved_figures(quote),
        "consultant": quote.lead.consultant or quote.created_by,
        "customer_name": quote.customer.name,
        # Masked like everywhere else: the page is printed and handed over, and anyone may print.
        "customer_phone": mask_phone(phone) if phone else "",
        "share_url": share_url(quote),
        "public": False,
    }
    response = render(request, "sales/quotes/print.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _public_name(customer: Customer) -> str:
    # The public page greets the customer without naming them in full (a link can be passed
    # on): 张先生 / 李女士, a company by its name, else the surname and stars.
    address = customer.form_of_address
    if address != customer.name or customer.kind == "company":
        return address
    name = customer.name
    return (name[:1] + "*" * min(max(len(name) - 1, 1), 3)) if name else ""


@require_safe
def quote_public(request: HttpRequest, share_token: str) -> HttpResponse:
    """The share link: this one quote, read-only, no login. No other versions, no customer
    phone or ID, no internal notes. An unknown token, and the link of a version since replaced,
    answer 404."""
    quote = selectors.get_shared_quote(share_token)
    if quote is None:
        response = render(request, "sales/quotes/public_missing.html", status=404)
    else:
        context = {
            "quote": quote,
            "dealer": quote.dealer,
            "figures": selectors.saved_figures(quote),
            "consultant": quote.created_by,
            "customer_name": _public_name(quote.customer),
            "public": True,
            "expired": quote.valid_until is not None and quote.valid_until < timezone.localdate(),
        }
        response = render(request, "sales/quotes/print.html", context)
    for header, value in PUBLIC_HEADERS.items():
        response[header] = value
    return response


urlpatterns: list = [
    path("leads/<int:lead_id>/quotes/new/", quote_create, name="quote_create"),
    path("leads/<int:lead_id>/quotes/calculate/", quote_calculate, name="quote_calculate"),
    path("quotes/<int:quote_id>/", quote_detail, name="quote"),
    path("quotes/<int:quote_id>/print/", quote_print, name="quote_print"),
]

# Public (no login): the quote's share link, under /p/ (see ../public_urls.py).
public_urlpatterns: list = [
    path("q/<str:share_token>/", quote_public, name="quote"),
]
