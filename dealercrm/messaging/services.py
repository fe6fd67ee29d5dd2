"""Writes of the messaging app: queue messages (one, or a campaign's worth set-based), templates,
the dealer's policy and providers, cancel and release.

Queueing applies every rule before a row is written as "queued": the template renders fully for
the customer (or the customer is reported with the missing variable and nothing is written),
the address exists and can receive the channel (a landline gets no SMS), marketing needs the
channel's consent ("blocked" row otherwise), the frequency cap ("held" row, reported, kept),
quiet hours (not_before moved to the window's opening). A row's idempotency key
(source, customer, channel) makes queueing the same thing twice return the first row.

THIS FILE IS A CONTRACT FIRST: the signatures below are what views, API, jobs and other apps
call. Implementations are filled in behind them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from dealercrm.core.models import User
from dealercrm.customers.models import Customer

from .models import Campaign, Message, MessageTemplate, MessagingPolicy, ProviderConfig


@dataclass(frozen=True)
class MissingVariable:
    """A customer the template cannot render for, and the variable that has no value."""

    customer_id: int
    customer_name: str
    variable: str


@dataclass
class QueueReport:
    """What a queueing did, by outcome. Every customer asked for is in exactly one list."""

    queued: list[int] = field(default_factory=list)  # message ids
    held_by_cap: list[int] = field(default_factory=list)  # message ids (status held)
    no_consent: list[int] = field(default_factory=list)  # message ids (status blocked)
    no_address: list[int] = field(default_factory=list)  # customer ids: no phone/e-mail/openid …
    undeliverable: list[int] = field(default_factory=list)  # message ids (landline for SMS …)
    missing_variable: list[MissingVariable] = field(default_factory=list)  # nothing written
    already_queued: list[int] = field(default_factory=list)  # message ids found by the key
    deferred_by_quiet_hours: int = 0  # how many of `queued` wait for the window to open

    def counts(self) -> dict[str, int]:
        return {
            "queued": len(self.queued),
            "held_by_cap": len(self.held_by_cap),
            "no_consent": len(self.no_consent),
            "no_address": len(self.no_address),
            "undeliverable": len(self.undeliverable),
            "missing_variable": len(self.missing_variable),
            "already_queued": len(self.already_queued),
            "deferred_by_quiet_hours": self.deferred_by_quiet_hours,
        }


def message_send(
    *,
    actor: User | None,
    customer: Customer,
    channel: str,
    purpose: str,
    template: MessageTemplate | None = None,
    body: str = "",
    subject: str = "",
    source_kind: str = Message.SourceKind.MANUAL,
    source_id: str = "",
    extra: Mapping[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> Message:
    """Queue one message to one customer (the 360 page, the API, other apps' jobs).

    Either `template` (rendered for the customer with `extra` variables) or a literal `body`.
    Raises ValidationError keyed by field ("body" naming a missing variable, "channel" for no
    address / landline / no consent for marketing) and writes nothing in that case; a capped
    marketing message is written "held" and returned. Same (source_kind, source_id, customer,
    channel) again returns the existing row. For manual messages pass a fresh `source_id` per
    submission (the form's token), so a double click sends once.
    """
    raise NotImplementedError


def messages_queue_bulk(
    *,
    dealer_id: int,
    customer_ids: Sequence[int],
    template: MessageTemplate,
    source_kind: str,
    source_id: str,
    actor: User | None = None,
    campaign: Campaign | None = None,
    extra_by_customer: Mapping[int, Mapping[str, Any]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    now: datetime.datetime | None = None,
) -> QueueReport:
    """Queue `template` to many customers of one dealer, set-based (campaigns, care rules).

    Reads customers, addresses, consents and cap counts in a few queries per batch and writes
    rows with bulk inserts; never a Python loop of ORM saves. `progress(done, total)` is called
    after each batch.
    """
    raise NotImplementedError


def template_create(*, actor: User, dealer_id: int, **fields: Any) -> MessageTemplate:
    """Create a template; unknown {{ variables }} are refused naming them (field "body")."""
    raise NotImplementedError


def template_update(*, actor: User, template: MessageTemplate, **fields: Any) -> MessageTemplate:
    raise NotImplementedError


def policy_for_dealer(dealer_id: int) -> MessagingPolicy:
    """The dealer's policy row, created with the defaults the first time it is asked for."""
    raise NotImplementedError


def policy_update(*, actor: User, dealer_id: int, **fields: Any) -> MessagingPolicy:
    raise NotImplementedError


def provider_config_set(
    *,
    actor: User,
    dealer_id: int,
    channel: str,
    kind: str,
    options: Mapping[str, Any],
    secret: str | None = None,
) -> ProviderConfig:
    """Set the provider of one channel; `secret` None keeps the stored one."""
    raise NotImplementedError


def campaign_create(
    *, actor: User, dealer_id: int, name: str, template: MessageTemplate, audience: Mapping[str, Any]
) -> Campaign:
    raise NotImplementedError


def campaign_queue(*, campaign_id: int, dealer_id: int) -> QueueReport:
    """Queue a campaign's messages (run by a job; updates campaign.progress as it goes)."""
    raise NotImplementedError


def message_cancel(*, actor: User, message: Message, request: HttpRequest | None = None) -> Message:
    """Cancel a queued or held message (nothing else can be cancelled)."""
    raise NotImplementedError


def message_release(*, actor: User, message: Message, request: HttpRequest | None = None) -> Message:
    """Queue a held or blocked message again, re-checking consent and the cap now."""
    raise NotImplementedError
