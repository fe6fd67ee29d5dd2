"""Which provider sends a dealer's channel: its active ProviderConfig, else the channel default.

Nothing is cached between calls: a provider is built from the configuration row read now (one
query), so an admin's change applies to the next batch. What is worth keeping between batches
(WeChat's access token) is cached by the provider itself, keyed by its credentials.

Call `provider_for` inside a dealer scope that includes the dealer (the outbox job's
`dealer_scope`): ProviderConfig is dealer-owned like everything else.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..models import ProviderConfig, ProviderKind
from ..secrets import decrypt_secret
from .base import Provider
from .configuration import ProviderSettings

# kind → "module:Class" inside this package; imported on first use, so a worker that only ever
# writes files does not import the e-mail and HTTP machinery.
PROVIDER_CLASSES: dict[str, str] = {
    ProviderKind.FILE: "file:FileProvider",
    ProviderKind.SMTP: "email:SmtpProvider",
    ProviderKind.DJANGO_EMAIL: "email:DjangoEmailProvider",
    ProviderKind.SMS_GATEWAY: "sms_gateway:SmsGatewayProvider",
    ProviderKind.WECHAT: "wechat:WeChatProvider",
    ProviderKind.PHONE_TASK: "phone_task:PhoneTaskProvider",
    ProviderKind.MAIL_EXPORT: "mail_export:MailExportProvider",
}


def provider_class(kind: str) -> type:
    try:
        module_name, class_name = PROVIDER_CLASSES[kind].split(":")
    except KeyError:
        raise ImproperlyConfigured(f"Unknown message provider kind {kind!r}.") from None
    module = import_module(f"{__package__}.{module_name}")
    return getattr(module, class_name)


def build_provider(provider_settings: ProviderSettings) -> Provider:
    return provider_class(provider_settings.kind)(provider_settings)


def provider_for_config(config: ProviderConfig) -> Provider:
    """The provider a configuration row describes, its secret decrypted."""
    return build_provider(
        ProviderSettings(
            kind=config.kind,
            channel=config.channel,
            dealer_id=config.dealer_id,
            options=dict(config.options or {}),
            secret=decrypt_secret(config.secret_encrypted),
            webhook_key=config.webhook_key,
            config_id=config.pk,
        )
    )


def default_provider(channel: str, *, dealer_id: int | None = None) -> Provider:
    """The channel's default (settings.MESSAGING_DEFAULT_PROVIDERS), with no options or secret."""
    try:
        kind = settings.MESSAGING_DEFAULT_PROVIDERS[channel]
    except KeyError:
        raise ImproperlyConfigured(
            f"No provider for channel {channel!r} in MESSAGING_DEFAULT_PROVIDERS."
        ) from None
    return build_provider(ProviderSettings(kind=kind, channel=channel, dealer_id=dealer_id))


def provider_for(dealer_id: int, channel: str) -> Provider:
    """The provider that sends `channel` for the dealer now."""
    config = (
        ProviderConfig.objects.filter(dealer_id=dealer_id, channel=channel, is_active=True)
        .only("id", "dealer_id", "channel", "kind", "options", "secret_encrypted", "webhook_key")
        .first()
    )
    if config is not None:
        return provider_for_config(config)
    return default_provider(channel, dealer_id=dealer_id)
