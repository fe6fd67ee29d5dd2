"""Sending one message from the customer 360 page: the panel, its live preview, and Send.

The panel offers the channels the customer has an address for, the dealer's active templates
of the chosen channel (or free text), and the purpose. The preview is rendered for this
customer exactly as it would go — the SMS with its 【signature】 and, for marketing, " 回T退订",
counted as the gateways count — or names the variable the template cannot fill. Send calls
`services.message_send`, which applies every rule (consent, quiet hours, the cap); what it
refuses comes back on the field, what it holds or defers is said in the panel. Each panel
carries a fresh token that becomes the message's source_id, so a double submit sends once.
After a send the panel answers with the HX-Trigger event `messageSent`, on which the 360
page's timeline reloads itself.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealercrm.core.access import staff_view
from dealercrm.core.permissions import Perm
from dealercrm.customers.contact_masking import mask_phone
from dealercrm.customers.models import Consent, Customer, CustomerPhone
from dealercrm.customers.selectors import get_customer_for_user

from . import rendering, services
from .models import (
    Channel,
    Language,
    Message,
    MessageStatus,
    MessageTemplate,
    MessagingPolicy,
    Purpose,
    is_marketing_purpose,
)
from .policy import sms_undeliverable_reason, time_zone
from .selectors import postal_address
from .sms_length import sms_length, sms_text

PANEL = "messaging/send/panel.html"

# A body longer than this is not a message anyone should type into a panel.
MAX_BODY = 2000


# --- what the panel knows of the customer ---------------------------------------------------


@dataclass(frozen=True)
class ChannelOption:
    value: str
    label: str
    address: str  # as shown: a masked phone, the e-mail, the WeChat id, the postal address
    consent: bool | None  # marketing consent for the channel; None: never asked
    warning: str = ""  # a landline for SMS …


@dataclass
class Recipient:
    """The customer and where each channel would reach them (three small queries)."""

    customer: Customer
    options: list[ChannelOption] = field(default_factory=list)

    def option(self, channel: str) -> ChannelOption | None:
        return next((o for o in self.options if o.value == channel), None)


def _recipient(customer: Customer) -> Recipient:
    phone = (
        CustomerPhone.objects.filter(dealer_id=customer.dealer_id, customer_id=customer.pk)
        .order_by("-is_primary", "id")
        .values_list("number", flat=True)
        .first()
    ) or ""
    consents = dict(
        Consent.objects.filter(dealer_id=customer.dealer_id, customer_id=customer.pk).values_list(
            "channel", "granted"
        )
    )
    addresses: dict[str, str] = {
        Channel.SMS: mask_phone(phone) if phone else "",
        Channel.PHONE: mask_phone(phone) if phone else "",
        Channel.EMAIL: customer.email,
        Channel.WECHAT: customer.wechat_id,
        Channel.MAIL: postal_address(
            customer.province, customer.city, customer.district, customer.street
        ),
    }
    options = []
    for channel in Channel:
        if not addresses.get(channel.value):
            continue  # nowhere to send it: not offered
        warning = sms_undeliverable_reason(phone) if channel == Channel.SMS else ""
        options.append(
            ChannelOption(
                value=channel.value,
                label=str(channel.label),
                address=addresses[channel.value],
                consent=consents.get(channel.value),
                warning=warning,
            )
        )
    return Recipient(customer=customer, options=options)


def _templates(customer: Customer, channel: str) -> list[MessageTemplate]:
    if not channel:
        return []
    return list(
        MessageTemplate.objects.filter(
            dealer_id=customer.dealer_id, channel=channel, is_active=True
        ).order_by("purpose", "name", "id")
    )


# --- the form ---------------------------------------------------------------------------------


class SendForm(forms.Form):
    """What the panel posts. The choices are the customer's channels and the channel's templates."""

    token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    channel = forms.ChoiceField(label=gettext_lazy("Channel"))
    template = forms.TypedChoiceField(
        label=gettext_lazy("Template"), required=False, coerce=int, empty_value=None
    )
    purpose = forms.ChoiceField(label=gettext_lazy("Purpose"), choices=Purpose.choices)
    subject = forms.CharField(label=gettext_lazy("Subject"), required=False, max_length=200)
    body = forms.CharField(
        label=gettext_lazy("Text"), required=False, max_length=MAX_BODY, widget=forms.Textarea
    )

    def __init__(
        self,
        data: QueryDict | None = None,
        *,
        recipient: Recipient,
        templates: list[MessageTemplate],
        initial: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(data, initial=initial)
        self.templates = {t.pk: t for t in templates}
        self.fields["channel"].choices = [(o.value, o.label) for o in recipient.options]
        self.fields["template"].choices = [("", _("No template: write the text"))] + [
            (t.pk, t.name) for t in templates
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        template = self.chosen_template()
        if template is not None:
            # A template is written for one purpose: its purpose is the message's.
            data["purpose"] = template.purpose
        elif not (data.get("body") or "").strip() and "body" not in self.errors:
            self.add_error("body", _("Write the text, or choose a template."))
        return data

    def chosen_template(self) -> MessageTemplate | None:
        pk = self.cleaned_data.get("template") if hasattr(self, "cleaned_data") else None
        return self.templates.get(pk) if pk else None


def _new_token() -> str:
    return uuid.uuid4().hex


def _initial_from(params: QueryDict, recipient: Recipient) -> dict[str, Any]:
    """The panel as it was, when it is re-drawn for another channel or template (HTMX GET)."""
    channel = params.get("channel") or ""
    if recipient.option(channel) is None:
        # SMS when the customer has a phone that can take it, else the first channel there is.
        sms = recipient.option(Channel.SMS)
        first = sms if sms and not sms.warning else None
        if first is None and recipient.options:
            first = recipient.options[0]
        channel = first.value if first else ""
    purpose = params.get("purpose") or Purpose.PERSONAL
    return {
        "token": (params.get("token") or "")[:64] or _new_token(),
        "channel": channel,
        "template": params.get("template") or "",
        "purpose": purpose if purpose in Purpose.values else Purpose.PERSONAL,
        "subject": (params.get("subject") or "")[:200],
        "body": (params.get("body") or "")[:MAX_BODY],
    }


# --- the preview ------------------------------------------------------------------------------


@dataclass
class Preview:
    subject: str = ""
    text: str = ""
    error: str = ""
    is_marketing: bool = False
    sms_label: str = ""
    sms_segments: int = 0


def _policy(customer: Customer) -> MessagingPolicy | None:
    return MessagingPolicy.objects.filter(dealer_id=customer.dealer_id).first()


def _preview(
    customer: Customer,
    *,
    channel: str,
    template: MessageTemplate | None,
    purpose: str,
    subject: str,
    body: str,
    language: str = Language.ZH_HANS,
) -> Preview:
    """What the customer would get, rendered for them, or why it cannot be rendered.

    As message_send does: a template in its own language; a typed text may use the same
    {{ variables }}, filled in the language the sender works in."""
    if template is not None:
        purpose, subject, body, language = (
            template.purpose,
            template.subject,
            template.body,
            template.language,
        )
    else:
        try:
            rendering.validate_template(body, subject)
        except ValidationError as exc:
            return Preview(error=" ".join(exc.messages), is_marketing=is_marketing_purpose(purpose))
    if "{{" in body or "{{" in subject:
        context = rendering.customer_contexts(customer.dealer_id, [customer.pk], language).get(
            customer.pk, {}
        )
        try:
            subject = rendering.render(subject, context)
            body = rendering.render(body, context)
        except rendering.VariableMissing as missing:
            return Preview(
                error=_(
                    "This cannot be sent to %(customer)s: {{ %(variable)s }} has no value for them."
                )
                % {"customer": customer.name, "variable": missing.args[0]},
                is_marketing=is_marketing_purpose(purpose),
            )
    preview = Preview(subject=subject, text=body, is_marketing=is_marketing_purpose(purpose))
    if channel == Channel.SMS and body.strip():
        policy = _policy(customer)
        signature = policy.sms_signature if policy else ""
        preview.text = sms_text(body, signature=signature, marketing=preview.is_marketing)
        length = sms_length(body, signature=signature, marketing=preview.is_marketing)
        preview.sms_label = length.label
        preview.sms_segments = length.segments
    return preview


def _form_values(form: SendForm) -> dict[str, Any]:
    """The form's current values, bound or not, as the preview needs them."""

    def value(name: str) -> str:
        raw = form[name].value()
        return "" if raw is None else str(raw)

    template_id = value("template")
    template = form.templates.get(int(template_id)) if template_id.isdigit() else None
    return {
        "channel": value("channel"),
        "template": template,
        "purpose": value("purpose") or Purpose.PERSONAL,
        "subject": value("subject"),
        "body": value("body"),
    }


