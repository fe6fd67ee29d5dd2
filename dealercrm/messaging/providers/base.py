"""The provider interface: how the outbox hands messages to a channel, and reads what comes back.

A provider is built from a dealer's ProviderConfig (or the default of its channel) by
`providers.provider_for(dealer_id, channel)`. The outbox calls `send` with a batch of messages
already marked "sending"; the provider answers one SendResult per message, in order, and never
raises for one message's problem (a bad number, a rejected address): that is a result.
An exception from `send` means the whole batch's fate is unknown (connection lost); the outbox
then treats every message of the batch as "unknown" and asks `lookup` later.

Every message carries its idempotency key; a provider passes it to the gateway as the client's
own reference (OutId, Message-ID …), so that `lookup` can answer "did you already take this
one?" after a crash between the gateway's answer and our status write.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.http import HttpRequest


@dataclass(frozen=True)
class OutgoingMessage:
    """What a provider needs of one message (plain values, no ORM object)."""

    message_id: int
    dealer_id: int
    idempotency_key: str
    channel: str
    to_address: str
    subject: str
    body: str
    params: dict[str, Any]
    template_code: str = ""
    signature: str = ""  # SMS 【signature】 name, without brackets
    unsubscribe_url: str = ""  # e-mail List-Unsubscribe and footer link
    customer_id: int | None = None
    customer_name: str = ""
    assignee_id: int | None = None  # phone tasks: who should call


class Outcome:
    SENT = "sent"  # the provider took it; a receipt may follow
    DELIVERED = "delivered"  # the provider knows it arrived (file, phone task created …)
    RETRY = "retry"  # a passing problem (time-out, rate limit): try again later
    FAILED = "failed"  # a lasting problem on our side or the provider's (bad credentials)
    UNDELIVERABLE = "undeliverable"  # this recipient cannot get it (landline, bounced address)


@dataclass(frozen=True)
class SendResult:
    message_id: int
    outcome: str  # one of Outcome
    provider_message_id: str = ""
    reason: str = ""  # shown to the sender when the outcome is not SENT/DELIVERED


@dataclass(frozen=True)
class Receipt:
    """A delivery report: the provider's id (or our idempotency key) and what became of it."""

    event_key: str  # unique per report, for replay protection
    provider_message_id: str = ""
    idempotency_key: str = ""
    delivered: bool = True
    reason: str = ""
    at: datetime.datetime | None = None


@dataclass(frozen=True)
class InboundMessage:
    """A reply from a customer: SMS up-link, e-mail reply, WeChat message."""

    event_key: str
    channel: str
    from_address: str  # phone E.164, e-mail address or openid
    body: str
    subject: str = ""
    in_reply_to: str = ""  # the provider id or Message-ID of our message it answers, if known
    at: datetime.datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class WebhookRejected(Exception):  # noqa: N818 — reads as what happened
    """A webhook call that fails its signature or token check, or is stale. Answered with 403."""


class Provider(Protocol):
    kind: str
    # Whether lookup() can tell if a message was taken; without it, a message found "sending"
    # after a crash is failed with a reason rather than risked twice.
    supports_lookup: bool

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]: ...

    def lookup(self, message: OutgoingMessage) -> SendResult | None:
        """What the provider knows of this message: None when it never got it."""
        ...

    def verify_webhook(self, request: HttpRequest) -> None:
        """Raise WebhookRejected unless the request is really from this provider and fresh."""
        ...

    def parse_receipts(self, request: HttpRequest) -> list[Receipt]: ...

    def parse_inbound(self, request: HttpRequest) -> list[InboundMessage]: ...
