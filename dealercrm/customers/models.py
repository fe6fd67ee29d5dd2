"""Customers: the one record every department works from."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel, DealerScopedManager, DealerScopedQuerySet


class CustomerKind(models.TextChoices):
    PERSON = "person", _("Person")
    COMPANY = "company", _("Company")


class Gender(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")
    UNKNOWN = "unknown", _("Unknown")


class LifecycleStage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    IN_ORDER = "in_order", _("Customer in order")
    OWNER = "owner", _("Owner")
    LOYAL = "loyal", _("Loyal owner")
    AT_RISK = "at_risk", _("At risk")
    LOST = "lost", _("Lost")


class SourceChannel(models.TextChoices):
    WALK_IN = "walk_in", _("Walk-in")
    PHONE = "phone", _("Phone")
    WEBSITE = "website", _("Brand website")
    AUTO_SHOW = "auto_show", _("Auto show")
    REFERRAL = "referral", _("Referral")
    SOCIAL_MEDIA = "social_media", _("Social media")
    OEM_DISPATCH = "oem_dispatch", _("OEM dispatch")
    IMPORT = "import", _("Imported list")
    OTHER = "other", _("Other")


class IncomeBand(models.TextChoices):
    UNDER_100K = "lt100k", _("Under ¥100k a year")
    FROM_100K = "100k_300k", _("¥100k–300k a year")
    FROM_300K = "300k_600k", _("¥300k–600k a year")
    FROM_600K = "600k_1m", _("¥600k–1m a year")
    OVER_1M = "gt1m", _("Over ¥1m a year")


class Education(models.TextChoices):
    SECONDARY = "secondary", _("Secondary school")
    COLLEGE = "college", _("College")
    BACHELOR = "bachelor", _("Bachelor's degree")
    POSTGRADUATE = "postgraduate", _("Postgraduate")


class MaritalStatus(models.TextChoices):
    SINGLE = "single", _("Single")
    MARRIED = "married", _("Married")
    OTHER = "other", _("Other")


class ConsentChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone call")
    EMAIL = "email", _("E-mail")
    WECHAT = "wechat", _("WeChat")
    MAIL = "mail", _("Direct mail")


class CallOutcome(models.TextChoices):
    """How a logged phone call ended (kept in Interaction.outcome)."""

    REACHED = "reached", _("Reached the customer")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Line busy")
    CALL_BACK = "call_back", _("Asked to call back")
    NOT_INTERESTED = "not_interested", _("Not interested")
    WRONG_NUMBER = "wrong_number", _("Wrong number")


class CustomerQuerySet(DealerScopedQuerySet):
    def visible_to(self, user) -> CustomerQuerySet:  # noqa: ANN001
        """Rows this user may see: all of the scope's, or only their own without the permission."""
        from dealercrm.core.permissions import Perm

        if user.has_perm(Perm.VIEW_ALL_DEALER_CUSTOMERS):
            return self
        return self.filter(assigned_consultant_id=user.pk)

    def active(self) -> CustomerQuerySet:
        return self.filter(is_deleted=False)


class ScopedCustomerManager(DealerScopedManager.from_queryset(CustomerQuerySet)):  # type: ignore[misc]
    pass


