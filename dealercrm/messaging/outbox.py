"""The outbox engine: hand queued messages to their providers, exactly once.

A worker claims a batch of due rows (status "queued", `not_before` passed) and marks them
"sending" in one short transaction, so two workers never take the same row:

- PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED` then an UPDATE, in one transaction; a second
  worker skips the rows the first has locked and takes the next ones, without waiting.
- SQLite: the same code, but `select_for_update` is a no-op there; the transaction is what
  serialises workers, because the database is configured with `transaction_mode="IMMEDIATE"`
  (config/settings/base.py): BEGIN takes the single write lock, so a second worker's claim
  starts only after the first one's committed, and no longer sees those rows as queued.

The claimed rows are grouped by (dealer, channel), each group goes to `provider_for(...).send`
as one batch, and the results are written back set-based, one UPDATE per outcome (plus one
bulk update of the per-message provider ids and reasons). Nothing is sent while a transaction
is open.

Exactly once: every message carries its idempotency key to the provider (SMS OutId, e-mail
Message-ID …). If the worker dies between the provider's answer and the status write, the row
stays "sending"; `recover_stuck` later asks the provider (`lookup`) whether it took the message
and writes "sent" — or puts it back in the queue if it never arrived. A provider that cannot
answer that question gets the message failed with a reason the sender sees, rather than a
second copy sent to the customer.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import signal
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.models import Consent

from .models import Channel, Message, MessageStatus, MessagingPolicy
from .providers.base import Outcome, OutgoingMessage, Provider, SendResult

logger = logging.getLogger(__name__)

# What a worker reads of a claimed row to build its OutgoingMessage (one query, no ORM objects).
_ROW_FIELDS = (
    "id",
    "dealer_id",
    "channel",
    "customer_id",
    "is_marketing",
    "attempts",
    "idempotency_key",
    "to_address",
    "subject",
    "body",
    "params",
    "template__provider_template_code",
    "customer__name",
    "customer__assigned_consultant_id",
)

# A message left "sending" whose provider cannot be asked (or keeps failing to answer) for this
# long is given up: it is failed with a reason rather than risked twice.
_LOOKUP_GIVE_UP_AFTER = datetime.timedelta(days=1)

Row = dict[str, Any]


def _ids(ids: Iterable[int]) -> RawSQL:
    """The right side of `id IN (…)` with the whole list as ONE query parameter.

    A batch's 500 ids as 500 parameters cost Django more time to prepare than the database
    takes to run the statement; as one array (PostgreSQL) or one JSON text (SQLite's json_each)
    they cost nothing. Both read the list as a set, so the planner uses the primary key.
    """
    values = [int(i) for i in ids]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", [values])
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(values)])


def crash_point(name: str) -> None:
    """Test instrumentation: kill this process here when DEALERCRM_CRASH_AT names this point.

    The kill-and-retry test starts a real worker with DEALERCRM_CRASH_AT=after_provider_send,
    so it dies by SIGKILL between the provider's answer and our status write — the worst moment
    for "never send twice". Unset (always, outside that test) it costs one dictionary look-up.
    """
    if os.environ.get("DEALERCRM_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def dispatch_due(*, limit: int | None = None, now: datetime.datetime | None = None) -> int:
    """Claim up to `limit` due messages of every dealer, send them, write what happened.

    Returns how many rows were claimed (sent, failed, retried or blocked alike); fewer than
    `limit` means the queue is empty for now. A network job: it reads every dealer's queue.
    """
    limit = limit or settings.MESSAGING_BATCH_SIZE
    now = now or timezone.now()
    with dealer_scope(None):
        rows = _claim_due(limit=limit, now=now)
        if not rows:
            return 0
        sendable = [r for r in rows if r["status"] == MessageStatus.SENDING]
        for (dealer_id, channel), group in _by_dealer_and_channel(sendable).items():
            _send_group(dealer_id=dealer_id, channel=channel, rows=group, now=now)
    return len(rows)


def recover_stuck(
    *,
    older_than: datetime.timedelta = datetime.timedelta(minutes=5),
    now: datetime.datetime | None = None,
    limit: int | None = None,
) -> int:
    """Settle messages left "sending" by a worker that died (or a provider that raised).

    Providers that can look a message up by its idempotency key are asked: taken → "sent" with
    the provider's id; never arrived → queued again. Others → "failed", with a reason saying it
    was not resent on purpose. Returns how many messages were settled.
    """
    limit = limit or settings.MESSAGING_BATCH_SIZE
    now = now or timezone.now()
    settled = 0
    with dealer_scope(None):
        rows = _claim_stuck(cutoff=now - older_than, limit=limit, now=now)
        for (dealer_id, channel), group in _by_dealer_and_channel(rows).items():
            settled += _recover_group(dealer_id=dealer_id, channel=channel, rows=group, now=now)
    return settled


# --- claiming ---------------------------------------------------------------------------------


def _claim_due(*, limit: int, now: datetime.datetime) -> list[Row]:
    """Take due rows for this worker: "sending" (or "blocked" if consent went meanwhile)."""
    with transaction.atomic():
        candidates = (
            Message.objects.unscoped()
            .filter(status=MessageStatus.QUEUED, not_before__lte=now)
            # Direct mail is never dispatched: its address list is exported and marked there.
            .exclude(channel=Channel.MAIL)
            .order_by("not_before")
            # `of=("self",)`: lock the message rows only, not the joined customer and template.
            # Ignored by SQLite, where the IMMEDIATE transaction does the serialising.
            .select_for_update(skip_locked=True, of=("self",))
            .values(*_ROW_FIELDS)[:limit]
        )
        rows = list(candidates)
        if not rows:
            return []
        withdrawn = _without_consent(rows)
        claimed_ids = []
        for row in rows:
            if row["id"] in withdrawn:
                row["status"] = MessageStatus.BLOCKED
            else:
                row["status"] = MessageStatus.SENDING
                row["attempts"] += 1
                claimed_ids.append(row["id"])
        if withdrawn:
            Message.objects.unscoped().filter(
                id__in=_ids(withdrawn), status=MessageStatus.QUEUED
            ).update(
                status=MessageStatus.BLOCKED,
                status_reason=_("Not sent: the customer withdrew consent for this channel."),
                status_changed_at=now,
            )
        if claimed_ids:
            Message.objects.unscoped().filter(
                id__in=_ids(claimed_ids), status=MessageStatus.QUEUED
            ).update(
                status=MessageStatus.SENDING,
                claimed_at=now,
                attempts=F("attempts") + 1,
                status_changed_at=now,
            )
    return rows


def _without_consent(rows: Sequence[Row]) -> set[int]:
    """Ids of marketing messages whose customer no longer consents to the channel (a reply of T
    between queueing and sending must stop them)."""
    marketing = [r for r in rows if r["is_marketing"]]
    if not marketing:
        return set()
    granted = set(
        Consent.objects.unscoped()
        .filter(
            dealer_id__in={r["dealer_id"] for r in marketing},
            customer_id__in=_ids({r["customer_id"] for r in marketing if r["customer_id"]}),
            granted=True,
        )
        .values_list("customer_id", "channel")
    )
    return {r["id"] for r in marketing if (r["customer_id"], r["channel"]) not in granted}


def _claim_stuck(*, cutoff: datetime.datetime, limit: int, now: datetime.datetime) -> list[Row]:
    """Take rows left "sending" before `cutoff`; re-stamping claimed_at keeps a second recovery
    run from taking them too."""
    with transaction.atomic():
        rows = list(
            Message.objects.unscoped()
            .filter(status=MessageStatus.SENDING, claimed_at__lt=cutoff)
            .order_by("claimed_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values(*_ROW_FIELDS, "status_changed_at")[:limit]
        )
        if rows:
            Message.objects.unscoped().filter(
                id__in=_ids(r["id"] for r in rows), status=MessageStatus.SENDING
            ).update(claimed_at=now)
    return rows


def _by_dealer_and_channel(rows: Iterable[Row]) -> dict[tuple[int, str], list[Row]]:
    groups: dict[tuple[int, str], list[Row]] = defaultdict(list)
    for row in rows:
        groups[(row["dealer_id"], row["channel"])].append(row)
    return groups


# --- sending ----------------------------------------------------------------------------------


def _provider(dealer_id: int, channel: str) -> Provider:
    from .providers.registry import provider_for

    return provider_for(dealer_id, channel)


def _send_group(*, dealer_id: int, channel: str, rows: list[Row], now: datetime.datetime) -> None:
    outgoing = _outgoing_messages(dealer_id=dealer_id, channel=channel, rows=rows)
    # The provider acts for one dealer: give it that dealer's scope, nothing wider.
    with dealer_scope(dealer_id):
        try:
            provider = _provider(dealer_id, channel)
        except Exception as exc:  # noqa: BLE001 — a provider that cannot be built sent nothing
            logger.exception("No usable provider for dealer %s, channel %s", dealer_id, channel)
            reason = _("The provider for this channel is not usable: %(error)s") % {"error": exc}
            results = [SendResult(r["id"], Outcome.RETRY, reason=reason) for r in rows]
            provider_kind = ""
        else:
            provider_kind = provider.kind
            try:
                results = provider.send(outgoing)
            except Exception as exc:  # noqa: BLE001 — the batch's fate is unknown
                logger.exception("Provider %s failed on a batch of %s", provider_kind, len(rows))
                _mark_unknown(rows, exc)
                return
    crash_point("after_provider_send")
    _write_results(results, rows=rows, provider_kind=provider_kind, now=now)


def _outgoing_messages(*, dealer_id: int, channel: str, rows: list[Row]) -> list[OutgoingMessage]:
    signature = ""
    if channel == Channel.SMS:
        signature = (
            MessagingPolicy.objects.unscoped()
            .filter(dealer_id=dealer_id)
            .values_list("sms_signature", flat=True)
            .first()
            or ""
        )
    if channel == Channel.EMAIL:
        from .unsubscribe import unsubscribe_url
    return [
        OutgoingMessage(
            message_id=row["id"],
            dealer_id=dealer_id,
            idempotency_key=row["idempotency_key"] or f"message:{row['id']}",
            channel=channel,
            to_address=row["to_address"],
            subject=row["subject"],
            body=row["body"],
            params=row["params"] or {},
            template_code=row["template__provider_template_code"] or "",
            signature=signature,
            unsubscribe_url=(
                unsubscribe_url(dealer_id=dealer_id, customer_id=row["customer_id"])
                if channel == Channel.EMAIL and row["customer_id"]
                else ""
            ),
            customer_id=row["customer_id"],
            customer_name=row["customer__name"] or "",
            assignee_id=row["customer__assigned_consultant_id"],
        )
        for row in rows
    ]


def _mark_unknown(rows: Sequence[Row], exc: Exception) -> None:
    """The provider raised mid-batch: we cannot know what it took. The rows stay "sending" (so
    nothing resends them blindly) and recover_stuck asks the provider about each one later."""
    Message.objects.unscoped().filter(
        id__in=_ids(r["id"] for r in rows), status=MessageStatus.SENDING
    ).update(
        status_reason=_("The provider did not answer (%(error)s); checking before any resend.")
        % {"error": str(exc)[:200]}
    )


# --- writing results --------------------------------------------------------------------------


def _write_results(
    results: Sequence[SendResult],
    *,
    rows: Sequence[Row],
    provider_kind: str,
    now: datetime.datetime,
) -> None:
    """Write what the provider answered: one UPDATE per outcome (per attempt count for retries),
    one bulk update for the values that differ per message (provider id, reason)."""
    by_id = {r["id"]: r for r in rows}
    ids_by_outcome: dict[str, list[int]] = defaultdict(list)
    per_row: list[Message] = []  # rows with their own provider id or reason
    for result in results:
        row = by_id.get(result.message_id)
        if row is None:
            continue  # not one of ours: a provider bug, never a reason to touch another row
        outcome = result.outcome
        reason = result.reason
        if outcome == Outcome.RETRY and row["attempts"] >= settings.MESSAGING_MAX_ATTEMPTS:
            outcome = Outcome.FAILED
            reason = _("gave up after %(attempts)d attempts: %(reason)s") % {
                "attempts": row["attempts"],
                "reason": reason,
            }
        if outcome == Outcome.RETRY:
            ids_by_outcome[f"{Outcome.RETRY}:{row['attempts']}"].append(row["id"])
        else:
            ids_by_outcome[outcome].append(row["id"])
        if result.provider_message_id or reason:
            per_row.append(
                Message(
                    id=row["id"],
                    provider_message_id=result.provider_message_id[:100],
                    status_reason=reason[:300],
                )
            )
    answered = {r.message_id for r in results}
    missing = [r for r in rows if r["id"] not in answered]
    if missing:
        _mark_unknown(missing, RuntimeError(_("no answer for this message")))

    sending = Message.objects.unscoped().filter(status=MessageStatus.SENDING)
    common = {"provider": provider_kind, "status_changed_at": now, "status_reason": ""}
    with transaction.atomic():
        for key, ids in ids_by_outcome.items():
            qs = sending.filter(id__in=_ids(ids))
            if key == Outcome.SENT:
                qs.update(status=MessageStatus.SENT, sent_at=now, **common)
            elif key == Outcome.DELIVERED:
                qs.update(status=MessageStatus.DELIVERED, sent_at=now, delivered_at=now, **common)
            elif key == Outcome.UNDELIVERABLE:
                qs.update(status=MessageStatus.UNDELIVERABLE, **common)
            elif key.startswith(Outcome.RETRY):
                attempts = int(key.split(":")[1])
                backoff = settings.MESSAGING_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
                qs.update(
                    status=MessageStatus.QUEUED,
                    not_before=now + datetime.timedelta(seconds=backoff),
                    **common,
                )
            else:  # FAILED, and anything a provider might invent: failed, never silently lost
                qs.update(status=MessageStatus.FAILED, **common)
        if per_row:
            # After the status writes (which cleared the reason of the rows still "sending").
            # A value this result does not have is left as it is: a receipt that overtook the
            # worker may have written its own reason or id meanwhile.
            fields = [
                name
                for name in ("status_reason", "provider_message_id")
                if any(getattr(m, name) for m in per_row)
            ]
            for m in per_row:
                for name in fields:
                    if not getattr(m, name):
                        setattr(m, name, F(name))
            Message.objects.unscoped().bulk_update(per_row, fields, batch_size=500)


# --- recovery ---------------------------------------------------------------------------------


def _recover_group(*, dealer_id: int, channel: str, rows: list[Row], now: datetime.datetime) -> int:
    outgoing = _outgoing_messages(dealer_id=dealer_id, channel=channel, rows=rows)
    found: list[SendResult] = []
    requeue: list[int] = []
    give_up: list[int] = []
    with dealer_scope(dealer_id):
        try:
            provider = _provider(dealer_id, channel)
        except Exception:  # noqa: BLE001
            logger.exception("No provider to recover dealer %s, channel %s", dealer_id, channel)
            provider = None
        provider_kind = getattr(provider, "kind", "")
        for row, message in zip(rows, outgoing, strict=True):
            if provider is None or not getattr(provider, "supports_lookup", False):
                give_up.append(row["id"])
                continue
            try:
                result = provider.lookup(message)
            except Exception:  # noqa: BLE001 — ask again next run, within limits
                logger.exception("Lookup of message %s failed", row["id"])
                if now - row["status_changed_at"] > _LOOKUP_GIVE_UP_AFTER:
                    give_up.append(row["id"])
                continue
            if result is None:
                requeue.append(row["id"])
            elif result.outcome in (Outcome.SENT, Outcome.DELIVERED, Outcome.RETRY):
                # The question was "did you take it?": taken means "sent", with the provider's
                # id. Whether it arrived is the delivery receipt's to say, as for any message.
                found.append(
                    SendResult(
                        row["id"], Outcome.SENT, provider_message_id=result.provider_message_id
                    )
                )
            else:
                found.append(result)  # taken, and already known to have failed
    if found:
        _write_results(found, rows=rows, provider_kind=provider_kind, now=now)
    sending = Message.objects.unscoped().filter(status=MessageStatus.SENDING)
    if requeue:
        # Never reached the provider: safe to send, now.
        sending.filter(id__in=_ids(requeue)).update(
            status=MessageStatus.QUEUED, not_before=now, status_reason="", status_changed_at=now
        )
    if give_up:
        sending.filter(id__in=_ids(give_up)).update(
            status=MessageStatus.FAILED,
            status_reason=_(
                "interrupted while sending; not resent so the customer does not get it twice"
            ),
            status_changed_at=now,
        )
    return len(found) + len(requeue) + len(give_up)
