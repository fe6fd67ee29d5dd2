"""Messaging pages: templates (with the live SMS counter and a preview for a real customer), the
outbox and a message's page, replies no customer matched, campaigns (check, queue, progress,
report), the dealer's messaging settings, and the direct-mail list.

Every write goes through services.py (or exports.py for the direct-mail list); the pages read
through selectors.py. An HTMX request gets the named partial, a normal request the page.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from dealercrm.core.access import staff_view
from dealercrm.core.forms import apply_service_errors
from dealercrm.core.models import Dealer
from dealercrm.core.permissions import Perm
from dealercrm.core.scoping import acting_dealer, get_dealer_for_user, visible_dealers
from dealercrm.customers.models import Customer, LifecycleStage
from dealercrm.customers.selectors import get_customer_for_user
from dealercrm.search.router import MAX_QUERY
from dealercrm.search.selectors import search_customers

from . import exports, rendering, selectors, services
from .forms import (
    CHANNEL_KINDS,
    PROVIDER_OPTIONS,
    SECRET_LABELS,
    CampaignForm,
    MailExportForm,
    PolicyForm,
    ProviderForm,
    TemplateForm,
)
from .models import (
    SERVICE_PURPOSES,
    Campaign,
    Channel,
    Language,
    Message,
    MessageStatus,
    MessageTemplate,
    ProviderConfig,
    ProviderKind,
    Purpose,
    is_marketing_purpose,
)
from .sms_length import sms_length, sms_text

CANCELLABLE = (MessageStatus.QUEUED, MessageStatus.HELD)
RELEASABLE = (MessageStatus.HELD, MessageStatus.BLOCKED)
# Statuses whose reason the list shows in red or amber: the sender must see what went wrong.
PROBLEM_STATUSES = frozenset(
    {
        MessageStatus.FAILED,
        MessageStatus.UNDELIVERABLE,
        MessageStatus.HELD,
        MessageStatus.BLOCKED,
        MessageStatus.CANCELLED,
    }
)
# How many customers a campaign check names when the template cannot render for them.
CHECK_NAMED = 20


def _network_dealers(request: HttpRequest) -> list[Dealer]:
    """The dealers a user without a dealer of their own (system administrator) picks from."""
    return [] if request.user.dealer_id else list(visible_dealers(request.user).order_by("name"))


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --- templates ----------------------------------------------------------------------------------


@staff_view(Perm.VIEW_MESSAGES)
def template_list(request: HttpRequest) -> HttpResponse:
    filters = selectors.TemplateFilters.from_params(request.GET)
    context = {
        "templates": selectors.template_list(request.user, filters),
        "filters": filters,
        "purposes": Purpose.choices,
        "channels": Channel.choices,
        "languages": Language.choices,
        "service_purposes": SERVICE_PURPOSES,
        "show_dealer": request.user.is_network_user,
        "can_manage": request.user.has_perm(Perm.MANAGE_TEMPLATES),
    }
    name = "messaging/template_list.html"
    return render(request, f"{name}#results" if request.htmx else name, context)


def _variable_groups() -> list[tuple[str, list[tuple[str, Any]]]]:
    return [
        (_("Of the customer, the car and the dealer"), list(rendering.CUSTOMER_VARIABLES.items())),
        (_("Given by the sender"), list(rendering.CALLER_VARIABLES.items())),
    ]


def _template_form_page(
    request: HttpRequest,
    form: TemplateForm,
    *,
    template: MessageTemplate | None,
    dealer_id: int | None,
) -> HttpResponse:
    return render(
        request,
        "messaging/template_form.html",
        {
            "form": form,
            "template": template,
            "editing": template is not None,
            "dealer_id": dealer_id,
            "variable_groups": _variable_groups(),
            "service_purposes": sorted(SERVICE_PURPOSES),
            "length": _length_context(
                body=form["body"].value() or "",
                channel=form["channel"].value() or "",
                purpose=form["purpose"].value() or "",
                dealer_id=dealer_id,
            ),
        },
    )


@staff_view(Perm.MANAGE_TEMPLATES)
def template_create(request: HttpRequest) -> HttpResponse:
    dealers = _network_dealers(request)
    if request.method == "POST":
        form = TemplateForm(request.POST, dealers=dealers)
        if form.is_valid():
            dealer = form.cleaned_data.get("dealer")
            dealer_id = dealer.pk if dealer is not None else request.user.dealer_id
            try:
                template = services.template_create(
                    actor=request.user, dealer_id=dealer_id, **form.service_kwargs()
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Template %(name)s saved.") % {"name": template.name})
                return redirect("messaging:templates")
    else:
        form = TemplateForm(initial={"dealer": dealers[0].pk} if dealers else None, dealers=dealers)
    dealer_id = _editor_dealer_id(request, _editor_params(request))
    return _template_form_page(request, form, template=None, dealer_id=dealer_id)


@staff_view(Perm.MANAGE_TEMPLATES)
def template_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    template = selectors.get_template_for_user(request.user, template_id)
    if request.method == "POST":
        form = TemplateForm(request.POST)
        if form.is_valid():
            try:
                template = services.template_update(
                    actor=request.user, template=template, **form.service_kwargs()
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Template %(name)s saved.") % {"name": template.name})
                return redirect("messaging:templates")
    else:
        form = TemplateForm(initial=TemplateForm.initial_for(template))
    return _template_form_page(request, form, template=template, dealer_id=template.dealer_id)


def _editor_params(request: HttpRequest) -> dict[str, str]:
    data = request.POST if request.method == "POST" else request.GET
    return {
        name: (data.get(name) or "")
        for name in ("body", "subject", "channel", "purpose", "language", "customer", "dealer")
    }


def _editor_dealer_id(request: HttpRequest, params: dict[str, str]) -> int | None:
    """The dealer the template being edited belongs to (a network user's form names it)."""
    if request.user.dealer_id:
        return request.user.dealer_id
    try:
        return get_dealer_for_user(request.user, int(params["dealer"])).pk
    except (TypeError, ValueError):
        dealer = acting_dealer(request)
        return dealer.pk if dealer else None


def _signature(dealer_id: int | None) -> str:
    if dealer_id is None:
        return ""
    policy = selectors.policy_of(dealer_id)
    return policy.sms_signature if policy else ""


def _length_context(
    *, body: str, channel: str, purpose: str, dealer_id: int | None, rendered: str | None = None
) -> dict[str, Any] | None:
    """The SMS counter: characters, segments and limit of the text as the gateway counts it
    (signature and, for marketing, 回T退订 included). None for other channels."""
    if channel != Channel.SMS:
        return None
    marketing = is_marketing_purpose(purpose) if purpose in Purpose.values else False
    signature = _signature(dealer_id)
    counted = rendered if rendered is not None else body
    length = sms_length(counted, signature=signature, marketing=marketing)
    return {
        "chars": length.chars,
        "segments": length.segments,
        "limit": length.limit,
        "over": length.segments > 1,
        "signature": signature,
        "marketing": marketing,
        "has_variables": rendered is None and bool(rendering.variables_in(body)),
    }


@staff_view(Perm.MANAGE_TEMPLATES)
def template_sms_length(request: HttpRequest) -> HttpResponse:
    """The live counter under the text (HTMX, as the user types): one implementation, here."""
    params = _editor_params(request)
    dealer_id = _editor_dealer_id(request, params)
    return render(
        request,
        "messaging/template_form.html#sms_length",
        {
            "length": _length_context(
                body=params["body"],
                channel=params["channel"],
                purpose=params["purpose"],
                dealer_id=dealer_id,
            )
        },
    )


def _sample_caller_values(names: list[str]) -> dict[str, str]:
    # Variables a sender gives (a date, a link) have no value before sending: the preview marks
    # where they go rather than inventing one.
    return {name: f"〔{name}〕" for name in names if name in rendering.CALLER_VARIABLES}


def _preview(*, dealer_id: int, customer: Customer, params: dict[str, str]) -> dict[str, Any]:
    """What the customer would get, or the variable missing for them, or the unknown ones."""
    body, subject, channel = params["body"], params["subject"], params["channel"]
    purpose = params["purpose"] if params["purpose"] in Purpose.values else Purpose.PERSONAL
    language = params["language"] if params["language"] in Language.values else Language.ZH_HANS
    result: dict[str, Any] = {"customer": customer, "channel": channel}
    try:
        rendering.validate_template(body, subject)
    except ValidationError as exc:
        result["errors"] = [m for ms in exc.message_dict.values() for m in ms]
        return result
    context = rendering.customer_contexts(dealer_id, [customer.pk], language).get(customer.pk)
    if context is None:
        raise Http404
    names = rendering.variables_in(subject, body)
    caller = _sample_caller_values([n for n in names if not context.get(n)])
    try:
        text = rendering.render(body, {**caller, **context})
        result["subject"] = rendering.render(subject, {**caller, **context})
    except rendering.VariableMissing as missing:
        result["missing"] = missing.variable
        result["missing_description"] = rendering.TEMPLATE_VARIABLES.get(missing.variable, "")
        return result
    marketing = is_marketing_purpose(purpose)
    if channel == Channel.SMS:
        signature = _signature(dealer_id)
        result["text"] = sms_text(text, signature=signature, marketing=marketing)
        result["length"] = _length_context(
            body=body, channel=channel, purpose=purpose, dealer_id=dealer_id, rendered=text
        )
    else:
        result["text"] = text
    result["caller_variables"] = sorted(caller)
    return result


@staff_view(Perm.MANAGE_TEMPLATES)
def template_preview(request: HttpRequest) -> HttpResponse:
    """The text as one real customer of the dealer would get it (HTMX)."""
    params = _editor_params(request)
    dealer_id = _editor_dealer_id(request, params)
    preview = None
    if params["customer"] and dealer_id is not None:
        customer = get_customer_for_user(request.user, params["customer"])
        if customer.dealer_id != dealer_id:
            raise Http404
        preview = _preview(dealer_id=dealer_id, customer=customer, params=params)
    return render(request, "messaging/template_form.html#preview", {"preview": preview})


@staff_view(Perm.MANAGE_TEMPLATES)
def template_customers(request: HttpRequest) -> HttpResponse:
    """Customers to preview for, found with the one-box search (HTMX, as the user types)."""
    q = (request.GET.get("q") or "").strip()[:MAX_QUERY]
    params = _editor_params(request)
    dealer_id = _editor_dealer_id(request, params)
    hits = []
    if q and dealer_id is not None:
        hits = [h for h in search_customers(request.user, q, limit=10) if h.dealer_id == dealer_id]
    return render(request, "messaging/template_form.html#customer_hits", {"hits": hits, "q": q})


# --- outbox -------------------------------------------------------------------------------------


@staff_view(Perm.VIEW_MESSAGES)
def outbox(request: HttpRequest) -> HttpResponse:
    filters = selectors.MessageFilters.from_params(request.GET)
    page = selectors.message_list(request.user, filters, page=request.GET.get("page") or 1)
    context = {
        "page": page,
        "message_rows": page.object_list,
        "filters": filters,
        "query": _query_without_page(request),
        "statuses": MessageStatus.choices,
        "channels": Channel.choices,
        "purposes": Purpose.choices,
        "directions": Message.Direction.choices,
        "campaigns": selectors.campaign_choices(request.user),
        "problem_statuses": PROBLEM_STATUSES,
        "now": timezone.now(),
    }
    name = "messaging/outbox.html"
    return render(request, f"{name}#results" if request.htmx else name, context)


def _message_context(request: HttpRequest, message: Message) -> dict[str, Any]:
    can_act = request.user.has_perm(Perm.SEND_MESSAGE)
    return {
        "message": message,
        "can_cancel": can_act and message.status in CANCELLABLE,
        "can_release": can_act and message.status in RELEASABLE,
        "problem_statuses": PROBLEM_STATUSES,
        "can_see_customer": message.customer_id is not None
        and request.user.has_perm(Perm.VIEW_CUSTOMER),
    }


@staff_view(Perm.VIEW_MESSAGES)
def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    message = selectors.get_message_for_user(request.user, message_id)
    return render(request, "messaging/message_detail.html", _message_context(request, message))


def _message_action(request: HttpRequest, message_id: int, action: Any, done: str) -> HttpResponse:
    message = selectors.get_message_for_user(request.user, message_id)
    try:
        message = action(actor=request.user, message=message, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    if request.htmx:
        message = selectors.get_message_for_user(request.user, message_id)
        return render(
            request, "messaging/message_detail.html#status_card", _message_context(request, message)
        )
    return redirect("messaging:message", message_id=message_id)


@staff_view(Perm.SEND_MESSAGE)
@require_POST
def message_cancel(request: HttpRequest, message_id: int) -> HttpResponse:
    return _message_action(request, message_id, services.message_cancel, _("Message cancelled."))


@staff_view(Perm.SEND_MESSAGE)
@require_POST
def message_release(request: HttpRequest, message_id: int) -> HttpResponse:
    return _message_action(
        request, message_id, services.message_release, _("Message released: it is queued again.")
    )


@staff_view(Perm.MANAGE_TASKS)
def unmatched_replies(request: HttpRequest) -> HttpResponse:
    """Replies from numbers and addresses no customer has: someone has to find out who wrote."""
    page = selectors.unmatched_replies(request.user, page=request.GET.get("page") or 1)
    return render(
        request,
        "messaging/unmatched.html",
        {"page": page, "query": "", "show_dealer": request.user.is_network_user},
    )


# --- campaigns ----------------------------------------------------------------------------------


@staff_view(Perm.RUN_CAMPAIGNS)
def campaign_list(request: HttpRequest) -> HttpResponse:
    page = selectors.campaign_list(request.user, page=request.GET.get("page") or 1)
    return render(
        request,
        "messaging/campaign_list.html",
        {"page": page, "query": "", "show_dealer": request.user.is_network_user},
    )


@staff_view(Perm.RUN_CAMPAIGNS)
def campaign_create(request: HttpRequest) -> HttpResponse:
    dealers = _network_dealers(request)
    dealer = acting_dealer(request)
    dealer_id = dealer.pk if dealer else None
    templates = selectors.dealer_templates(dealer_id) if dealer_id else []
    tag_names = selectors.dealer_tag_names(dealer_id) if dealer_id else []
    kwargs = {"templates": templates, "tag_names": tag_names}
    if request.method == "POST":
        form = CampaignForm(request.POST, **kwargs)
        if form.is_valid() and dealer_id is not None:
            try:
                campaign = services.campaign_create(
                    actor=request.user,
                    dealer_id=dealer_id,
                    name=form.cleaned_data["name"],
                    template=form.cleaned_data["template"],
                    audience=form.audience(),
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                return redirect("messaging:campaign", campaign_id=campaign.pk)
    else:
        form = CampaignForm(**kwargs)
    return render(
        request,
        "messaging/campaign_form.html",
        {"form": form, "dealer": dealer, "dealers": dealers, "has_templates": bool(templates)},
    )


_OUTCOME_LABELS = {
    "queued": gettext_lazy("Queued"),
    "held_by_cap": gettext_lazy("Held by the frequency cap"),
    "no_consent": gettext_lazy("No consent for the channel"),
    "no_address": gettext_lazy("No address for the channel"),
    "undeliverable": gettext_lazy("Cannot receive it (e.g. a landline for SMS)"),
    "missing_variable": gettext_lazy("Template cannot be filled in"),
    "already_queued": gettext_lazy("Already queued before"),
    "not_found": gettext_lazy("No longer a customer"),
}


def _report_rows(counts: dict[str, Any]) -> list[dict[str, Any]]:
    """The outcomes of queueing, labelled, for the table and the bar chart."""
    rows = []
    for key, label in _OUTCOME_LABELS.items():
        value = int(counts.get(key) or 0)
        if key in ("already_queued", "not_found") and not value:
            continue  # outcomes of a second run or a stale list: shown only when they happen
        rows.append({"key": key, "label": str(label), "value": value})
    return rows


def _campaign_context(request: HttpRequest, campaign: Campaign) -> dict[str, Any]:
    stages = dict(LifecycleStage.choices)
    context: dict[str, Any] = {
        "campaign": campaign,
        "stage_labels": [
            stages.get(s, s) for s in (campaign.audience or {}).get("lifecycle_stages", [])
        ],
    }
    if campaign.status == Campaign.Status.DRAFT:
        check = services.campaign_check(campaign=campaign)
        context["check"] = check
        context["check_total"] = check.total
        context["would_send"] = len(check.queued)
        context["check_rows"] = _report_rows(check.counts())
        context["missing_named"] = check.missing_variable[:CHECK_NAMED]
        context["missing_total"] = len(check.missing_variable)
    elif campaign.status != Campaign.Status.QUEUEING:
        report = campaign.report or {}
        rows = _report_rows(report)
        context["report_rows"] = rows
        context["chart"] = rows
        context["status_counts"] = sorted(
            (
                (MessageStatus(status).label, n)
                for status, n in selectors.campaign_status_counts(campaign).items()
                if status in MessageStatus.values
            ),
            key=lambda item: -item[1],
        )
        context["missing_named"] = report.get("missing_variable_examples", [])[:CHECK_NAMED]
    percent = 0
    if campaign.total:
        percent = min(100, round(100 * campaign.progress / campaign.total))
    context["percent"] = percent
    return context


@staff_view(Perm.RUN_CAMPAIGNS)
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """A draft shows its check (who would get it, who not and why); queueing shows progress;
    a queued campaign its report."""
    campaign = selectors.get_campaign_for_user(request.user, campaign_id)
    return render(request, "messaging/campaign_detail.html", _campaign_context(request, campaign))


@staff_view(Perm.RUN_CAMPAIGNS)
@require_POST
def campaign_queue(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Start queueing in the background (a Huey job); the page then polls the progress."""
    campaign = selectors.get_campaign_for_user(request.user, campaign_id)
    try:
        services.campaign_start(actor=request.user, campaign=campaign, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    if request.htmx:
        return redirect("messaging:campaign_progress", campaign_id=campaign.pk)
    return redirect("messaging:campaign", campaign_id=campaign.pk)


@staff_view(Perm.RUN_CAMPAIGNS)
def campaign_progress(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The progress bar while queueing (polled every second), then the report."""
    campaign = selectors.get_campaign_for_user(request.user, campaign_id)
    return render(
        request,
        "messaging/campaign_detail.html#progress",
        _campaign_context(request, campaign),
    )


# --- settings -----------------------------------------------------------------------------------


# Which callbacks each provider kind receives: the gateway is given these addresses.
WEBHOOKS_BY_KIND: dict[str, tuple[str, ...]] = {
    ProviderKind.SMS_GATEWAY: ("receipts", "inbound"),
    ProviderKind.WECHAT: ("events",),
    ProviderKind.SMTP: ("receipts", "inbound"),
    ProviderKind.DJANGO_EMAIL: ("receipts", "inbound"),
}


def _webhook_urls(config: ProviderConfig | None) -> dict[str, str]:
    """The addresses to give the gateway for delivery reports and replies."""
    if config is None:
        return {}
    urls = {}
    for name in WEBHOOKS_BY_KIND.get(config.kind, ()):
        try:
            path = reverse(f"messaging_public:{name}", kwargs={"webhook_key": config.webhook_key})
        except NoReverseMatch:
            continue
        urls[name] = settings.SITE_URL.rstrip("/") + path
    return urls


def _provider_rows(dealer_id: int) -> list[dict[str, Any]]:
    configs = selectors.provider_configs(dealer_id)
    rows = []
    for channel in Channel:
        config = configs.get(channel.value)
        kind = config.kind if config else settings.MESSAGING_DEFAULT_PROVIDERS.get(channel.value)
        stored = (config.options or {}) if config else {}
        rows.append(
            {
                "channel": channel.value,
                "label": channel.label,
                "config": config,
                "kind_label": ProviderKind(kind).label if kind in ProviderKind.values else kind,
                "is_default": config is None,
                "options": [
                    (o.label, stored[o.name])
                    for o in PROVIDER_OPTIONS.get(kind or "", ())
                    if stored.get(o.name) not in (None, "")
                ],
                "secret_set": bool(config and config.secret_encrypted),
                "takes_secret": kind in SECRET_LABELS,
                "webhooks": _webhook_urls(config),
                "editable": len(CHANNEL_KINDS.get(channel.value, ())) > 1
                or bool(PROVIDER_OPTIONS.get(kind or "")),
            }
        )
    return rows


@staff_view(Perm.MANAGE_MESSAGING_SETTINGS)
def messaging_settings(request: HttpRequest) -> HttpResponse:
    """The dealer's quiet hours, frequency cap and SMS signature (POST saves them), and the
    provider of each channel."""
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    policy = services.policy_for_dealer(dealer.pk)
    if request.method == "POST":
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                services.policy_update(
                    actor=request.user, dealer_id=dealer.pk, **form.service_kwargs()
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(request, _("Messaging settings saved."))
                url = reverse("messaging:settings")
                if not request.user.dealer_id:
                    url += f"?dealer={dealer.pk}"
                return redirect(url)
    else:
        form = PolicyForm(initial=PolicyForm.initial_for(policy))
    return render(
        request,
        "messaging/settings.html",
        {
            "form": form,
            "dealer": dealer,
            "dealers": _network_dealers(request),
            "providers": _provider_rows(dealer.pk),
        },
    )


@staff_view(Perm.MANAGE_MESSAGING_SETTINGS)
def provider_edit(request: HttpRequest) -> HttpResponse:
    """One channel's provider (?channel=sms): kind, its settings, a secret never shown back."""
    dealer = acting_dealer(request)
    if dealer is None:
        raise Http404
    data = request.POST if request.method == "POST" else request.GET
    channel = data.get("channel") or Channel.SMS
    if channel not in Channel.values:
        raise Http404
    config = selectors.provider_configs(dealer.pk).get(channel)
    default_kind = settings.MESSAGING_DEFAULT_PROVIDERS.get(channel, "")
    if request.method == "POST":
        form = ProviderForm(request.POST, channel=channel)
        if form.is_valid():
            try:
                services.provider_config_set(
                    actor=request.user,
                    dealer_id=dealer.pk,
                    channel=channel,
                    kind=form.cleaned_data["kind"],
                    options=form.options(),
                    secret=form.new_secret(),
                )
            except ValidationError as exc:
                apply_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("Provider of %(channel)s saved.") % {"channel": Channel(channel).label},
                )
                url = reverse("messaging:settings")
                if not request.user.dealer_id:
                    url += f"?dealer={dealer.pk}"
                return redirect(url)
    else:
        form = ProviderForm(initial=ProviderForm.initial_for(config, default_kind), channel=channel)
    return render(
        request,
        "messaging/provider_form.html",
        {
            "form": form,
            "dealer": dealer,
            "channel": channel,
            "channel_label": Channel(channel).label,
            "config": config,
            "secret_set": bool(config and config.secret_encrypted),
            "secret_labels": {k: str(v) for k, v in SECRET_LABELS.items()},
            "webhooks": _webhook_urls(config),
        },
    )


# --- direct mail --------------------------------------------------------------------------------


@staff_view(Perm.EXPORT_MAIL_LIST)
def mail_list(request: HttpRequest) -> HttpResponse:
    """Queued direct mail by campaign, ready to be exported for printing."""
    dealer = acting_dealer(request)
    groups = selectors.mail_groups(dealer.pk) if dealer else []
    return render(
        request,
        "messaging/mail_list.html",
        {
            "dealer": dealer,
            "dealers": _network_dealers(request),
            "groups": groups,
            "total": sum(g.count for g in groups),
        },
    )


@staff_view(Perm.EXPORT_MAIL_LIST)
@require_POST
def mail_export(request: HttpRequest) -> HttpResponse:
    """The address list as a download; what it holds is marked sent and the export audited."""
    dealer = acting_dealer(request)
    form = MailExportForm(request.POST)
    if dealer is None or not form.is_valid():
        messages.error(request, _("Choose what to export."))
        return redirect("messaging:mail")
    campaign = form.cleaned_data["campaign"]
    # Another dealer's campaign is as unknown as a missing one.
    if isinstance(campaign, int) and not selectors.campaign_of_dealer(
        request.user, campaign, dealer_id=dealer.pk
    ):
        raise Http404
    export = exports.mail_list_export(
        actor=request.user,
        dealer_id=dealer.pk,
        fmt=form.cleaned_data["format"] or "xlsx",
        campaign_id=campaign if isinstance(campaign, int) else None,
        without_campaign=campaign == "none",
        request=request,
    )
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["X-Exported-Count"] = str(export.count)
    return response