class Customer(DealerOwnedModel):
    """A person or company the dealer sells to or serves: prospect, buyer or owner."""

    kind = models.CharField(
        _("kind"), max_length=10, choices=CustomerKind.choices, default=CustomerKind.PERSON
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("Chinese name or company name"))
    latin_name = models.CharField(_("Latin name"), max_length=100, blank=True)
    contact_person = models.CharField(_("contact person"), max_length=50, blank=True)
    gender = models.CharField(
        _("gender"), max_length=10, choices=Gender.choices, default=Gender.UNKNOWN
    )
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    # The lunar birthday the customer celebrates, when they do (month 1–12, day 1–30).
    lunar_birthday_month = models.PositiveSmallIntegerField(
        _("lunar birthday month"), null=True, blank=True
    )
    lunar_birthday_day = models.PositiveSmallIntegerField(
        _("lunar birthday day"), null=True, blank=True
    )
    lunar_birthday_leap = models.BooleanField(_("leap month"), default=False)
    # Resident ID: Fernet-encrypted; a keyed hash beside it finds exact matches and duplicates.
    id_number_encrypted = models.TextField(blank=True)
    id_number_hash = models.CharField(max_length=64, blank=True)
    id_number_masked = models.CharField(_("ID number"), max_length=20, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    wechat_id = models.CharField(_("WeChat ID"), max_length=64, blank=True)
    province = models.CharField(_("province"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=40, blank=True)
    district = models.CharField(_("district"), max_length=40, blank=True)
    street = models.CharField(_("street address"), max_length=200, blank=True)
    occupation = models.CharField(_("occupation"), max_length=60, blank=True)
    education = models.CharField(
        _("education"), max_length=16, choices=Education.choices, blank=True
    )
    income_band = models.CharField(
        _("income band"), max_length=16, choices=IncomeBand.choices, blank=True
    )
    marital_status = models.CharField(
        _("marital status"), max_length=10, choices=MaritalStatus.choices, blank=True
    )
    # Birth years rather than ages, so the ages stay right as time passes.
    children_birth_years = models.JSONField(_("children's birth years"), default=list, blank=True)
    interests = models.JSONField(_("interests"), default=list, blank=True)
    lifestyle = models.JSONField(_("lifestyle"), default=list, blank=True)
    source_channel = models.CharField(
        _("source channel"),
        max_length=16,
        choices=SourceChannel.choices,
        default=SourceChannel.WALK_IN,
    )
    assigned_consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_customers",
        verbose_name=_("assigned consultant"),
        db_index=False,
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=16,
        choices=LifecycleStage.choices,
        default=LifecycleStage.PROSPECT,
    )
    tags = models.ManyToManyField("Tag", through="CustomerTag", blank=True, related_name="+")
    is_deleted = models.BooleanField(default=False)
    # Optimistic lock: a save carries the version it read; a stale version is refused.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )

    objects = ScopedCustomerManager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        # One living customer per ID number and dealer. The services check first to name the
        # existing record; this settles two saves racing each other.
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "id_number_hash"],
                condition=~models.Q(id_number_hash="") & models.Q(is_deleted=False),
                name="customer_unique_id_number",
            )
        ]
        indexes = [
            models.Index(fields=["dealer", "assigned_consultant"], name="customer_consultant"),
            models.Index(fields=["dealer", "id_number_hash"], name="customer_id_hash"),
            models.Index(fields=["dealer", "lifecycle_stage"], name="customer_stage"),
            models.Index(fields=["dealer", "-updated_at"], name="customer_updated"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def form_of_address(self) -> str:
        """张先生 / 李女士 for a person, the company name for a company."""
        if self.kind == CustomerKind.COMPANY or not self.name:
            return self.name
        surname = self.name[0]
        if self.gender == Gender.MALE:
            return f"{surname}先生"
        if self.gender == Gender.FEMALE:
            return f"{surname}女士"
        return self.name


class CustomerPhone(DealerOwnedModel):
    """A phone number of a customer, in E.164. Shown masked unless the role may see it."""

    class Label(models.TextChoices):
        MOBILE = "mobile", _("Mobile")
        HOME = "home", _("Home")
        WORK = "work", _("Work")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="phones", db_index=False
    )
    number = models.CharField(_("phone"), max_length=20)
    label = models.CharField(_("label"), max_length=10, choices=Label.choices, default=Label.MOBILE)
    is_primary = models.BooleanField(_("primary"), default=False)
    # A call found the number wrong (a care call's outcome): kept, shown struck out, not dialled.
    wrong_number_reported_at = models.DateTimeField(_("reported wrong on"), null=True, blank=True)

    class Meta:
        verbose_name = _("phone")
        verbose_name_plural = _("phones")
        indexes = [
            models.Index(fields=["dealer", "number"], name="phone_number"),
            models.Index(fields=["dealer", "customer"], name="phone_customer"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "customer", "number"], name="phone_unique_per_customer"
            )
        ]

    def __str__(self) -> str:
        from .contact_masking import mask_phone

        return mask_phone(self.number)


class Tag(DealerOwnedModel):
    """A label a dealer puts on customers (VIP, 车友会, 二胎家庭 …)."""

    name = models.CharField(_("name"), max_length=40)
    color = models.CharField(_("colour"), max_length=16, default="blue")

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [models.UniqueConstraint(fields=["dealer", "name"], name="tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class CustomerTag(DealerOwnedModel):
    """A tag on a customer."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, db_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dealer", "customer", "tag"], name="customertag_unique")
        ]
        indexes = [models.Index(fields=["dealer", "tag"], name="customertag_tag")]


class Consent(DealerOwnedModel):
    """The customer's current marketing consent for one channel, with when and where it was given."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="consents", db_index=False
    )
    channel = models.CharField(_("channel"), max_length=10, choices=ConsentChannel.choices)
    granted = models.BooleanField(_("granted"), default=False)
    changed_at = models.DateTimeField(_("date"), default=timezone.now)
    source = models.CharField(_("source"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer", "customer", "channel"], name="consent_unique_channel"
            )
        ]


class Interaction(DealerOwnedModel):
    """Something that happened between the dealer and the customer: a note, call, visit, message."""

    class Kind(models.TextChoices):
        NOTE = "note", _("Note")
        CALL = "call", _("Phone call")
        VISIT = "visit", _("Visit")
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")
        WECHAT = "wechat", _("WeChat")

    class Direction(models.TextChoices):
        INBOUND = "in", _("Inbound")
        OUTBOUND = "out", _("Outbound")
        INTERNAL = "internal", _("Internal")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="interactions", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, default=Direction.INTERNAL
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("by"),
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=100, blank=True)
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), null=True, blank=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        indexes = [
            models.Index(fields=["dealer", "customer", "-occurred_at"], name="interaction_timeline")
        ]
