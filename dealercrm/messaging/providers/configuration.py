"""What every concrete provider shares: its settings, the do-nothing defaults, signed callbacks.

A provider is built from a `ProviderSettings` (plain values: the dealer's ProviderConfig with its
secret decrypted, or a channel default), never from the ORM row itself, so a provider object can
be handed to a worker thread and holds nothing that goes stale with the database.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from .base import InboundMessage, OutgoingMessage, Receipt, SendResult, WebhookRejected

# How old a signed callback may be. Long enough for a gateway's own retry, short enough that a
# captured request cannot be replayed later (replays inside the window meet WebhookEvent).
CALLBACK_MAX_AGE_SECONDS = 300

TIMESTAMP_HEADER = "X-DealerCRM-Timestamp"
SIGNATURE_HEADER = "X-DealerCRM-Signature"


@dataclass(frozen=True)
class ProviderSettings:
    """A provider's configuration in plain values."""

    kind: str
    channel: str
    dealer_id: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    secret: str = ""
    webhook_key: str = ""
    config_id: int | None = None  # None: the channel's default from settings

    def option(self, name: str, default: Any = None) -> Any:
        value = self.options.get(name)
        return default if value in (None, "") else value


class BaseProvider:
    """Defaults for the parts of the Provider protocol a channel does not have."""

    kind = ""
    supports_lookup = False
    # False only for direct mail, whose messages leave through the address-list export.
    dispatched_by_outbox = True

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        raise NotImplementedError

    def lookup(self, message: OutgoingMessage) -> SendResult | None:
        return None

    def verify_webhook(self, request: HttpRequest) -> None:
        raise WebhookRejected(_("This provider takes no callbacks."))

    def parse_receipts(self, request: HttpRequest) -> list[Receipt]:
        return []

    def parse_inbound(self, request: HttpRequest) -> list[InboundMessage]:
        return []


def callback_signature(key: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256(key, timestamp + "." + body): what a signed callback carries."""
    return hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signed_callback(request: HttpRequest, key: str) -> None:
    """Raise WebhookRejected unless the request carries a valid, fresh signature made with `key`.

    The signature covers the timestamp, so an old request cannot be made fresh by changing it.
    """
    if not key:
        # Nothing to check against: refuse rather than accept anything (fails closed).
        raise WebhookRejected(_("No callback secret is configured for this provider."))
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not signature:
        raise WebhookRejected(_("The callback is not signed."))
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookRejected(_("The callback's timestamp is not a number.")) from None
    expected = callback_signature(key, timestamp, request.body)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise WebhookRejected(_("The callback's signature is wrong."))
    age = timezone.now().timestamp() - sent_at
    if abs(age) > CALLBACK_MAX_AGE_SECONDS:
        raise WebhookRejected(_("The callback is too old (or from the future)."))
