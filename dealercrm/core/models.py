"""The organisation (brand → region → dealer group → dealer → department), staff and the audit log."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .permissions import DEALER_ROLES, NETWORK_ROLES, Role
from .tenancy import DealerOwnedModel


class Brand(models.Model):
    """The car brand (OEM) whose dealer network this installation serves."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")

    def __str__(self) -> str:
        return self.name


class Region(models.Model):
    """A sales region of the brand (华东, 华南 …)."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="regions")
    code = models.SlugField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    # Deactivated rather than deleted: dealers and history still point to it.
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="region_unique_code")]

    def __str__(self) -> str:
        return self.name


class DealerGroup(models.Model):
    """A dealer group (集团) owning several dealers; optional."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="dealer_groups")
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("dealer group")
        verbose_name_plural = _("dealer groups")

    def __str__(self) -> str:
        return self.name


class Dealer(models.Model):
    """A dealership (4S store). Owns its customers, vehicles and all their history."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="dealers")
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="dealers")
    group = models.ForeignKey(
        DealerGroup,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="dealers",
        verbose_name=_("dealer group"),
    )
    code = models.SlugField(_("dealer code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    province = models.CharField(_("province"), max_length=20)
    city = models.CharField(_("city"), max_length=40)
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=40, default="Asia/Shanghai")
    # The province's plate prefix (京, 沪, 粤 …) and city letter, used to check and generate plates.
    plate_prefix = models.CharField(_("plate prefix"), max_length=2, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("dealer")
        verbose_name_plural = _("dealers")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Department(DealerOwnedModel):
    """A department of a dealer: sales, after-sales service or customer care."""

    class Kind(models.TextChoices):
        SALES = "sales", _("Sales")
        SERVICE = "service", _("After-sales service")
        CARE = "care", _("Customer care")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        constraints = [
            models.UniqueConstraint(fields=["dealer", "kind"], name="department_unique_kind")
        ]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A member of staff: at one dealer (dealer roles) or at the brand (OEM and system roles)."""

    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    brand = models.ForeignKey(
        Brand,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("brand"),
    )
    dealer = models.ForeignKey(
        Dealer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("dealer"),
    )
    department = models.ForeignKey(
        Department,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("department"),
    )
    display_name = models.CharField(_("display name"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default="zh-hans"
    )
    on_duty = models.BooleanField(_("on duty"), default=True)

    objects = UserManager()

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        indexes = [models.Index(fields=["dealer", "role"], name="user_dealer_role")]
        constraints = [
            # A dealer role needs a dealer; a network role has none.
            models.CheckConstraint(
                condition=(
                    models.Q(role__in=sorted(r.value for r in DEALER_ROLES), dealer__isnull=False)
                    | models.Q(role__in=sorted(r.value for r in NETWORK_ROLES), dealer__isnull=True)
                    | models.Q(role="")
                ),
                name="user_role_matches_dealer",
            )
        ]

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def is_network_user(self) -> bool:
        return self.role in NETWORK_ROLES


class ApiToken(models.Model):
    """A token for integrations. Only a hash is stored; the token is shown once, when created."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=8)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def generate_key() -> str:
        return "dcrm_" + secrets.token_urlsafe(32)


class AuditEvent(models.Model):
    """Who created, changed, deleted, exported or unmasked what, and when. Append-only.

    Not a DealerOwnedModel: network-level events (a dealer created by the OEM) have no dealer,
    and the log must be written even where no scope is active. Reads filter by dealer explicitly.
    """

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        CHANGE = "change", _("Changed")
        DELETE = "delete", _("Deleted")
        EXPORT = "export", _("Exported")
        UNMASK = "unmask", _("Viewed full personal data")
        LOGIN = "login", _("Logged in")
        IMPORT = "import", _("Imported")
        MERGE = "merge", _("Merged")
        MERGE_UNDO = "merge_undo", _("Undid a merge")

    dealer = models.ForeignKey(
        Dealer, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    actor = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    target_type = models.CharField(_("object type"), max_length=64)
    target_id = models.CharField(_("object id"), max_length=64, blank=True)
    target_repr = models.CharField(_("object"), max_length=200, blank=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["dealer", "-at"], name="audit_dealer_at"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target_repr}"