# --- the views --------------------------------------------------------------------------------


def _context(request: HttpRequest, recipient: Recipient, form: SendForm, **extra: Any) -> dict:
    values = _form_values(form)
    # A typed text is filled in the sender's language (as message_send does).
    language = (
        Language.EN if getattr(request.user, "language", "") == Language.EN else Language.ZH_HANS
    )
    preview = None
    if recipient.options:
        preview = _preview(recipient.customer, language=language, **values)
    return {
        "customer": recipient.customer,
        "recipient": recipient,
        "form": form,
        "option": recipient.option(values["channel"]),
        "template": values["template"],
        "preview": preview,
        **extra,
    }


def _apply_errors(form: SendForm, exc: ValidationError) -> None:
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    for name, messages_ in errors.items():
        for message in messages_:
            form.add_error(name if name in form.fields else None, message)


@dataclass(frozen=True)
class SendNotice:
    """What became of the message, said in the panel after Send."""

    message: Message
    level: str  # a Bootstrap alert colour
    text: str


def _notice(message: Message, customer: Customer) -> SendNotice:
    now = timezone.now()
    if message.status == MessageStatus.HELD:
        return SendNotice(
            message,
            "warning",
            _("Not sent: %(reason)s It waits in the outbox until someone releases it.")
            % {"reason": message.status_reason or _("held by the frequency cap.")},
        )
    if message.status in (MessageStatus.BLOCKED, MessageStatus.FAILED, MessageStatus.UNDELIVERABLE):
        return SendNotice(
            message,
            "danger",
            _("Not sent: %(reason)s")
            % {"reason": message.status_reason or message.get_status_display()},
        )
    if message.status == MessageStatus.QUEUED and message.not_before > now + datetime.timedelta(
        minutes=1
    ):
        # Said in the dealer's time zone, where the quiet hours are.
        local = timezone.localtime(message.not_before, time_zone(customer.dealer.time_zone))
        days = (local.date() - timezone.localtime(now, local.tzinfo).date()).days
        time = local.strftime("%H:%M")
        if days == 0:
            text = _("Quiet hours: it will be sent at %(time)s.") % {"time": time}
        elif days == 1:
            text = _("Quiet hours: it will be sent tomorrow at %(time)s.") % {"time": time}
        else:
            text = _("Quiet hours: it will be sent on %(date)s at %(time)s.") % {
                "date": local.strftime("%Y-%m-%d"),
                "time": time,
            }
        return SendNotice(message, "info", text)
    return SendNotice(
        message,
        "success",
        _("Message to %(name)s: %(status)s.")
        % {
            "name": customer.name,
            "status": message.get_status_display(),
        },
    )


