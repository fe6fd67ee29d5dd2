"""Survey invitations: the triggers (a delivery, a repair order closed, a complaint closed, an
ad-hoc list), sending the due ones through messaging with the personal link, and expiry.

The triggers are set-based sweeps: per dealer a few queries find the candidates of the last
days, one query finds those already invited (or surveyed too recently), and one
`bulk_create(ignore_conflicts=True)` writes the rest. The unique (dealer, source_kind,
source_id, customer) makes a second run create nothing.

The link's token exists in plain text only in the message: the database keeps its SHA-256.
The token is therefore made when the message is written (see `_send_one`), not when the
invitation is scheduled.
"""

from __future__ import annotations

import datetime
import logging
import uuid
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from dealercrm.core.models import Dealer, User
from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.models import Consent, Customer

from ..models import (
    Complaint,
    ComplaintStatus,
    InvitationStatus,
    QuestionnaireVersion,
    SurveyChannel,
    SurveyInvitation,
    SurveyKind,
    SurveySettings,
)
from .survey_links import new_token
from .survey_settings import settings_for_dealer

logger = logging.getLogger(__name__)

# Events older than this are not surveyed any more (a job that was down for a day still
# catches up; a trigger switched on today does not survey last year's customers).
LOOKBACK = datetime.timedelta(days=7)
# A customer asked about the same kind of visit within this many days is not asked again.
FATIGUE_DAYS = 30
# Ad-hoc lists: asked anything within this many days → left out of the list.
SEND_BATCH = 200

SOURCE_ORDER = "sales.order"
SOURCE_REPAIR_ORDER = "service.repair_order"
SOURCE_COMPLAINT = "feedback.complaint"
SOURCE_LIST = "feedback.survey_list"

KIND_OF_SOURCE = {
    SOURCE_ORDER: SurveyKind.AFTER_DELIVERY,
    SOURCE_REPAIR_ORDER: SurveyKind.AFTER_SERVICE,
    SOURCE_COMPLAINT: SurveyKind.AFTER_COMPLAINT,
}


@dataclass
class KindReport:
    candidates: int = 0
    created: int = 0
    already_invited: int = 0
    fatigue_skipped: int = 0
    no_questionnaire: int = 0  # candidates left out because no published questionnaire fits

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class ScheduleReport:
    """What a scheduling run did, per survey kind, summed over the dealers it ran for."""

    dealers: int = 0
    kinds: dict[str, KindReport] = field(default_factory=dict)

    def kind(self, kind: str) -> KindReport:
        return self.kinds.setdefault(kind, KindReport())

    @property
    def created(self) -> int:
        return sum(k.created for k in self.kinds.values())

    @property
    def fatigue_skipped(self) -> int:
        return sum(k.fatigue_skipped for k in self.kinds.values())

    @property
    def no_questionnaire(self) -> int:
        return sum(k.no_questionnaire for k in self.kinds.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "dealers": self.dealers,
            "created": self.created,
            "kinds": {k: v.as_dict() for k, v in self.kinds.items()},
        }


@dataclass
class SendReport:
    sent: int = 0
    not_sent: int = 0
    phone: int = 0  # phone-channel invitations: no message, listed for a call

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Candidate:
    customer_id: int
    source_id: str
    event_at: datetime.datetime
    vehicle_id: int | None = None
    car_model_id: int | None = None
    consultant_id: int | None = None
    advisor_id: int | None = None


def _dealers(dealer_ids: Iterable[int] | None) -> list[Dealer]:
    with dealer_scope(None):
        qs = Dealer.objects.filter(is_active=True).order_by("id")
        if dealer_ids is not None:
            qs = qs.filter(pk__in=list(dealer_ids))
        return list(qs)


def _zone(dealer: Dealer) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(dealer.time_zone or "Asia/Shanghai")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Asia/Shanghai")


# --- the candidates of each trigger (one query each) -----------------------------------------


def _delivery_candidates(
    dealer: Dealer, since: datetime.datetime, now: datetime.datetime
) -> list[_Candidate]:
    from dealercrm.sales.models import Order, OrderStage

    zone = _zone(dealer)
    rows = (
        Order.objects.filter(
            dealer_id=dealer.pk,
            delivered_on__isnull=False,
            delivered_on__gte=since.astimezone(zone).date(),
            delivered_on__lte=now.astimezone(zone).date(),
            customer__is_deleted=False,
        )
        .exclude(stage=OrderStage.CANCELLED)
        .values(
            "pk",
            "customer_id",
            "vehicle_id",
            "car_model_id",
            "delivered_on",
            "lead__delivered_at",
            "lead__consultant_id",
            "customer__assigned_consultant_id",
        )
    )
    out = []
    for row in rows:
        # The lead keeps the moment of the hand-over; an order alone only has the day (noon).
        event_at = row["lead__delivered_at"] or datetime.datetime.combine(
            row["delivered_on"], datetime.time(12, 0), tzinfo=zone
        )
        out.append(
            _Candidate(
                customer_id=row["customer_id"],
                source_id=str(row["pk"]),
                event_at=event_at,
                vehicle_id=row["vehicle_id"],
                car_model_id=row["car_model_id"],
                consultant_id=row["lead__consultant_id"] or row["customer__assigned_consultant_id"],
            )
        )
    return out


