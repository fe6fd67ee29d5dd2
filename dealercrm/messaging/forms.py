"""Forms of the messaging pages. They convert what was typed; the services validate and save."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from dealercrm.core.forms import StyledForm, style_widgets
from dealercrm.core.models import Dealer
from dealercrm.customers.models import LifecycleStage

from .models import (
    Channel,
    Language,
    MessageTemplate,
    MessagingPolicy,
    ProviderConfig,
    ProviderKind,
    Purpose,
)

_BLANK = [("", "—")]


def _dealer_field(dealers: list[Dealer]) -> forms.ModelChoiceField:
    # Users without a dealer of their own (system administrators) choose one.
    return forms.ModelChoiceField(
        label=_("Dealer"), queryset=Dealer.objects.filter(pk__in=[d.pk for d in dealers])
    )


# --- templates ----------------------------------------------------------------------------------

TEMPLATE_FIELDS = (
    "name",
    "purpose",
    "channel",
    "language",
    "subject",
    "body",
    "provider_template_code",
    "is_active",
)


class TemplateForm(StyledForm):
    name = forms.CharField(label=_("Template name"), max_length=100)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Purpose.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.SMS)
    language = forms.ChoiceField(
        label=_("Language"), choices=Language.choices, initial=Language.ZH_HANS
    )
    subject = forms.CharField(
        label=_("Subject"),
        max_length=200,
        required=False,
        help_text=_("E-mail subject or WeChat title; SMS has none."),
    )
    body = forms.CharField(
        label=_("Text"),
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=5000,
        help_text=_("Variables are written {{ name }}; pick them from the list."),
    )
    provider_template_code = forms.CharField(
        label=_("Provider template code"),
        max_length=64,
        required=False,
        help_text=_("The code the SMS gateway or WeChat registered this text under."),
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, dealers: list[Dealer] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if dealers:
            self.fields["dealer"] = _dealer_field(dealers)
            style_widgets(self)

    @staticmethod
    def initial_for(template: MessageTemplate) -> dict[str, Any]:
        return {name: getattr(template, name) for name in TEMPLATE_FIELDS}

    def service_kwargs(self) -> dict[str, Any]:
        return {name: self.cleaned_data.get(name) for name in TEMPLATE_FIELDS}


# --- campaigns ----------------------------------------------------------------------------------


class CampaignForm(StyledForm):
    name = forms.CharField(label=_("Campaign name"), max_length=100)
    template = forms.ModelChoiceField(label=_("Template"), queryset=None)
    tags = forms.MultipleChoiceField(
        label=_("Customers with any of these tags"),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    lifecycle_stages = forms.MultipleChoiceField(
        label=_("Customers in any of these lifecycle stages"),
        choices=LifecycleStage.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )

    def __init__(
        self,
        *args: Any,
        templates: list[MessageTemplate],
        tag_names: list[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = MessageTemplate.objects.filter(
            pk__in=[t.pk for t in templates]
        )
        labels = {t.pk: t for t in templates}
        self.fields["template"].label_from_instance = lambda t: _template_label(labels.get(t.pk, t))
        self.fields["tags"].choices = [(name, name) for name in tag_names]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("tags") and not data.get("lifecycle_stages"):
            # A campaign to "everyone" by a forgotten filter is the mistake that cannot be undone.
            raise forms.ValidationError(_("Choose at least one tag or lifecycle stage."))
        return data

    def audience(self) -> dict[str, list[str]]:
        return {
            "tags": list(self.cleaned_data.get("tags") or []),
            "lifecycle_stages": list(self.cleaned_data.get("lifecycle_stages") or []),
        }


def _template_label(template: MessageTemplate) -> str:
    return f"{template.name} · {template.get_channel_display()} · {template.get_language_display()}"


# --- settings -----------------------------------------------------------------------------------


class PolicyForm(StyledForm):
    quiet_start = forms.TimeField(
        label=_("Quiet hours start"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    quiet_end = forms.TimeField(
        label=_("Quiet hours end"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    quiet_channels = forms.MultipleChoiceField(
        label=_("Channels kept quiet"),
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    cap_count = forms.IntegerField(
        label=_("Marketing messages at most"), min_value=1, max_value=100
    )
    cap_days = forms.IntegerField(label=_("Per number of days"), min_value=1, max_value=365)
    sms_signature = forms.CharField(
        label=_("SMS signature"),
        max_length=20,
        required=False,
        help_text=_("The name in 【】 before every SMS, as registered with the gateway."),
    )

    @staticmethod
    def initial_for(policy: MessagingPolicy) -> dict[str, Any]:
        return {
            "quiet_start": policy.quiet_start,
            "quiet_end": policy.quiet_end,
            "quiet_channels": [c for c in policy.quiet_channels.split(",") if c],
            "cap_count": policy.cap_count,
            "cap_days": policy.cap_days,
            "sms_signature": policy.sms_signature,
        }

    def clean_sms_signature(self) -> str:
        # People type the brackets too; the signature is stored without them.
        return self.cleaned_data["sms_signature"].strip().strip("【】[]").strip()

    def service_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "quiet_start": d["quiet_start"],
            "quiet_end": d["quiet_end"],
            "quiet_channels": ",".join(c for c in Channel.values if c in d["quiet_channels"]),
            "cap_count": d["cap_count"],
            "cap_days": d["cap_days"],
            "sms_signature": d["sms_signature"],
        }


@dataclass(frozen=True)
class OptionField:
    """One plain setting of a provider kind (ProviderConfig.options[name])."""

    name: str
    label: Any
    kind: str = "text"  # text, int, bool, url, email
    help_text: Any = ""


# The settings each provider kind takes (the providers read the same names), and which kinds can
# carry which channel. The secret (password, access key secret, app secret) is separate and
# never shown back.
PROVIDER_OPTIONS: dict[str, tuple[OptionField, ...]] = {
    ProviderKind.FILE: (),
    ProviderKind.SMTP: (
        OptionField("host", _("SMTP server")),
        OptionField("port", _("Port"), "int"),
        OptionField("username", _("User name")),
        OptionField("use_tls", _("STARTTLS"), "bool"),
        OptionField("use_ssl", _("SSL/TLS"), "bool"),
        OptionField("from_email", _("Sender address"), "email"),
        OptionField("from_name", _("Sender name")),
        OptionField("reply_to", _("Replies to"), "email"),
    ),
    ProviderKind.DJANGO_EMAIL: (
        OptionField("from_email", _("Sender address"), "email"),
        OptionField("from_name", _("Sender name")),
        OptionField("reply_to", _("Replies to"), "email"),
    ),
    ProviderKind.SMS_GATEWAY: (
        OptionField("endpoint", _("Gateway address"), "url"),
        OptionField("access_key_id", _("AccessKey ID")),
        OptionField(
            "sign_name",
            _("Signature name"),
            help_text=_("Empty: the SMS signature of the messaging settings."),
        ),
        OptionField(
            "free_text_template_code",
            _("Template code for texts written by hand"),
            help_text=_("The gateway's code of a template that takes the whole text."),
        ),
    ),
    ProviderKind.WECHAT: (
        OptionField("api_base", _("API address"), "url", _("Empty: https://api.weixin.qq.com")),
        OptionField("appid", _("AppID")),
        OptionField("token", _("Server token"), help_text=_("WeChat signs its pushes with it.")),
        OptionField("template_id", _("Default template id")),
        OptionField("url", _("Default link"), "url"),
    ),
    ProviderKind.PHONE_TASK: (),
    ProviderKind.MAIL_EXPORT: (),
}
SECRET_LABELS: dict[str, Any] = {
    ProviderKind.SMTP: _("Password"),
    ProviderKind.SMS_GATEWAY: _("AccessKey secret"),
    ProviderKind.WECHAT: _("AppSecret"),
}
CHANNEL_KINDS: dict[str, tuple[str, ...]] = {
    Channel.SMS: (ProviderKind.FILE, ProviderKind.SMS_GATEWAY),
    Channel.EMAIL: (ProviderKind.FILE, ProviderKind.SMTP, ProviderKind.DJANGO_EMAIL),
    Channel.WECHAT: (ProviderKind.FILE, ProviderKind.WECHAT),
    Channel.PHONE: (ProviderKind.PHONE_TASK,),
    Channel.MAIL: (ProviderKind.MAIL_EXPORT,),
}


def _option_form_field(option: OptionField) -> forms.Field:
    common = {"label": option.label, "required": False, "help_text": option.help_text}
    if option.kind == "int":
        return forms.IntegerField(min_value=1, max_value=65535, **common)
    if option.kind == "bool":
        return forms.BooleanField(**common)
    if option.kind == "url":
        return forms.URLField(max_length=300, assume_scheme="https", **common)
    if option.kind == "email":
        return forms.EmailField(max_length=200, **common)
    return forms.CharField(max_length=200, **common)


class ProviderForm(StyledForm):
    """One channel's provider: its kind, the kind's settings and its secret.

    Every kind's settings are fields named `<kind>__<option>`; only the chosen kind's are saved.
    """

    kind = forms.ChoiceField(label=_("Provider"))
    secret = forms.CharField(
        label=_("Secret"),
        required=False,
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the one stored."),
    )

    def __init__(self, *args: Any, channel: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.channel = channel
        kinds = CHANNEL_KINDS.get(channel, ())
        self.fields["kind"].choices = [(k, ProviderKind(k).label) for k in kinds]
        for kind in kinds:
            for option in PROVIDER_OPTIONS.get(kind, ()):
                self.fields[f"{kind}__{option.name}"] = _option_form_field(option)
        style_widgets(self)

    @staticmethod
    def initial_for(config: ProviderConfig | None, default_kind: str) -> dict[str, Any]:
        if config is None:
            return {"kind": default_kind}
        initial: dict[str, Any] = {"kind": config.kind}
        for option in PROVIDER_OPTIONS.get(config.kind, ()):
            initial[f"{config.kind}__{option.name}"] = (config.options or {}).get(option.name)
        return initial

    def option_fields(self) -> list[tuple[str, list[forms.BoundField]]]:
        """(kind, its bound setting fields) for the template, one group per kind."""
        return [
            (kind, [self[f"{kind}__{option.name}"] for option in PROVIDER_OPTIONS.get(kind, ())])
            for kind in CHANNEL_KINDS.get(self.channel, ())
        ]

    def options(self) -> dict[str, Any]:
        kind = self.cleaned_data["kind"]
        values: dict[str, Any] = {}
        for option in PROVIDER_OPTIONS.get(kind, ()):
            value = self.cleaned_data.get(f"{kind}__{option.name}")
            if value not in (None, ""):
                values[option.name] = value
        return values

    def new_secret(self) -> str | None:
        """The secret typed, or None to keep the stored one (the field is never filled back)."""
        return self.cleaned_data.get("secret") or None


# --- direct mail --------------------------------------------------------------------------------


class MailExportForm(forms.Form):
    format = forms.ChoiceField(
        choices=[("xlsx", "XLSX"), ("csv", "CSV")], initial="xlsx", required=False
    )
    # A campaign id, "none" for messages of no campaign, empty for everything queued.
    campaign = forms.CharField(required=False, max_length=20)

    def clean_campaign(self) -> int | str | None:
        value = (self.cleaned_data.get("campaign") or "").strip()
        if not value:
            return None
        if value == "none":
            return "none"
        try:
            return int(value)
        except ValueError as exc:
            raise forms.ValidationError(_("Unknown campaign.")) from exc
