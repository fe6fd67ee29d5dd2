"""Leads: one sales opportunity each, from first contact to delivery or loss."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel, DealerScopedManager, DealerScopedQuerySet


class LeadChannel(models.TextChoices):
    WALK_IN = "walk_in", _("Walk-in")
    PHONE = "phone", _("Phone")
    WEBSITE = "website", _("Brand website")
    AUTO_SHOW = "auto_show", _("Auto show")
    REFERRAL = "referral", _("Referral")
    DOUYIN = "douyin", _("Douyin")
    WECHAT = "wechat", _("WeChat")
    OEM_DISPATCH = "oem_dispatch", _("OEM dispatch")
    IMPORT = "import", _("Imported list")


# Paid reach, for the documents' referral-versus-advertising comparison (~30% vs ~5%).
ADVERTISING_CHANNELS = frozenset(
    {LeadChannel.WEBSITE, LeadChannel.AUTO_SHOW, LeadChannel.DOUYIN, LeadChannel.WECHAT}
)


class LeadStage(models.TextChoices):
    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    TEST_DRIVE = "test_drive", _("Test drive")
    NEGOTIATION = "negotiation", _("Negotiation")
    ORDER = "order", _("Order")
    DELIVERED = "delivered", _("Delivered")
    LOST = "lost", _("Lost")


# The forward order of the open stages; a lead may skip ahead (a walk-in who orders at once).
STAGE_ORDER = (
    LeadStage.NEW,
    LeadStage.CONTACTED,
    LeadStage.TEST_DRIVE,
    LeadStage.NEGOTIATION,
    LeadStage.ORDER,
    LeadStage.DELIVERED,
)
CLOSED_STAGES = frozenset({LeadStage.DELIVERED, LeadStage.LOST})


class PurchaseTimeframe(models.TextChoices):
    WITHIN_1M = "1m", _("Within a month")
    WITHIN_3M = "3m", _("1–3 months")
    WITHIN_6M = "6m", _("3–6 months")
    LATER = "later", _("Later than 6 months")
    UNDECIDED = "undecided", _("Undecided")


class ScenarioTag(models.TextChoices):
    """The documents' usage scenarios, which decide what to recommend."""

    FAMILY_CHILDREN = "family_children", _("Family with children")
    BUSINESS_TRAVEL = "business_travel", _("Business travel")
    OUTDOOR_TRIPS = "outdoor_trips", _("Outdoor trips")
    DAILY_COMMUTE = "daily_commute", _("Daily commute")
    FIRST_CAR = "first_car", _("First car")
    REPLACEMENT = "replacement", _("Replacing a car")
    ELDERLY_PARENTS = "elderly_parents", _("Driving elderly parents")
    NEW_ENERGY = "new_energy", _("Interested in new energy")


class LossReason(models.TextChoices):
    PRICE = "price", _("Price")
    COMPETITOR = "competitor", _("Bought a competitor's model")
    FINANCING = "financing", _("Financing")
    TIMING = "timing", _("Not buying now")
    NO_RESPONSE = "no_response", _("No response")
    PRODUCT = "product", _("Product does not fit")
    SERVICE = "service", _("Unhappy with our service")
    OTHER = "other", _("Other")


class LeadQuerySet(DealerScopedQuerySet):
    def visible_to(self, user) -> LeadQuerySet:  # noqa: ANN001
        """All of the scope's leads, or only their own for a user without VIEW_ALL_LEADS."""
        from dealercrm.core.permissions import Perm

        if user.has_perm(Perm.VIEW_ALL_LEADS):
            return self
        return self.filter(consultant_id=user.pk)

    def open(self) -> LeadQuerySet:
        return self.exclude(stage__in=[s.value for s in CLOSED_STAGES])

    def awaiting_first_response(self) -> LeadQuerySet:
        return self.filter(stage=LeadStage.NEW, first_contacted_at__isnull=True)

    def response_overdue(self, now=None) -> LeadQuerySet:  # noqa: ANN001
        return self.awaiting_first_response().filter(
            first_response_due_at__lt=now or timezone.now()
        )

    def next_action_overdue(self, today) -> LeadQuerySet:  # noqa: ANN001
        return self.open().filter(next_action_due__lt=today)

    def loss_pending(self) -> LeadQuerySet:
        return self.open().filter(loss_requested_at__isnull=False)


class LeadManager(DealerScopedManager.from_queryset(LeadQuerySet)):  # type: ignore[misc]
    pass


def _user_fk(verbose_name, related_name="+"):  # noqa: ANN001, ANN202
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name=related_name,
        db_index=False,
        verbose_name=verbose_name,
    )