def _repair_order_candidates(
    dealer: Dealer, since: datetime.datetime, now: datetime.datetime
) -> list[_Candidate]:
    from dealercrm.service.models import RepairOrder, RepairOrderStatus

    rows = RepairOrder.objects.filter(
        dealer_id=dealer.pk,
        status=RepairOrderStatus.CLOSED,
        closed_at__gte=since,
        closed_at__lte=now,
        customer__isnull=False,
        customer__is_deleted=False,
    ).values(
        "pk",
        "customer_id",
        "vehicle_id",
        "vehicle__car_model_id",
        "closed_at",
        "advisor_id",
        "customer__assigned_consultant_id",
    )
    return [
        _Candidate(
            customer_id=row["customer_id"],
            source_id=str(row["pk"]),
            event_at=row["closed_at"],
            vehicle_id=row["vehicle_id"],
            car_model_id=row["vehicle__car_model_id"],
            consultant_id=row["customer__assigned_consultant_id"],
            advisor_id=row["advisor_id"],
        )
        for row in rows
    ]


def _complaint_candidates(
    dealer: Dealer, since: datetime.datetime, now: datetime.datetime
) -> list[_Candidate]:
    rows = Complaint.objects.filter(
        dealer_id=dealer.pk,
        status=ComplaintStatus.CLOSED,
        closed_at__gte=since,
        closed_at__lte=now,
        customer__is_deleted=False,
    ).values(
        "pk",
        "customer_id",
        "vehicle_id",
        "car_model_id",
        "closed_at",
        "customer__assigned_consultant_id",
    )
    return [
        _Candidate(
            customer_id=row["customer_id"],
            source_id=str(row["pk"]),
            event_at=row["closed_at"],
            vehicle_id=row["vehicle_id"],
            car_model_id=row["car_model_id"],
            consultant_id=row["customer__assigned_consultant_id"],
        )
        for row in rows
    ]


TRIGGERS = (
    # (source kind, settings switch, settings delay, candidates)
    (SOURCE_ORDER, "after_delivery", "delivery_delay_hours", _delivery_candidates),
    (SOURCE_REPAIR_ORDER, "after_service", "service_delay_hours", _repair_order_candidates),
    (SOURCE_COMPLAINT, "after_complaint", "complaint_delay_hours", _complaint_candidates),
)


def _recently_surveyed(
    dealer_id: int, customer_ids: Sequence[int], kind: str | None, since: datetime.datetime
) -> set[int]:
    """Customers invited since `since` (for `kind`, or any kind when None), one query."""
    if not customer_ids:
        return set()
    qs = SurveyInvitation.objects.filter(
        dealer_id=dealer_id, customer_id__in=list(customer_ids), created_at__gte=since
    ).exclude(status=InvitationStatus.CANCELLED)
    if kind is not None:
        qs = qs.filter(kind=kind)
    return set(qs.values_list("customer_id", flat=True))


