"""Likely duplicate customers, the review queue's decisions, and merges that can be undone.

A candidate pair is kept once (customer_a < customer_b). Within a dealer, `dealer` owns both
customers; across dealers (the same person buying at one dealer and servicing at another) the
pair is kept under customer_a's dealer with `other_dealer` set, and only the OEM's roles review it:
a dealer never sees the other dealer's customer, and two dealers' customers are linked, never
merged (each dealer owns its own record).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class DuplicateStatus(models.TextChoices):
    OPEN = "open", _("To review")
    MERGED = "merged", _("Merged")
    NOT_DUPLICATE = "not_duplicate", _("Not the same customer")
    HOUSEHOLD = "household", _("Same household, not a duplicate")
    LINKED = "linked", _("Same person at two dealers")


class DuplicateCandidate(DealerOwnedModel):
    """Two customer records that may be one person, with the score and what matched."""

    customer_a = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    customer_b = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # customer_b's dealer: the same as `dealer` within a dealer.
    other_dealer = models.ForeignKey(
        "core.Dealer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    cross_dealer = models.BooleanField(default=False)
    score = models.FloatField(_("confidence"))  # 0–1
    # What matched: {"blocks": ["phone", "vin"], "name": 0.93, "address": 0.5, "birthday": true,
    #  "household": false}
    reasons = models.JSONField(default=dict)
    status = models.CharField(
        _("status"), max_length=16, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN
    )
    found_at = models.DateTimeField(_("found at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("possible duplicate")
        verbose_name_plural = _("possible duplicates")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "customer_a", "customer_b"], name="duplicate_unique_pair"
            ),
            models.CheckConstraint(
                condition=models.Q(customer_a__lt=models.F("customer_b")),
                name="duplicate_ordered_pair",
            ),
        ]
        indexes = [
            models.Index(fields=["dealer", "status", "-score"], name="duplicate_queue"),
            models.Index(fields=["dealer", "customer_b"], name="duplicate_customer_b"),
        ]


class DedupSettings(DealerOwnedModel):
    """A dealer's duplicate policy: merge automatically only above this confidence (None: never)."""

    auto_merge_above = models.FloatField(_("merge automatically above"), null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("duplicate settings")
        verbose_name_plural = _("duplicate settings")
        constraints = [models.UniqueConstraint(fields=["dealer"], name="dedupsettings_one")]


class MergeRecord(DealerOwnedModel):
    """One merge of `merged` into `survivor`, with everything needed to undo it exactly.

    `snapshot` holds both customers' fields before the merge, the ids of every related row that
    was moved ({"app_label.Model.field": [ids]}), and the full rows that were deleted because the
    survivor already had their like (a phone, a tag, a consent), so undo puts back what was there.
    The merged customer is kept, soft-deleted, until the undo window closes.
    """

    survivor = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    merged = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    candidate = models.ForeignKey(
        DuplicateCandidate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    automatic = models.BooleanField(_("automatic"), default=False)
    score = models.FloatField(_("confidence"), null=True, blank=True)
    # {field: "survivor" | "merged"} as chosen or decided by the survivorship rule.
    choices = models.JSONField(default=dict)
    snapshot = models.JSONField(default=dict)
    merged_at = models.DateTimeField(_("merged at"), default=timezone.now)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        indexes = [
            models.Index(fields=["dealer", "-merged_at"], name="merge_recent"),
            models.Index(fields=["dealer", "survivor"], name="merge_survivor"),
            models.Index(fields=["dealer", "merged"], name="merge_merged"),
        ]
