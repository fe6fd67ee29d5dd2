"""Satisfaction surveys (满意度调查): versioned questionnaires, invitations with a personal link,
responses and their answers, the dealer's survey settings, and a rollup the dashboard reads.

Versioning: questions belong to a `QuestionnaireVersion`. A published version is frozen; editing
a questionnaire makes a new draft version (a copy of the questions), so answers already given
keep pointing at the questions they answered.

Scores: rating questions are mapped to 0–100 (1–5: (v−1)/4·100, 1–10: (v−1)/9·100) for CSI;
NPS (0–10) counts promoters (9–10) and detractors (0–6). Expectation and experience questions
of one dimension give the gap the documents define: satisfaction = experience − expectation.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dealercrm.core.tenancy import DealerOwnedModel


class SurveyKind(models.TextChoices):
    AFTER_DELIVERY = "delivery", _("After delivery")
    AFTER_SERVICE = "service", _("After service")
    AFTER_COMPLAINT = "complaint", _("After a complaint")
    AD_HOC = "ad_hoc", _("Ad-hoc list")


class QuestionKind(models.TextChoices):
    RATING_5 = "rating5", _("Rating 1–5")
    RATING_10 = "rating10", _("Rating 1–10")
    NPS = "nps", _("Recommendation 0–10 (NPS)")
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    TEXT = "text", _("Free text")


# The numeric range of each scored kind (inclusive).
SCALES: dict[str, tuple[int, int]] = {
    QuestionKind.RATING_5: (1, 5),
    QuestionKind.RATING_10: (1, 10),
    QuestionKind.NPS: (0, 10),
}


class Dimension(models.TextChoices):
    SERVICE_QUALITY = "service_quality", _("Service quality")
    PRODUCT = "product", _("Product")
    PRICE = "price", _("Price")
    STAFF = "staff", _("Staff")
    FACILITIES = "facilities", _("Facilities")
    WAITING_TIME = "waiting_time", _("Waiting time")
    OVERALL = "overall", _("Overall")


class Aspect(models.TextChoices):
    """A rating question asks what the customer got, or what they had expected."""

    EXPERIENCE = "experience", _("Experience")
    EXPECTATION = "expectation", _("Expectation")


class Questionnaire(models.Model):
    """A survey, by the brand (dealer empty: every dealer may use it) or by one dealer."""

    brand = models.ForeignKey(
        "core.Brand", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    dealer = models.ForeignKey(
        "core.Dealer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("dealer"),
    )
    kind = models.CharField(_("sent"), max_length=12, choices=SurveyKind.choices)
    title = models.CharField(_("title"), max_length=120)
    # Shown at the top of the public answer page.
    introduction = models.TextField(_("introduction"), blank=True)
    is_active = models.BooleanField(_("in use"), default=True)
    current_version = models.ForeignKey(
        "QuestionnaireVersion",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("published version"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("questionnaire")
        verbose_name_plural = _("questionnaires")
        indexes = [
            models.Index(fields=["brand", "dealer", "kind"], name="questionnaire_owner_kind"),
        ]

    def __str__(self) -> str:
        return self.title


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Replaced")


class QuestionnaireVersion(models.Model):
    """One frozen-once-published set of questions of a questionnaire."""

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="versions", db_index=False
    )
    number = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("questionnaire version")
        verbose_name_plural = _("questionnaire versions")
        constraints = [
            models.UniqueConstraint(
                fields=["questionnaire", "number"], name="questionnaire_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.questionnaire_id} v{self.number}"


class Question(models.Model):
    """One question of one version. Rows of a published version are never changed."""

    version = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.CASCADE, related_name="questions", db_index=False
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    kind = models.CharField(_("answer type"), max_length=10, choices=QuestionKind.choices)
    dimension = models.CharField(
        _("dimension"), max_length=16, choices=Dimension.choices, blank=True
    )
    aspect = models.CharField(
        _("asks about"), max_length=12, choices=Aspect.choices, default=Aspect.EXPERIENCE
    )
    text = models.CharField(_("question"), max_length=300)
    help_text = models.CharField(_("hint"), max_length=300, blank=True)
    # Choice questions: the options, in order (a list of strings).
    choices = models.JSONField(_("options"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        indexes = [models.Index(fields=["version", "position"], name="question_position")]

    def __str__(self) -> str:
        return self.text[:40]


class InvitationStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENT = "sent", _("Sent")
    ANSWERED = "answered", _("Answered")
    EXPIRED = "expired", _("Expired")
    NOT_SENT = "not_sent", _("Could not be sent")
    CANCELLED = "cancelled", _("Cancelled")


class SurveyChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone call")


class SurveyInvitation(DealerOwnedModel):
    """One customer asked to answer one questionnaire version, by a personal link (or a call).

    The link carries a random token; only its SHA-256 is stored (`token_hash`), so the table
    never holds a usable link. One response per invitation (SurveyResponse.invitation unique).
    """

    version = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(_("sent"), max_length=12, choices=SurveyKind.choices)
    customer = models.ForeignKey(
        "customers.Customer",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        verbose_name=_("customer"),
    )
    vehicle = models.ForeignKey(
        "vehicles.Vehicle",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("vehicle"),
    )
    # Denormalised at creation so scores group by model, consultant and advisor without joins.
    car_model = models.ForeignKey(
        "vehicles.CarModel",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("model"),
    )
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("sales consultant"),
    )
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("service advisor"),
    )
    # What it follows: ("sales.order", id), ("service.repair_order", id),
    # ("feedback.complaint", id), ("feedback.survey_list", batch key).
    source_kind = models.CharField(max_length=40)
    source_id = models.CharField(max_length=64)
    channel = models.CharField(_("channel"), max_length=8, choices=SurveyChannel.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=InvitationStatus.choices,
        default=InvitationStatus.SCHEDULED,
    )
    send_at = models.DateTimeField(_("send at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("link expires at"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)  # messaging.Message, no FK
    failure = models.CharField(_("why not sent"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        constraints = [
            # A trigger that fires twice invites once.
            models.UniqueConstraint(
                fields=["dealer", "source_kind", "source_id", "customer"],
                name="survey_invitation_source_unique",
            )
        ]
        indexes = [
            models.Index(fields=["dealer", "status", "send_at"], name="survey_inv_due"),
            models.Index(fields=["dealer", "customer", "-created_at"], name="survey_inv_customer"),
            models.Index(fields=["dealer", "kind", "created_at"], name="survey_inv_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.customer_id}"


class ResponseChannel(models.TextChoices):
    WEB = "web", _("Answered online")
    PHONE = "phone", _("Phone survey")


class SurveyResponse(DealerOwnedModel):
    """The customer's answers to one invitation (at most one: the unique invitation)."""

    invitation = models.OneToOneField(
        SurveyInvitation, on_delete=models.CASCADE, related_name="response"
    )
    version = models.ForeignKey(
        QuestionnaireVersion, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(_("sent"), max_length=12, choices=SurveyKind.choices)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    car_model = models.ForeignKey(
        "vehicles.CarModel",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    channel = models.CharField(_("answered"), max_length=6, choices=ResponseChannel.choices)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        verbose_name=_("entered by"),
    )
    answered_at = models.DateTimeField(_("answered at"), default=timezone.now)
    nps = models.PositiveSmallIntegerField(_("recommendation (0–10)"), null=True, blank=True)
    # Mean of the experience ratings on 0–100, for lists and the timeline.
    csi = models.FloatField(_("satisfaction (0–100)"), null=True, blank=True)
    # Some answer is at or below the dealer's threshold (SurveySettings).
    is_low = models.BooleanField(_("low score"), default=False)
    # When the low-score alert (complaint or recovery task) was raised; the sweep catches misses.
    alerted_at = models.DateTimeField(null=True, blank=True)
    # When the response was added to the score rollup: the listener claims it first, so a
    # second call never counts it twice (a rebuild marks every response it counted).
    scored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        indexes = [
            models.Index(fields=["dealer", "answered_at"], name="survey_resp_at"),
            models.Index(fields=["dealer", "customer", "-answered_at"], name="survey_resp_cust"),
            models.Index(fields=["dealer", "is_low", "alerted_at"], name="survey_resp_low"),
        ]

    def __str__(self) -> str:
        return f"response {self.pk}"


class SurveyAnswer(DealerOwnedModel):
    """One answer. Dimension, aspect and kind are copied from the question, so scores are one
    GROUP BY over this table (and the rollup)."""

    response = models.ForeignKey(
        SurveyResponse, on_delete=models.CASCADE, related_name="answers", db_index=False
    )
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=QuestionKind.choices)
    dimension = models.CharField(max_length=16, choices=Dimension.choices, blank=True)
    aspect = models.CharField(max_length=12, choices=Aspect.choices, blank=True)
    value = models.SmallIntegerField(null=True, blank=True)  # scored kinds
    choices = models.JSONField(default=list, blank=True)  # chosen option(s)
    text = models.TextField(blank=True)

    class Meta:
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        indexes = [models.Index(fields=["dealer", "response"], name="survey_answer_response")]

    def __str__(self) -> str:
        return f"{self.question_id}={self.value}"


