"""Each time a rule fires for one car or customer, once: the idempotence of the care engine."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel, DealerScopedManager, DealerScopedQuerySet

from .rules import CareRuleCode


class OccurrenceStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    # No task: the rule only sent a message or changed a stage.
    NOTED = "noted", _("Recorded")
    CANCELLED = "cancelled", _("Cancelled")


class CareOutcome(models.TextChoices):
    """What a care call ended with (the worklist's outcome codes for care tasks)."""

    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    APPOINTMENT_BOOKED = "appointment_booked", _("Appointment booked")
    NOT_INTERESTED = "not_interested", _("Not interested")
    COMPLAINT = "complaint", _("Complaint")
    # Set by the system: the retries ran out.
    UNREACHABLE = "unreachable", _("Unreachable after retries")


class CareOccurrenceQuerySet(DealerScopedQuerySet):
    def open(self) -> CareOccurrenceQuerySet:
        return self.filter(status=OccurrenceStatus.OPEN)


class CareOccurrenceManager(DealerScopedManager.from_queryset(CareOccurrenceQuerySet)):  # type: ignore[misc]
    pass


class CareOccurrence(DealerOwnedModel):
    """Rule `rule` fired for `subject_id` (a vehicle id for vehicle rules, a customer id for
    customer rules) on `occasion` — a key saying which instance, e.g. the insurance expiry date
    and the offset ("2027-03-01/-30"), the festival and year ("spring_festival/2027"), the repair
    order ("ro/123").

    Unique per (dealer, rule, subject, occasion): the engine inserts with conflicts ignored, so
    running it twice creates nothing, and a task closed today is not recreated tomorrow — the
    occurrence that made it is still here. `task` / `message` link what it produced.
    """

    rule = models.CharField(_("rule"), max_length=32, choices=CareRuleCode.choices)
    subject_id = models.BigIntegerField()
    occasion = models.CharField(max_length=64)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    vehicle = models.ForeignKey(
        "vehicles.Vehicle",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    due_on = models.DateField(_("due"))
    status = models.CharField(
        _("status"), max_length=10, choices=OccurrenceStatus.choices, default=OccurrenceStatus.OPEN
    )
    task = models.ForeignKey(
        "worklist.Task",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    message = models.ForeignKey(
        "messaging.Message",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    # Suggested channel and the reason in words (the script's first line, the suggestion of a
    # replacement rule …), written by the rule.
    channel = models.CharField(_("suggested channel"), max_length=10, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    outcome = models.CharField(_("outcome"), max_length=20, choices=CareOutcome.choices, blank=True)
    outcome_note = models.TextField(_("notes"), blank=True)
    run = models.ForeignKey(
        "care.CareRun",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    objects = CareOccurrenceManager()

    class Meta:
        verbose_name = _("care occurrence")
        verbose_name_plural = _("care occurrences")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "rule", "subject_id", "occasion"], name="careoccurrence_once"
            )
        ]
        indexes = [
            models.Index(fields=["dealer", "run"], name="careoccurrence_run"),
            models.Index(
                fields=["dealer", "customer", "-created_at"], name="careoccurrence_customer"
            ),
            models.Index(fields=["dealer", "rule", "due_on"], name="careoccurrence_rule_due"),
            models.Index(fields=["dealer", "task"], name="careoccurrence_task"),
        ]


class CareRun(models.Model):
    """One run of the engine for one dealer and day: what it created, how long it took.

    The engine looks back to the previous run's date (at most `CARE_CATCH_UP_DAYS`), so a day
    the job did not run is caught up, and the first run does not flood anyone with years of
    history.
    """

    dealer = models.ForeignKey("core.Dealer", on_delete=models.CASCADE, related_name="+")
    run_on = models.DateField(_("for the day"))
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {rule: {"occurrences": n, "tasks": n, "messages": n, "updated": n}}
    created = models.JSONField(default=dict, blank=True)
    triggered_by = models.CharField(max_length=20, default="schedule")  # schedule / cli / user

    class Meta:
        verbose_name = _("care engine run")
        verbose_name_plural = _("care engine runs")
        indexes = [models.Index(fields=["dealer", "-run_on"], name="carerun_dealer")]

    def __str__(self) -> str:
        return f"{self.dealer_id} {self.run_on}"
