"""Messaging: what the dealer says to customers and what they answer.

A message is a row before it is anything else (the outbox pattern): it is written, with its
rendered text and an idempotency key, in the same transaction as whatever caused it; workers then
hand queued rows to the channel's provider. Inbound replies are rows of the same table
(direction "in"), so the 360 timeline reads one table.
"""

from __future__ import annotations

import datetime
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel, DealerScopedManager, DealerScopedQuerySet
from dealercrm.customers.models import ConsentChannel

# One list of channels for consent and for messages: a customer consents per channel.
Channel = ConsentChannel


class Purpose(models.TextChoices):
    """What a message is for. The purpose decides whether it is marketing (see SERVICE_PURPOSES)."""

    TEST_DRIVE_REMINDER = "test_drive_reminder", _("Test-drive reminder")
    APPOINTMENT_CONFIRMATION = "appointment_confirmation", _("Appointment confirmation")
    DELIVERY_DELAY = "delivery_delay", _("Delivery delay notice")
    RECALL = "recall", _("Recall notice")
    FOLLOW_UP = "follow_up", _("Follow-up after delivery or service")
    SURVEY_INVITATION = "survey_invitation", _("Survey invitation")
    PERSONAL = "personal", _("Personal message")
    MAINTENANCE_REMINDER = "maintenance_reminder", _("Maintenance reminder")
    INSURANCE_RENEWAL = "insurance_renewal", _("Insurance renewal reminder")
    INSPECTION_REMINDER = "inspection_reminder", _("Annual inspection reminder")
    WARRANTY_EXPIRY = "warranty_expiry", _("Warranty ending")
    BIRTHDAY_GREETING = "birthday_greeting", _("Birthday greeting")
    HOLIDAY_GREETING = "holiday_greeting", _("Festival greeting")
    WIN_BACK = "win_back", _("Win-back")
    CAMPAIGN = "campaign", _("Marketing campaign")


# Messages a customer needs about something already under way: they go without marketing
# consent and outside the frequency cap, and are labelled "service" wherever they are shown.
# A one-off personal message written by staff answers an existing relationship, so it is here
# too; everything else is marketing.
SERVICE_PURPOSES = frozenset(
    {
        Purpose.TEST_DRIVE_REMINDER,
        Purpose.APPOINTMENT_CONFIRMATION,
        Purpose.DELIVERY_DELAY,
        Purpose.RECALL,
        Purpose.FOLLOW_UP,
        Purpose.SURVEY_INVITATION,
        Purpose.PERSONAL,
    }
)


def is_marketing_purpose(purpose: str) -> bool:
    return purpose not in SERVICE_PURPOSES


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", _("Simplified Chinese")
    EN = "en", _("English")


class ProviderKind(models.TextChoices):
    """How a channel's messages leave the building."""

    FILE = "file", _("File (appends every message to a log; demo default)")
    SMTP = "smtp", _("E-mail over SMTP")
    DJANGO_EMAIL = "django_email", _("E-mail through the server's default e-mail settings")
    SMS_GATEWAY = "sms_gateway", _("SMS gateway (HTTP, signed requests)")
    WECHAT = "wechat", _("WeChat official account (template messages)")
    PHONE_TASK = "phone_task", _("Phone call task for a person")
    MAIL_EXPORT = "mail_export", _("Direct mail address list")


def new_webhook_key() -> str:
    return secrets.token_urlsafe(24)