class Lead(DealerOwnedModel):
    """A prospect's interest in buying, worked by one consultant through the stages.

    Always tied to a customer record (a new person becomes a prospect customer), so the 360
    page, messaging and the worklist work for leads as for everyone else. Each stage reached
    keeps its timestamp: the funnel counts "reached", not "is in", so a delivered lead still
    counts as test-driven.

    Every write sets `updated_at` (include it in `update_fields`; set it in `.update()`): the
    funnel's roll-up refreshes the months whose leads changed since its last run.
    """

    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="leads",
        db_index=False,
        verbose_name=_("customer"),
    )
    channel = models.CharField(_("channel"), max_length=16, choices=LeadChannel.choices)
    campaign = models.CharField(_("campaign"), max_length=100, blank=True)
    referrer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referred_leads",
        db_index=False,
        verbose_name=_("referred by"),
    )
    # Interest
    car_model = models.ForeignKey(
        "vehicles.CarModel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("model of interest"),
    )
    other_model_ids = models.JSONField(_("other models"), default=list, blank=True)
    budget_min = models.DecimalField(
        _("budget from (¥)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    budget_max = models.DecimalField(
        _("budget up to (¥)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    purchase_timeframe = models.CharField(
        _("buying within"),
        max_length=10,
        choices=PurchaseTimeframe.choices,
        default=PurchaseTimeframe.UNDECIDED,
    )
    trade_in_description = models.CharField(_("trade-in vehicle"), max_length=200, blank=True)
    trade_in_year = models.PositiveSmallIntegerField(_("trade-in year"), null=True, blank=True)
    trade_in_mileage_km = models.PositiveIntegerField(
        _("trade-in mileage (km)"), null=True, blank=True
    )
    # Needs, in the documents' SPIN form.
    spin_situation = models.TextField(_("situation"), blank=True)
    spin_problem = models.TextField(_("problem"), blank=True)
    spin_implication = models.TextField(_("implication"), blank=True)
    spin_need_payoff = models.TextField(_("need-payoff"), blank=True)
    scenario_tags = models.JSONField(_("scenarios"), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    consultant = _user_fk(_("consultant"))
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    stage = models.CharField(
        _("stage"), max_length=12, choices=LeadStage.choices, default=LeadStage.NEW
    )

    # First response: due by (opening hours counted), done at, flagged, escalated.
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    first_contacted_at = models.DateTimeField(_("first contacted"), null=True, blank=True)
    response_flagged_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    # When each later stage was first reached (the funnel reads these).
    test_drive_at = models.DateTimeField(null=True, blank=True)
    negotiation_at = models.DateTimeField(null=True, blank=True)
    ordered_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    lost_at = models.DateTimeField(null=True, blank=True)

    next_action = models.CharField(_("next action"), max_length=200, blank=True)
    next_action_due = models.DateField(_("next action due"), null=True, blank=True)

    # Declaring a lead lost (战败) is a request the manager approves or sends back.
    loss_reason = models.CharField(
        _("reason lost"), max_length=16, choices=LossReason.choices, blank=True
    )
    loss_competitor = models.CharField(_("competitor"), max_length=100, blank=True)
    loss_note = models.TextField(_("loss note"), blank=True)
    loss_requested_at = models.DateTimeField(_("loss requested"), null=True, blank=True)
    loss_requested_by = _user_fk(_("loss requested by"))
    loss_decided_by = _user_fk(_("loss approved by"))

    # A client-supplied key (inbound API): a retried post finds this lead instead of a new one.
    idempotency_key = models.CharField(max_length=64, blank=True)
    created_by = _user_fk(_("created by"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = LeadManager()

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["dealer", "consultant", "stage"], name="lead_consultant_stage"),
            models.Index(fields=["dealer", "customer"], name="lead_customer"),
            models.Index(fields=["dealer", "-created_at"], name="lead_created"),
            models.Index(fields=["dealer", "updated_at"], name="lead_updated"),
            models.Index(
                fields=["dealer", "first_response_due_at"],
                name="lead_awaiting_response",
                condition=models.Q(stage="new", first_contacted_at__isnull=True),
            ),
            models.Index(
                fields=["dealer", "next_action_due"],
                name="lead_next_action",
                condition=~models.Q(stage__in=["delivered", "lost"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "idempotency_key"],
                name="lead_unique_idempotency_key",
                condition=~models.Q(idempotency_key=""),
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer}"

    @property
    def is_open(self) -> bool:
        return self.stage not in CLOSED_STAGES

    @property
    def loss_pending(self) -> bool:
        return self.is_open and self.loss_requested_at is not None


class LeadEvent(DealerOwnedModel):
    """What happened to a lead: assignments (history kept), stage moves, flags, loss decisions."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        ASSIGNED = "assigned", _("Assigned")
        REASSIGNED = "reassigned", _("Reassigned")
        AUTO_REASSIGNED = "auto_reassigned", _("Reassigned automatically (no first response)")
        STAGE = "stage", _("Stage changed")
        RESPONSE_OVERDUE = "response_overdue", _("First response overdue")
        ESCALATED = "escalated", _("Escalated to the manager")
        LOSS_REQUESTED = "loss_requested", _("Loss requested")
        LOSS_APPROVED = "loss_approved", _("Loss approved")
        LOSS_RETURNED = "loss_returned", _("Sent back for more follow-up")
        ATTACHED = "attached", _("Attached to an existing customer")

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(_("what"), max_length=20, choices=Kind.choices)
    from_value = models.CharField(_("from"), max_length=100, blank=True)
    to_value = models.CharField(_("to"), max_length=100, blank=True)
    note = models.TextField(_("note"), blank=True)
    actor = _user_fk(_("by"))
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("lead event")
        verbose_name_plural = _("lead events")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["dealer", "lead", "at"], name="leadevent_lead")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"