def _schedule_kind(
    *,
    dealer: Dealer,
    survey_settings: SurveySettings,
    source_kind: str,
    delay_hours: int,
    candidates: list[_Candidate],
    now: datetime.datetime,
    report: KindReport,
) -> None:
    from ..selectors.questionnaires import questionnaire_for

    kind = KIND_OF_SOURCE[source_kind]
    report.candidates += len(candidates)
    if not candidates:
        return
    # Already invited for this very source: a second run, not fatigue.
    invited = set(
        SurveyInvitation.objects.filter(
            dealer_id=dealer.pk,
            source_kind=source_kind,
            source_id__in=[c.source_id for c in candidates],
        ).values_list("source_id", "customer_id")
    )
    fresh = [c for c in candidates if (c.source_id, c.customer_id) not in invited]
    report.already_invited += len(candidates) - len(fresh)
    if not fresh:
        return
    # One invitation per customer per run: the latest event (two repair orders the same day).
    latest: dict[int, _Candidate] = {}
    for c in sorted(fresh, key=lambda c: (c.event_at, c.source_id)):
        latest[c.customer_id] = c
    report.fatigue_skipped += len(fresh) - len(latest)
    tired = _recently_surveyed(
        dealer.pk, list(latest), kind, now - datetime.timedelta(days=FATIGUE_DAYS)
    )
    report.fatigue_skipped += len(tired)
    chosen = [c for cid, c in latest.items() if cid not in tired]
    if not chosen:
        return
    version = questionnaire_for(dealer.pk, kind)
    if version is None:
        report.no_questionnaire += len(chosen)
        return
    delay = datetime.timedelta(hours=delay_hours)
    valid = datetime.timedelta(days=survey_settings.link_valid_days)
    rows = []
    for c in chosen:
        send_at = c.event_at + delay
        rows.append(
            SurveyInvitation(
                dealer_id=dealer.pk,
                version_id=version.pk,
                kind=kind,
                customer_id=c.customer_id,
                vehicle_id=c.vehicle_id,
                car_model_id=c.car_model_id,
                consultant_id=c.consultant_id,
                advisor_id=c.advisor_id,
                source_kind=source_kind,
                source_id=c.source_id,
                channel=survey_settings.channel,
                # A placeholder hash: the token of the link is made when the message is sent.
                token_hash=new_token()[1],
                status=InvitationStatus.SCHEDULED,
                send_at=send_at,
                expires_at=send_at + valid,
                created_at=now,
            )
        )
    SurveyInvitation.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    report.created += SurveyInvitation.objects.filter(
        dealer_id=dealer.pk, token_hash__in=[r.token_hash for r in rows]
    ).count()


def survey_invitations_schedule(
    *, now: datetime.datetime | None = None, dealer_ids: Iterable[int] | None = None
) -> ScheduleReport:
    """Create the invitations the triggers call for (deliveries, closed repair orders, closed
    complaints of the last LOOKBACK), each to be sent its settings' delay after the event.
    Idempotent: a second run creates nothing. A customer surveyed for the same kind within
    FATIGUE_DAYS is skipped and counted."""
    now = now or timezone.now()
    since = now - LOOKBACK
    report = ScheduleReport()
    for dealer in _dealers(dealer_ids):
        report.dealers += 1
        with dealer_scope(dealer.pk), transaction.atomic():
            survey_settings = settings_for_dealer(dealer.pk)
            for source_kind, switch, delay_field, find in TRIGGERS:
                if not getattr(survey_settings, switch):
                    continue
                _schedule_kind(
                    dealer=dealer,
                    survey_settings=survey_settings,
                    source_kind=source_kind,
                    delay_hours=getattr(survey_settings, delay_field),
                    candidates=find(dealer, since, now),
                    now=now,
                    report=report.kind(KIND_OF_SOURCE[source_kind]),
                )
    return report


# --- sending ---------------------------------------------------------------------------------


def survey_link(token: str) -> str:
    """The customer's personal link (absolute)."""
    path = reverse("surveys_public:answer", kwargs={"survey_token": token})
    return settings.SITE_URL.rstrip("/") + path


def _invitation_text(kind: str) -> str:
    # The customer reads Chinese whatever language the job runs in.
    with translation.override("zh-hans"):
        subjects = {
            SurveyKind.AFTER_DELIVERY: _("your new car's delivery"),
            SurveyKind.AFTER_SERVICE: _("your visit to our workshop"),
            SurveyKind.AFTER_COMPLAINT: _("how we handled your concern"),
        }
        about = subjects.get(kind, _("our service"))
        return _(
            "{{ salutation }}, thank you for choosing {{ dealer_name }}. How was %(about)s? "
            "One minute of your time helps us improve: {{ link }}"
        ) % {"about": about}


def _withdrawn(dealer_id: int, customer_ids: Sequence[int], channel: str) -> set[int]:
    """Customers who said no to this channel (an explicit refusal or a T reply), one query.

    A survey invitation is a service message, so messaging needs no marketing consent for it;
    but a customer who withdrew a channel is not asked for their opinion on it either.
    """
    if not customer_ids:
        return set()
    return set(
        Consent.objects.filter(
            dealer_id=dealer_id,
            customer_id__in=list(customer_ids),
            channel=channel,
            granted=False,
        ).values_list("customer_id", flat=True)
    )


