"""Messages on the customer timeline: every message to or from the customer, in one query.

Outbound and inbound messages are rows of one table, so the provider reads both directions at
once, newest first, through the (dealer, customer, -created_at) index. The title says what it was
and how it went — "SMS · Sent · Service", "E-mail · Failed: mailbox full · Marketing", "Reply by
SMS" — so nobody has to open the message to see whether it arrived or why it did not.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from dealercrm.customers.timeline import ProviderQuery, TimelineEntry

from .models import Channel, Message, MessageStatus

# Tabler icon per channel.
CHANNEL_ICONS: dict[str, str] = {
    Channel.SMS: "message",
    Channel.EMAIL: "mail",
    Channel.WECHAT: "brand-wechat",
    Channel.PHONE: "phone",
    Channel.MAIL: "mailbox",
}

# Statuses whose reason the sender must see on the timeline (why it did not go, or not yet).
_STATUSES_WITH_REASON = frozenset(
    {
        MessageStatus.FAILED,
        MessageStatus.UNDELIVERABLE,
        MessageStatus.BLOCKED,
        MessageStatus.HELD,
        MessageStatus.CANCELLED,
    }
)

# The fields the entries show: the text can be long, everything else is small.
_FIELDS = (
    "id",
    "direction",
    "channel",
    "is_marketing",
    "subject",
    "body",
    "status",
    "status_reason",
    "created_at",
    "created_by__display_name",
    "created_by__first_name",
    "created_by__last_name",
    "created_by__username",
)


def _reply_title(channel: str) -> str:
    titles: dict[str, str] = {
        Channel.SMS: _("Reply by SMS"),
        Channel.EMAIL: _("Reply by e-mail"),
        Channel.WECHAT: _("Reply on WeChat"),
        Channel.PHONE: _("Reply by phone"),
        Channel.MAIL: _("Reply by letter"),
    }
    return titles.get(channel, _("Reply"))


def _channel_label(channel: str) -> str:
    try:
        return str(Channel(channel).label)
    except ValueError:
        return channel


def _status_label(status: str) -> str:
    # The short word for the timeline; the model's labels explain more ("Held by the cap").
    labels: dict[str, str] = {
        MessageStatus.HELD: pgettext("message status", "Held"),
        MessageStatus.BLOCKED: pgettext("message status", "Not sent"),
        MessageStatus.QUEUED: pgettext("message status", "Queued"),
        MessageStatus.SENDING: pgettext("message status", "Sending"),
        MessageStatus.SENT: pgettext("message status", "Sent"),
        MessageStatus.DELIVERED: pgettext("message status", "Delivered"),
        MessageStatus.FAILED: pgettext("message status", "Failed"),
        MessageStatus.UNDELIVERABLE: pgettext("message status", "Undeliverable"),
        MessageStatus.CANCELLED: pgettext("message status", "Cancelled"),
        MessageStatus.RECEIVED: pgettext("message status", "Received"),
    }
    return labels.get(status, status)


def _actor(row: dict) -> str:
    # As User.__str__: the display name, else the full name, else the user name.
    if row["created_by__display_name"]:
        return row["created_by__display_name"]
    full = f"{row['created_by__first_name'] or ''} {row['created_by__last_name'] or ''}".strip()
    return full or row["created_by__username"] or ""


def _detail_url() -> Callable[[int], str]:
    """The message page's address maker, or one answering "" while that page is not routed."""
    try:
        reverse("messaging:message", args=[1])
    except NoReverseMatch:
        return lambda pk: ""
    return lambda pk: reverse("messaging:message", args=[pk])


def message_title(
    *, direction: str, channel: str, status: str, is_marketing: bool, reason: str = ""
) -> str:
    """ "SMS · Delivered · Service", "SMS · Failed: a landline … · Marketing", "Reply by SMS"."""
    if direction == Message.Direction.INBOUND:
        return _reply_title(channel)
    state = _status_label(status)
    if reason and status in _STATUSES_WITH_REASON:
        state = _("%(status)s: %(reason)s") % {"status": state, "reason": reason}
    kind = _("Marketing") if is_marketing else _("Service")
    return " · ".join((_channel_label(channel), state, kind))


def message_entry(row: dict, url: str = "") -> TimelineEntry:
    """The timeline entry of one message, from the values `message_timeline` reads."""
    body = row["body"]
    if row["subject"]:
        body = f"{row['subject']}\n{body}"
    inbound = row["direction"] == Message.Direction.INBOUND
    return TimelineEntry(
        occurred_at=row["created_at"],
        kind="message_reply" if inbound else "message",
        icon=CHANNEL_ICONS.get(row["channel"], "message"),
        title=message_title(
            direction=row["direction"],
            channel=row["channel"],
            status=row["status"],
            is_marketing=row["is_marketing"],
            reason=row["status_reason"],
        ),
        body=body,
        actor="" if inbound else _actor(row),
        url=url,
        source="messaging",
    )


def _messages(dealer_id: int, customer_id: int, before: datetime.datetime | None) -> QuerySet:
    qs = Message.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    return qs.order_by("-created_at", "-id").values(*_FIELDS)


_MESSAGES = ProviderQuery(_messages)


def message_timeline(
    customer,  # noqa: ANN001 — a customers.Customer
    *,
    limit: int,
    before: datetime.datetime | None,
) -> list[TimelineEntry]:
    """Timeline provider of the messaging app: both directions, one query, newest first."""
    url = _detail_url()
    rows = _MESSAGES(customer, limit=limit, before=before)
    return [message_entry(row, url(row["id"])) for row in rows]
