"""OEM dispatch: leads the brand collected centrally and hands to the dealer the prospect chose."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class OemDispatch(DealerOwnedModel):
    """A prospect the OEM confirmed for a test drive at `dealer` on `test_drive_date`.

    Held by the OEM until `release_on` (the dealer's `dispatch_release_days` before the date):
    only then is the lead created at the dealer, assigned, notified and given its three tasks.
    Dealer staff never read this table (only DISPATCH_LEADS / VIEW_FUNNEL roles do); what they
    see is the lead. The prospect's phone is kept here until release, in E.164.
    """

    car_model = models.ForeignKey(
        "vehicles.CarModel",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("model"),
    )
    prospect_name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("mobile"), max_length=20)
    wechat_id = models.CharField(_("WeChat ID"), max_length=64, blank=True)
    test_drive_date = models.DateField(_("test-drive date"))
    preferred_time = models.CharField(_("preferred time"), max_length=40, blank=True)
    pickup_requested = models.BooleanField(_("pick-up wanted"), default=False)
    pickup_address = models.CharField(_("pick-up address"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True)
    campaign = models.CharField(_("campaign"), max_length=100, blank=True)
    release_on = models.DateField(_("release to the dealer on"))
    released_at = models.DateTimeField(_("released"), null=True, blank=True)
    lead = models.OneToOneField(
        "sales.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="dispatch"
    )
    # The OEM's own reference (import rows, its call centre's id): importing again adds nothing.
    external_ref = models.CharField(_("OEM reference"), max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("OEM dispatch")
        verbose_name_plural = _("OEM dispatches")
        ordering = ["test_drive_date", "id"]
        indexes = [
            models.Index(
                fields=["dealer", "release_on"],
                name="dispatch_to_release",
                condition=models.Q(released_at__isnull=True),
            ),
            models.Index(fields=["dealer", "test_drive_date"], name="dispatch_date"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "external_ref"],
                name="dispatch_unique_ref",
                condition=~models.Q(external_ref=""),
            )
        ]

    def __str__(self) -> str:
        return f"{self.prospect_name} {self.test_drive_date}"