class LowScoreAction(models.TextChoices):
    COMPLAINT = "complaint", _("Open a complaint")
    RECOVERY_TASK = "recovery_task", _("Give the manager a recovery task")
    BOTH = "both", _("Both")


class SurveySettings(DealerOwnedModel):
    """A dealer's survey triggers and thresholds. Missing row: the defaults below."""

    after_delivery = models.BooleanField(_("survey after delivery"), default=True)
    delivery_delay_hours = models.PositiveIntegerField(_("hours after delivery"), default=24)
    after_service = models.BooleanField(_("survey after service"), default=True)
    # A few hours: early enough to recover a customer before the brand's survey at 48–72 h.
    service_delay_hours = models.PositiveIntegerField(
        _("hours after the repair order closes"), default=3
    )
    after_complaint = models.BooleanField(_("survey after a complaint closes"), default=True)
    complaint_delay_hours = models.PositiveIntegerField(
        _("hours after the complaint closes"), default=24
    )
    channel = models.CharField(
        _("send by"), max_length=8, choices=SurveyChannel.choices, default=SurveyChannel.SMS
    )
    link_valid_days = models.PositiveIntegerField(_("link valid for (days)"), default=7)
    # An answer at or below these is "low".
    low_rating5 = models.PositiveSmallIntegerField(_("low on a 1–5 rating"), default=2)
    low_rating10 = models.PositiveSmallIntegerField(_("low on a 1–10 rating"), default=4)
    low_nps = models.PositiveSmallIntegerField(_("low recommendation (0–10)"), default=6)
    low_action = models.CharField(
        _("on a low score"),
        max_length=14,
        choices=LowScoreAction.choices,
        default=LowScoreAction.BOTH,
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("survey settings")
        verbose_name_plural = _("survey settings")
        constraints = [models.UniqueConstraint(fields=["dealer"], name="survey_settings_unique")]

    def __str__(self) -> str:
        return f"survey settings {self.dealer_id}"


class SurveyScoreRollup(DealerOwnedModel):
    """Sums of scored answers per dealer, month and slice, so the satisfaction dashboard reads a
    few thousand rows instead of a million answers. Kept up to date when a response is recorded
    and rebuildable set-based from SurveyAnswer (services/scores.py).

    - "No consultant / advisor / model" is 0, not NULL, so the unique key works as an upsert
      target on both engines; -1 means "all" in a column summed away.
    - Each fact is stored at five grains: the full consultant × advisor × model slice,
      consultant only, advisor only, model only, and the dealer total; the dashboard reads the
      coarsest grain that answers its filters.
    - Besides the scored question kinds, `question_kind` "responded" and "invited" rows count
      responses and sent invitations, so the response rate comes from here too.
    """

    month = models.DateField()  # first day of the month the answers were given (dealer's zone)
    kind = models.CharField(max_length=12, choices=SurveyKind.choices)
    question_kind = models.CharField(max_length=10, choices=QuestionKind.choices)
    dimension = models.CharField(max_length=16, blank=True)
    aspect = models.CharField(max_length=12, blank=True)
    consultant_id = models.IntegerField(default=0)
    advisor_id = models.IntegerField(default=0)
    car_model_id = models.IntegerField(default=0)
    answers = models.PositiveIntegerField(default=0)
    points = models.FloatField(default=0)  # sum of answers on 0–100 (CSI)
    points_sq = models.FloatField(default=0)  # sum of squares, for the interval
    promoters = models.PositiveIntegerField(default=0)  # NPS rows: 9–10
    detractors = models.PositiveIntegerField(default=0)  # NPS rows: 0–6

    class Meta:
        verbose_name = _("survey score rollup")
        verbose_name_plural = _("survey score rollups")
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "dealer",
                    "month",
                    "kind",
                    "question_kind",
                    "dimension",
                    "aspect",
                    "consultant_id",
                    "advisor_id",
                    "car_model_id",
                ],
                name="survey_rollup_key",
            )
        ]
        # Covers the dashboard's reads (sums included), so SQLite answers from the index alone:
        # OEM page p95 at 1M answers 180 ms with it, 2.8 s without (docs/benchmarks.md).
        indexes = [
            models.Index(
                fields=[
                    "dealer",
                    "car_model_id",
                    "advisor_id",
                    "consultant_id",
                    "month",
                    "kind",
                    "question_kind",
                    "aspect",
                    "dimension",
                    "answers",
                    "points",
                    "points_sq",
                    "promoters",
                    "detractors",
                ],
                name="survey_rollup_slice",
            )
        ]

    def __str__(self) -> str:
        return f"{self.dealer_id} {self.month} {self.dimension}"