class MessagingPolicy(DealerOwnedModel):
    """A dealer's restraint rules: quiet hours and the marketing frequency cap (one row a dealer)."""

    quiet_start = models.TimeField(_("quiet hours start"), default=datetime.time(21, 0))
    quiet_end = models.TimeField(_("quiet hours end"), default=datetime.time(8, 0))
    # Channels held back in quiet hours, comma-separated channel values.
    quiet_channels = models.CharField(_("channels kept quiet"), max_length=60, default="sms,phone")
    cap_count = models.PositiveSmallIntegerField(_("marketing messages at most"), default=4)
    cap_days = models.PositiveSmallIntegerField(_("per number of days"), default=30)
    sms_signature = models.CharField(
        _("SMS signature"), max_length=20, blank=True, help_text=_("Shown as 【signature】")
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("messaging policy")
        verbose_name_plural = _("messaging policies")
        constraints = [models.UniqueConstraint(fields=["dealer"], name="messagingpolicy_dealer")]


class ProviderConfig(DealerOwnedModel):
    """Which provider sends one channel of one dealer, and its settings.

    A channel without a row uses the default of settings.MESSAGING_DEFAULT_PROVIDERS.
    `options` holds the provider's plain settings (host, endpoint, signature, template codes …);
    `secret_encrypted` its secret (password, app secret), Fernet-encrypted like ID numbers.
    `webhook_key` is the unguessable part of this configuration's receipt and inbound URLs.
    """

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    kind = models.CharField(_("provider"), max_length=20, choices=ProviderKind.choices)
    options = models.JSONField(_("settings"), default=dict, blank=True)
    secret_encrypted = models.TextField(blank=True)
    webhook_key = models.CharField(max_length=64, unique=True, default=new_webhook_key)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("message provider")
        verbose_name_plural = _("message providers")
        constraints = [
            models.UniqueConstraint(fields=["dealer", "channel"], name="providerconfig_channel")
        ]


class MessageTemplate(DealerOwnedModel):
    """A text with {{ variables }} for one purpose, channel and language."""

    name = models.CharField(_("name"), max_length=100)
    purpose = models.CharField(_("purpose"), max_length=32, choices=Purpose.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    language = models.CharField(
        _("language"), max_length=10, choices=Language.choices, default=Language.ZH_HANS
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)  # e-mail, WeChat title
    body = models.TextField(_("text"))
    # The code the gateway registered this text under (SMS_123456, a WeChat template id).
    provider_template_code = models.CharField(
        _("provider template code"), max_length=64, blank=True
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        indexes = [
            models.Index(fields=["dealer", "purpose", "channel", "language"], name="template_pick")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_marketing(self) -> bool:
        return is_marketing_purpose(self.purpose)


class Campaign(DealerOwnedModel):
    """A message sent to a list of customers at once (marketing or a service notice)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        QUEUEING = "queueing", _("Queueing")
        QUEUED = "queued", _("Queued")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("name"), max_length=100)
    template = models.ForeignKey(
        MessageTemplate, on_delete=models.PROTECT, related_name="+", verbose_name=_("template")
    )
    # Who gets it: {"tags": [...], "lifecycle_stages": [...], "customer_ids": [...]}.
    audience = models.JSONField(_("audience"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.DRAFT
    )
    # What queueing did: {"queued": n, "held_by_cap": n, "no_consent": n, "missing_variable": n …}
    report = models.JSONField(_("report"), default=dict, blank=True)
    progress = models.PositiveIntegerField(default=0)  # customers handled so far while queueing
    total = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        indexes = [models.Index(fields=["dealer", "-created_at"], name="campaign_recent")]

    def __str__(self) -> str:
        return self.name


class MessageStatus(models.TextChoices):
    HELD = "held", _("Held by the frequency cap")
    BLOCKED = "blocked", _("Not sent: no consent")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    UNDELIVERABLE = "undeliverable", _("Undeliverable")
    CANCELLED = "cancelled", _("Cancelled")
    RECEIVED = "received", _("Received")  # inbound


# Outbound statuses that count against the frequency cap (what went, or is on its way).
CAP_COUNTED_STATUSES = (
    MessageStatus.QUEUED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
)


class MessageQuerySet(DealerScopedQuerySet):
    def outbound(self) -> MessageQuerySet:
        return self.filter(direction=Message.Direction.OUTBOUND)

    def inbound(self) -> MessageQuerySet:
        return self.filter(direction=Message.Direction.INBOUND)

    def due(self, now: datetime.datetime) -> MessageQuerySet:
        return self.filter(status=MessageStatus.QUEUED, not_before__lte=now)


class ScopedMessageManager(DealerScopedManager.from_queryset(MessageQuerySet)):  # type: ignore[misc]
    pass


class Message(DealerOwnedModel):
    """One message to or from a customer, on one channel, with its delivery status."""

    class Direction(models.TextChoices):
        OUTBOUND = "out", _("Outbound")
        INBOUND = "in", _("Inbound")

    class SourceKind(models.TextChoices):
        MANUAL = "manual", _("Sent by staff")
        CAMPAIGN = "campaign", _("Campaign")
        CARE_TASK = "care_task", _("Care task")
        SURVEY = "survey", _("Survey")
        SALES = "sales", _("Sales")
        SERVICE = "service", _("After-sales service")
        COMPLAINT = "complaint", _("Complaint")
        SYSTEM = "system", _("System")
        REPLY = "reply", _("Customer reply")

    # Null only for an inbound message no customer could be matched to.
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,
        verbose_name=_("customer"),
    )
    direction = models.CharField(
        _("direction"), max_length=3, choices=Direction.choices, default=Direction.OUTBOUND
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    purpose = models.CharField(
        _("purpose"), max_length=32, choices=Purpose.choices, default=Purpose.PERSONAL
    )
    is_marketing = models.BooleanField(_("marketing"), default=False)
    template = models.ForeignKey(
        MessageTemplate,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        db_index=False,
    )
    language = models.CharField(max_length=10, choices=Language.choices, default=Language.ZH_HANS)
    # Phone (E.164), e-mail address, WeChat openid or postal address; the sender's, inbound.
    to_address = models.CharField(_("to"), max_length=300, blank=True)
    from_address = models.CharField(_("from"), max_length=300, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    # The variables the text was rendered with (gateways take a template code and these).
    params = models.JSONField(default=dict, blank=True)
    segments = models.PositiveSmallIntegerField(_("SMS segments"), default=0)
    source_kind = models.CharField(
        _("source"), max_length=20, choices=SourceKind.choices, default=SourceKind.MANUAL
    )
    source_id = models.CharField(max_length=64, blank=True)
    # (source, customer, channel): a second queueing of the same thing finds this row instead.
    idempotency_key = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    status_reason = models.CharField(_("reason"), max_length=300, blank=True)
    # Not to be sent before this moment: quiet hours, or the next retry's backoff.
    not_before = models.DateTimeField(_("not before"), default=timezone.now)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)  # when a worker set "sending"
    provider = models.CharField(_("provider"), max_length=20, blank=True)
    provider_message_id = models.CharField(max_length=100, blank=True)
    in_reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    status_changed_at = models.DateTimeField(default=timezone.now)

    objects = ScopedMessageManager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="message_idempotency",
            )
        ]
        indexes = [
            models.Index(fields=["dealer", "customer", "-created_at"], name="message_timeline"),
            # The outbox queue: only queued rows a worker sends (direct mail waits for its
            # export), so the index stays small however long the history. Workers read it
            # across dealers.
            models.Index(
                fields=["not_before"],
                condition=Q(status="queued") & ~Q(channel="mail"),
                name="message_queue",
            ),
            models.Index(
                fields=["claimed_at"], condition=Q(status="sending"), name="message_sending"
            ),
            models.Index(
                fields=["dealer", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_provider_id",
            ),
            models.Index(fields=["dealer", "campaign", "status"], name="message_campaign"),
            models.Index(fields=["dealer", "status", "-created_at"], name="message_status"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.to_address}"


class WebhookEvent(DealerOwnedModel):
    """A receipt or inbound event already processed: a replay finds its key and changes nothing."""

    provider_config = models.ForeignKey(
        ProviderConfig, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    event_key = models.CharField(max_length=200)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "provider_config", "event_key"], name="webhookevent_unique"
            )
        ]