@staff_view(Perm.SEND_MESSAGE)
def panel(request: HttpRequest, customer_id: int) -> HttpResponse:
    """GET: the send panel (re-drawn with ?channel=…&template=… as the user changes them).
    POST: send the message; answers the panel again, fresh, with what became of it."""
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    customer = get_customer_for_user(request.user, customer_id)
    recipient = _recipient(customer)
    params = request.POST if request.method == "POST" else request.GET
    initial = _initial_from(params, recipient)
    templates = _templates(customer, initial["channel"])
    if request.method == "GET":
        form = SendForm(recipient=recipient, templates=templates, initial=initial)
        page = f"{PANEL}#panel" if request.htmx else PANEL
        return render(request, page, _context(request, recipient, form))

    form = SendForm(request.POST, recipient=recipient, templates=templates, initial=initial)
    notice = None
    if form.is_valid():
        data = form.cleaned_data
        template = form.chosen_template()
        try:
            message = services.message_send(
                actor=request.user,
                customer=customer,
                channel=data["channel"],
                purpose=data["purpose"],
                template=template,
                body="" if template else data["body"],
                subject="" if template else data["subject"],
                source_kind=Message.SourceKind.MANUAL,
                source_id=data["token"],
                request=request,
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            message.refresh_from_db()  # the job may have sent it already (on commit)
            notice = _notice(message, customer)
    if notice is None:
        if not request.htmx:
            return render(request, PANEL, _context(request, recipient, form), status=400)
        # HTMX swaps only successful answers: the panel comes back with its errors, 200.
        return render(request, f"{PANEL}#panel", _context(request, recipient, form))
    if not request.htmx:
        level = flash.WARNING if notice.level in ("warning", "danger") else flash.SUCCESS
        flash.add_message(request, level, notice.text)
        return redirect("customers:detail", customer_id=customer.pk)
    # A fresh panel (a new token: the next Send is a new message), keeping the channel.
    fresh = _initial_from(QueryDict(f"channel={form.cleaned_data['channel']}"), recipient)
    fresh_form = SendForm(recipient=recipient, templates=templates, initial=fresh)
    response = render(
        request, f"{PANEL}#panel", _context(request, recipient, fresh_form, notice=notice)
    )
    response["HX-Trigger"] = "messageSent"
    return response


@staff_view(Perm.SEND_MESSAGE)
def preview(request: HttpRequest, customer_id: int) -> HttpResponse:
    """GET with the panel's fields: the preview block alone, as the user types."""
    customer = get_customer_for_user(request.user, customer_id)
    recipient = _recipient(customer)
    initial = _initial_from(request.GET, recipient)
    form = SendForm(
        recipient=recipient, templates=_templates(customer, initial["channel"]), initial=initial
    )
    return render(request, f"{PANEL}#preview", _context(request, recipient, form))
