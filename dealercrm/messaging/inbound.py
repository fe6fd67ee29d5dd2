"""What comes back from providers: delivery receipts and customers' replies.

Both arrive through webhooks (public_views) and are replay-safe the same way: every event's key
is inserted as a WebhookEvent row first, in the same transaction as its effect; an event whose
key is already there changes nothing. Two deliveries of the same event racing each other end
with one of them failing on the unique constraint and rolling back whole; the gateway retries
it, and the retry finds the key.

Receipts move a message forward only (sent → delivered / undeliverable), never back. Replies
are stored as inbound messages on the customer's timeline; an SMS reply of T / TD / 退订 /
回T退订 withdraws SMS consent at once, any other reply becomes a task for the customer's owner.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.models import Customer, CustomerPhone
from dealercrm.customers.services import consent_set
from dealercrm.customers.validators import normalise_phone
from dealercrm.worklist.models import TaskKind
from dealercrm.worklist.services import task_create

from .models import Channel, Message, MessageQuerySet, MessageStatus, ProviderConfig, WebhookEvent
from .providers.base import InboundMessage, Receipt

logger = logging.getLogger(__name__)

# Replies that mean "stop": the Chinese gateways' convention (the marketing SMS ends 回T退订).
UNSUBSCRIBE_REPLIES = frozenset({"t", "td", "退订", "回t退订"})

# A receipt may move a message to this status only from these (forward, never back): a receipt
# for a message we had put back in the queue or failed proves an earlier attempt got through.
_RECEIPT_MAY_MOVE = {
    MessageStatus.DELIVERED: {
        MessageStatus.QUEUED,
        MessageStatus.SENDING,
        MessageStatus.SENT,
        MessageStatus.FAILED,
    },
    MessageStatus.UNDELIVERABLE: {MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT},
}


def receipts_apply(*, config: ProviderConfig, receipts: Sequence[Receipt]) -> int:
    """Apply delivery reports of one provider configuration. Returns how many messages changed."""
    with dealer_scope(config.dealer_id), transaction.atomic():
        fresh = _first_seen(config, receipts)
        if not fresh:
            return 0
        provider_ids = {r.provider_message_id for r in fresh if r.provider_message_id}
        keys = {r.idempotency_key for r in fresh if r.idempotency_key}
        messages = list(
            Message.objects.filter(
                dealer_id=config.dealer_id,
                channel=config.channel,
                direction=Message.Direction.OUTBOUND,
            )
            .filter(Q(provider_message_id__in=provider_ids) | Q(idempotency_key__in=keys))
            # A worker writing "sent" at the same moment waits for us (and then, finding the row
            # no longer "sending", leaves the receipt's status alone).
            .select_for_update(of=("self",))
        )
        by_provider_id = {m.provider_message_id: m for m in messages if m.provider_message_id}
        by_key = {m.idempotency_key: m for m in messages if m.idempotency_key}
        now = timezone.now()
        changed: dict[int, Message] = {}
        for receipt in fresh:
            message = by_provider_id.get(receipt.provider_message_id) or by_key.get(
                receipt.idempotency_key
            )
            if message is None:
                logger.info("Receipt %s matches no message of %s", receipt.event_key, config.pk)
                continue
            if _apply_receipt(message, receipt, now=now):
                changed[message.pk] = message
        if changed:
            Message.objects.bulk_update(
                list(changed.values()),
                [
                    "status",
                    "status_reason",
                    "sent_at",
                    "delivered_at",
                    "provider_message_id",
                    "status_changed_at",
                ],
            )
        return len(changed)


def _apply_receipt(message: Message, receipt: Receipt, *, now) -> bool:  # noqa: ANN001
    target = MessageStatus.DELIVERED if receipt.delivered else MessageStatus.UNDELIVERABLE
    if message.status not in _RECEIPT_MAY_MOVE[target]:
        return False
    at = min(receipt.at, now) if receipt.at else now
    message.status = target
    message.status_changed_at = now
    message.sent_at = message.sent_at or at
    if receipt.provider_message_id and not message.provider_message_id:
        message.provider_message_id = receipt.provider_message_id[:100]
    if receipt.delivered:
        message.delivered_at = at
        message.status_reason = ""
    else:
        message.status_reason = (receipt.reason or _("The provider could not deliver it."))[:300]
    return True


def inbound_receive(*, config: ProviderConfig, messages: Sequence[InboundMessage]) -> list[Message]:
    """Store replies as inbound messages matched to the dealer's customers; act on each.

    Returns the messages stored now (a replayed event stores nothing and is not returned).
    """
    with dealer_scope(config.dealer_id), transaction.atomic():
        fresh = _first_seen(config, messages)
        if not fresh:
            return []
        now = timezone.now()
        rows = []
        for item in fresh:
            channel = item.channel or config.channel
            address = _normalised_address(channel, item.from_address)
            customer_id, replied_to = _match(config.dealer_id, channel, address, item.in_reply_to)
            rows.append(
                Message(
                    dealer_id=config.dealer_id,
                    customer_id=customer_id,
                    direction=Message.Direction.INBOUND,
                    channel=channel,
                    from_address=address[:300],
                    subject=item.subject[:200],
                    body=item.body,
                    source_kind=Message.SourceKind.REPLY,
                    source_id=_short_key(item.event_key, 64),
                    status=MessageStatus.RECEIVED,
                    provider=config.kind,
                    in_reply_to_id=replied_to,
                    created_at=min(item.at, now) if item.at else now,
                    status_changed_at=now,
                )
            )
        created = Message.objects.bulk_create(rows)
        customers = Customer.objects.in_bulk({m.customer_id for m in created if m.customer_id})
        for message in created:
            customer = customers.get(message.customer_id)
            if customer is None:
                continue  # an unknown sender: listed for staff (unmatched_inbound_messages)
            if message.channel == Channel.SMS and is_unsubscribe_reply(message.body):
                _withdraw_sms_consent(message, customer)
            else:
                _reply_task(message, customer)
        return created


def is_unsubscribe_reply(text: str) -> bool:
    """T, TD, 退订 or 回T退订, trimmed, in any case, full-width letters too (ＴＤ)."""
    return unicodedata.normalize("NFKC", text or "").strip().lower() in UNSUBSCRIBE_REPLIES


def unmatched_inbound_messages() -> MessageQuerySet:
    """Replies no customer could be matched to, newest first (in the current dealer scope), for
    staff to attach to a customer or ignore."""
    return (
        Message.objects.inbound()
        .filter(status=MessageStatus.RECEIVED, customer__isnull=True)
        .order_by("-created_at")
    )


# --- helpers ----------------------------------------------------------------------------------


def _short_key(key: str, length: int) -> str:
    """The event key as stored: long keys are hashed rather than cut, so two never collide."""
    if len(key) <= length:
        return key
    return hashlib.sha256(key.encode()).hexdigest()[:length]


def _first_seen(config: ProviderConfig, events: Iterable[Receipt | InboundMessage]) -> list:
    """The events not processed before (first of each key), their keys recorded now."""
    unique: dict[str, Receipt | InboundMessage] = {}
    for event in events:
        unique.setdefault(_short_key(event.event_key, 200), event)
    if not unique:
        return []
    seen = set(
        WebhookEvent.objects.filter(
            dealer_id=config.dealer_id, provider_config_id=config.pk, event_key__in=list(unique)
        ).values_list("event_key", flat=True)
    )
    fresh = {key: event for key, event in unique.items() if key not in seen}
    WebhookEvent.objects.bulk_create(
        [
            WebhookEvent(dealer_id=config.dealer_id, provider_config_id=config.pk, event_key=key)
            for key in fresh
        ]
    )
    return list(fresh.values())


def _normalised_address(channel: str, raw: str) -> str:
    raw = (raw or "").strip()
    if channel in (Channel.SMS, Channel.PHONE):
        try:
            return normalise_phone(raw)
        except ValidationError:
            return raw
    if channel == Channel.EMAIL:
        return raw.lower()
    return raw


def _match(
    dealer_id: int, channel: str, address: str, in_reply_to: str
) -> tuple[int | None, int | None]:
    """(customer id, id of the outbound message this answers) for one reply."""
    outbound = Message.objects.filter(dealer_id=dealer_id, direction=Message.Direction.OUTBOUND)
    if in_reply_to:
        # The provider told us which of our messages it answers (e-mail In-Reply-To, …).
        ids = {in_reply_to, in_reply_to.strip("<>"), f"<{in_reply_to.strip('<>')}>"}
        answered = (
            outbound.filter(provider_message_id__in=ids, customer__isnull=False)
            .values_list("customer_id", "id")
            .first()
        )
        if answered:
            return answered
    candidates = _customers_at(dealer_id, channel, address)
    if not candidates:
        return None, None
    last = (
        outbound.filter(customer_id__in=candidates, channel=channel, to_address=address)
        .order_by("-created_at")
        .values_list("customer_id", "id")
        .first()
    )
    if last:
        return last
    # Several customers share the address and none was written to from it: the latest updated.
    return candidates[0], None


def _customers_at(dealer_id: int, channel: str, address: str) -> list[int]:
    if not address:
        return []
    customers = Customer.objects.filter(dealer_id=dealer_id, is_deleted=False)
    if channel in (Channel.SMS, Channel.PHONE):
        ids = CustomerPhone.objects.filter(dealer_id=dealer_id, number=address).values(
            "customer_id"
        )
        customers = customers.filter(pk__in=ids)
    elif channel == Channel.EMAIL:
        customers = customers.annotate(email_lower=Lower("email")).filter(email_lower=address)
    elif channel == Channel.WECHAT:
        customers = customers.filter(wechat_id=address)
    else:
        return []
    return list(customers.order_by("-updated_at").values_list("pk", flat=True)[:20])


def _withdraw_sms_consent(message: Message, customer: Customer) -> None:
    """The phone's owner said stop: every customer of the dealer on that number is withdrawn."""
    text = message.body.strip()
    source = f"SMS reply {text}"[:100]
    holders = [customer]
    if message.from_address:
        holders += list(
            Customer.objects.filter(
                dealer_id=message.dealer_id,
                is_deleted=False,
                pk__in=CustomerPhone.objects.filter(
                    dealer_id=message.dealer_id, number=message.from_address
                ).values("customer_id"),
            ).exclude(pk=customer.pk)
        )
    for holder in holders:
        consent_set(actor=None, customer=holder, channel=Channel.SMS, granted=False, source=source)


def _reply_task(message: Message, customer: Customer) -> None:
    body = message.body
    if message.subject:
        body = f"{message.subject}\n\n{body}"
    task_create(
        dealer_id=message.dealer_id,
        customer_id=customer.pk,
        kind=TaskKind.REPLY,
        title=_("Answer the reply of %(customer)s (%(channel)s)")
        % {"customer": customer.name, "channel": message.get_channel_display()},
        body=body,
        assignee_id=customer.assigned_consultant_id,
        source_kind="messaging.message",
        source_id=str(message.pk),
    )
