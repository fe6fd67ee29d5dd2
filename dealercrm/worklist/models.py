"""Tasks: work for one person about one customer, with a due time.

Every app hands people work through this one model — a phone call the messaging app cannot make
by itself, a reply that needs an answer, later the sales dispatch tasks, the care engine's
follow-up calls and the complaint steps — so each person has one worklist, not one per app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel, DealerScopedManager, DealerScopedQuerySet


class TaskKind(models.TextChoices):
    CALL = "call", _("Phone call")
    REPLY = "reply", _("Answer a reply")
    FOLLOW_UP = "follow_up", _("Follow-up")
    TEST_DRIVE = "test_drive", _("Test drive")
    # A low survey answer: the manager calls the customer before the brand's survey does.
    RECOVERY = "recovery", _("Win back an unhappy customer")
    OTHER = "other", _("Other")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class TaskQuerySet(DealerScopedQuerySet):
    def open(self) -> TaskQuerySet:
        return self.filter(status=TaskStatus.OPEN)

    def for_assignee(self, user_id: int) -> TaskQuerySet:
        return self.filter(assignee_id=user_id)

    def overdue(self, now=None) -> TaskQuerySet:  # noqa: ANN001
        return self.open().filter(due_at__lt=now or timezone.now())


class ScopedTaskManager(DealerScopedManager.from_queryset(TaskQuerySet)):  # type: ignore[misc]
    pass


class Task(DealerOwnedModel):
    """One piece of work for one person (or, unassigned, for the dealer's managers)."""

    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="tasks",
        db_index=False,
        verbose_name=_("customer"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("assigned to"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=TaskKind.choices)
    title = models.CharField(_("title"), max_length=200)
    # What to say or do: a call script, the customer's reply to answer …
    body = models.TextField(_("details"), blank=True)
    due_at = models.DateTimeField(_("due"), default=timezone.now)
    status = models.CharField(
        _("status"), max_length=12, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    # Where the task came from, e.g. ("messaging.message", "123"): the creating app reads its own.
    source_kind = models.CharField(_("source"), max_length=40, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("completed by"),
    )

    objects = ScopedTaskManager()

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["dealer", "assignee", "status", "due_at"], name="task_worklist"),
            models.Index(fields=["dealer", "customer", "-created_at"], name="task_timeline"),
            models.Index(fields=["dealer", "source_kind", "source_id"], name="task_source"),
        ]

    def __str__(self) -> str:
        return self.title


class NoticeQuerySet(DealerScopedQuerySet):
    def unread(self) -> NoticeQuerySet:
        return self.filter(read_at__isnull=True)

    def for_recipient(self, user_id: int) -> NoticeQuerySet:
        return self.filter(recipient_id=user_id)


class ScopedNoticeManager(DealerScopedManager.from_queryset(NoticeQuerySet)):  # type: ignore[misc]
    pass


class Notice(DealerOwnedModel):
    """Something one person should look at, shown on their workspace until read.

    Not work in itself (that is a Task): "a dispatched lead arrived for you", "this lead has
    waited past its first-response time", "this loss awaits your approval". `source_kind` /
    `source_id` / `reason` make a notice idempotent: the same reason about the same thing is
    noted once per person, however often a job runs.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        verbose_name=_("for"),
    )
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("details"), blank=True)
    # A path inside the app (e.g. the lead's page).
    link = models.CharField(_("link"), max_length=300, blank=True)
    source_kind = models.CharField(max_length=40, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = ScopedNoticeManager()

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["dealer", "recipient", "-created_at"],
                name="notice_unread",
                condition=models.Q(read_at__isnull=True),
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "recipient", "source_kind", "source_id", "reason"],
                name="notice_once_per_reason",
                condition=~models.Q(source_kind=""),
            )
        ]

    def __str__(self) -> str:
        return self.title