def _first_error(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        for messages in exc.message_dict.values():
            if messages:
                return str(messages[0])
    return "; ".join(str(m) for m in exc.messages)


def _send_one(invitation: SurveyInvitation, customer: Customer, now: datetime.datetime) -> bool:
    """Queue the invitation's message; True when sent, False when marked not_sent.

    The token is regenerated here (and its hash replaces the placeholder) so that no plain
    token is ever stored: making the message text at scheduling time would have meant keeping
    the token, or the whole text with the link, in the database for hours. The message's
    idempotency key is (survey, invitation id), so a retry after a crash finds the message
    already queued: then the invitation is only marked sent, and the token is left alone (a
    new one would break the link in the message already written).
    """
    from dealercrm.messaging.models import Message, Purpose
    from dealercrm.messaging.services import message_send

    existing = (
        Message.objects.filter(
            dealer_id=invitation.dealer_id,
            source_kind=Message.SourceKind.SURVEY,
            source_id=str(invitation.pk),
            customer_id=invitation.customer_id,
        )
        .values_list("pk", flat=True)
        .first()
    )
    if existing is not None:
        SurveyInvitation.objects.filter(pk=invitation.pk).update(
            status=InvitationStatus.SENT, sent_at=now, message_id=existing, failure=""
        )
        return True
    token, token_hash = new_token()
    try:
        with transaction.atomic():
            message = message_send(
                actor=None,
                customer=customer,
                channel=invitation.channel,
                purpose=Purpose.SURVEY_INVITATION,
                body=_invitation_text(invitation.kind),
                source_kind=Message.SourceKind.SURVEY,
                source_id=str(invitation.pk),
                extra={"link": survey_link(token)},
            )
            SurveyInvitation.objects.filter(pk=invitation.pk).update(
                token_hash=token_hash,
                status=InvitationStatus.SENT,
                sent_at=now,
                message_id=message.pk,
                failure="",
            )
    except ValidationError as exc:
        SurveyInvitation.objects.filter(pk=invitation.pk).update(
            status=InvitationStatus.NOT_SENT, failure=_first_error(exc)[:200]
        )
        return False
    return True


def _send(
    invitations: Sequence[SurveyInvitation], now: datetime.datetime, report: SendReport
) -> None:
    by_channel: dict[str, list[SurveyInvitation]] = {}
    for inv in invitations:
        by_channel.setdefault(inv.channel, []).append(inv)
    for channel, group in by_channel.items():
        if channel == SurveyChannel.PHONE:
            report.phone += len(group)
            continue
        dealer_id = group[0].dealer_id
        refused = _withdrawn(dealer_id, [i.customer_id for i in group], channel)
        if refused:
            reason = _("The customer has withdrawn consent for %(channel)s.") % {
                "channel": SurveyChannel(channel).label
            }
            SurveyInvitation.objects.filter(
                pk__in=[i.pk for i in group if i.customer_id in refused]
            ).update(status=InvitationStatus.NOT_SENT, failure=reason[:200])
            report.not_sent += sum(1 for i in group if i.customer_id in refused)
        customers = Customer.objects.in_bulk(
            [i.customer_id for i in group if i.customer_id not in refused]
        )
        for inv in group:
            if inv.customer_id in refused:
                continue
            customer = customers.get(inv.customer_id)
            if customer is None or customer.is_deleted:
                SurveyInvitation.objects.filter(pk=inv.pk).update(
                    status=InvitationStatus.NOT_SENT,
                    failure=_("This customer cannot get messages any more."),
                )
                report.not_sent += 1
            elif _send_one(inv, customer, now):
                report.sent += 1
            else:
                report.not_sent += 1


def survey_invitations_send_due(
    *, now: datetime.datetime | None = None, dealer_ids: Iterable[int] | None = None
) -> SendReport:
    """Send the scheduled invitations whose time has come (and whose link has not expired)
    through messaging. Phone invitations get no message: they wait on the call list."""
    now = now or timezone.now()
    report = SendReport()
    for dealer in _dealers(dealer_ids):
        with dealer_scope(dealer.pk):
            while True:
                batch = list(
                    SurveyInvitation.objects.filter(
                        dealer_id=dealer.pk,
                        status=InvitationStatus.SCHEDULED,
                        send_at__lte=now,
                        expires_at__gt=now,
                    )
                    .exclude(channel=SurveyChannel.PHONE)
                    .order_by("send_at", "id")[:SEND_BATCH]
                )
                if not batch:
                    break
                _send(batch, now, report)
                if len(batch) < SEND_BATCH:
                    break
    if report.sent:
        # The response rate's denominator changed: recount this month's invitations.
        from .scores import rollup_refresh_invitations

        rollup_refresh_invitations(dealer_ids=[d.pk for d in _dealers(dealer_ids)], months=1)
    return report


def survey_invitations_expire(now: datetime.datetime | None = None) -> int:
    """Unanswered invitations whose link has expired → expired (one UPDATE)."""
    now = now or timezone.now()
    with dealer_scope(None):
        return (
            SurveyInvitation.objects.unscoped()
            .filter(
                status__in=(InvitationStatus.SCHEDULED, InvitationStatus.SENT),
                expires_at__lte=now,
            )
            .update(status=InvitationStatus.EXPIRED)
        )


# --- ad-hoc lists ----------------------------------------------------------------------------


@dataclass
class ListReport:
    batch: str
    requested: int = 0
    created: int = 0
    fatigue_skipped: int = 0
    unknown: int = 0  # ids that are not the dealer's (live) customers
    sent: int = 0
    not_sent: int = 0
    phone: int = 0
    invitation_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def survey_list_send(
    *,
    actor: User | None,
    dealer_id: int,
    customer_ids: Sequence[int],
    channel: str,
    questionnaire_version_id: int | None = None,
    kind: str | None = None,
    now: datetime.datetime | None = None,
) -> ListReport:
    """Invite a list of the dealer's customers now (kind "ad-hoc list"): to the given published
    version, or to the questionnaire the dealer uses for `kind`. Customers asked anything in
    the last FATIGUE_DAYS are left out (counted). Messages go out at once; phone invitations
    are listed for care specialists to call and enter through the phone survey page."""
    from ..selectors.questionnaires import questionnaire_for

    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    if channel not in SurveyChannel.values:
        errors["channel"] = [_("Choose how the survey is sent.")]
    ids = sorted({int(i) for i in customer_ids or []})
    if not ids:
        errors["customer_ids"] = [_("Choose at least one customer.")]
    version: QuestionnaireVersion | None = None
    with dealer_scope(dealer_id):
        if questionnaire_version_id is not None:
            from ..models import VersionStatus

            version = (
                QuestionnaireVersion.objects.filter(
                    pk=questionnaire_version_id, status=VersionStatus.PUBLISHED
                )
                .select_related("questionnaire")
                .first()
            )
            dealer_brand = (
                Dealer.objects.filter(pk=dealer_id).values_list("brand_id", flat=True).first()
            )
            if version is None or not (
                version.questionnaire.brand_id == dealer_brand
                and version.questionnaire.dealer_id in (None, dealer_id)
            ):
                version = None
                errors["questionnaire_version_id"] = [
                    _("Choose a published questionnaire of this dealer or its brand.")
                ]
        elif kind in SurveyKind.values:
            version = questionnaire_for(dealer_id, kind)
            if version is None:
                errors["kind"] = [_("There is no published questionnaire of this kind.")]
        else:
            errors["kind"] = [_("Choose a questionnaire.")]
        if errors:
            raise ValidationError(errors)
        assert version is not None
        report = ListReport(batch=uuid.uuid4().hex[:16], requested=len(ids))
        live = set(
            Customer.objects.filter(dealer_id=dealer_id, pk__in=ids, is_deleted=False).values_list(
                "pk", flat=True
            )
        )
        report.unknown = len(ids) - len(live)
        tired = _recently_surveyed(
            dealer_id, sorted(live), None, now - datetime.timedelta(days=FATIGUE_DAYS)
        )
        report.fatigue_skipped = len(tired)
        chosen = sorted(live - tired)
        if not chosen:
            return report
        survey_settings = settings_for_dealer(dealer_id)
        customers = Customer.objects.in_bulk(chosen)
        rows = [
            SurveyInvitation(
                dealer_id=dealer_id,
                version_id=version.pk,
                kind=SurveyKind.AD_HOC,
                customer_id=cid,
                consultant_id=customers[cid].assigned_consultant_id,
                source_kind=SOURCE_LIST,
                source_id=report.batch,
                channel=channel,
                token_hash=new_token()[1],
                status=InvitationStatus.SCHEDULED,
                send_at=now,
                expires_at=now + datetime.timedelta(days=survey_settings.link_valid_days),
                created_by=actor if actor is not None and actor.is_authenticated else None,
                created_at=now,
            )
            for cid in chosen
        ]
        with transaction.atomic():
            SurveyInvitation.objects.bulk_create(rows, batch_size=500)
        created = list(
            SurveyInvitation.objects.filter(
                dealer_id=dealer_id, source_kind=SOURCE_LIST, source_id=report.batch
            ).order_by("id")
        )
        report.created = len(created)
        report.invitation_ids = [i.pk for i in created]
        send = SendReport()
        _send(created, now, send)
        report.sent, report.not_sent, report.phone = send.sent, send.not_sent, send.phone
        return report
