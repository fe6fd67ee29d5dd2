"""Reads: leads — by id for a user (404 otherwise), the filtered list, follow-ups due, losses
awaiting a decision, the lead page's data and the lead part of the customer timeline."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from itertools import groupby

from django.core.paginator import Page, Paginator
from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm, Role
from dealercrm.customers.timeline import ProviderQuery, TimelineEntry, TimelineQueries

from ..models import Activity, Lead, LeadChannel, LeadEvent, LeadStage, LossReason
from ..models.leads import LeadQuerySet

PAGE_SIZE = 25


def visible_leads(user: User) -> LeadQuerySet:
    """The leads this user may see in the active scope: their dealer's (a consultant only their
    own), every dealer of the brand for OEM roles."""
    qs: LeadQuerySet = Lead.objects.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.role == Role.SYSTEM_ADMIN:
        pass
    elif user.has_perm(Perm.VIEW_NETWORK) and user.brand_id:
        qs = qs.filter(dealer__brand_id=user.brand_id)
    elif user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    else:
        return qs.none()
    return qs.visible_to(user)


def get_lead_for_user(user: User, lead_id: int | str) -> Lead:
    """The lead, or Http404 alike for missing, another dealer's or another consultant's."""
    try:
        return (
            visible_leads(user)
            .select_related(
                "customer",
                "customer__assigned_consultant",
                "consultant",
                "car_model",
                "referrer",
                "dealer",
                "loss_requested_by",
            )
            .get(pk=int(lead_id))
        )
    except (Lead.DoesNotExist, TypeError, ValueError) as exc:
        raise Http404 from exc


@dataclass(frozen=True)
class LeadFilters:
    stage: str = ""
    channel: str = ""
    consultant: str = ""  # a user id, or "none" for unassigned
    overdue: bool = False
    q: str = ""
    dealer: str = ""  # a dealer id (network users); the scope still decides what is visible

    @classmethod
    def from_params(cls, params) -> LeadFilters:  # noqa: ANN001 — a QueryDict or a dict
        stage = params.get("stage", "")
        channel = params.get("channel", "")
        return cls(
            stage=stage if stage in (*LeadStage.values, "open") else "",
            channel=channel if channel in LeadChannel.values else "",
            consultant=(params.get("consultant", "") or "").strip(),
            overdue=params.get("overdue") in ("1", "true", "on"),
            q=(params.get("q", "") or "").strip()[:50],
            dealer=(params.get("dealer", "") or "").strip(),
        )


def lead_list_queryset(
    user: User, filters: LeadFilters, *, today: datetime.date | None = None
) -> LeadQuerySet:
    today = today or timezone.localdate()
    qs = visible_leads(user)
    if filters.stage == "open":
        qs = qs.open()
    elif filters.stage:
        qs = qs.filter(stage=filters.stage)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.dealer.isdigit():
        qs = qs.filter(dealer_id=int(filters.dealer))
    if filters.consultant == "none":
        qs = qs.filter(consultant__isnull=True)
    elif filters.consultant.isdigit():
        qs = qs.filter(consultant_id=int(filters.consultant))
    if filters.overdue:
        qs = qs.filter(
            Q(pk__in=qs.next_action_overdue(today).values("pk"))
            | Q(pk__in=qs.response_overdue().values("pk"))
        )
    if filters.q:
        qs = qs.filter(customer__name__contains=filters.q)
    return qs.select_related("customer", "consultant", "car_model", "dealer").order_by(
        "-created_at", "-id"
    )


def lead_list(user: User, filters: LeadFilters, *, page: int | str = 1) -> Page:
    return Paginator(lead_list_queryset(user, filters), PAGE_SIZE).get_page(page)


def sales_staff(dealer_id: int | None) -> list[User]:
    """The dealer's consultants and managers, for assignment and filters."""
    if not dealer_id:
        return []
    return list(
        User.objects.filter(
            dealer_id=dealer_id,
            is_active=True,
            role__in=[Role.SALES_CONSULTANT, Role.DEALER_MANAGER],
        ).order_by("role", "display_name", "username")
    )


@dataclass
class FollowUps:
    overdue: list[Lead]
    today: list[Lead]
    without_next_action: list[Lead]

    @property
    def total(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.without_next_action)

    def by_consultant(self) -> list[tuple[str, list[Lead]]]:
        """All three lists, grouped by consultant (the manager's view)."""
        rows = [*self.overdue, *self.today, *self.without_next_action]
        rows.sort(key=lambda lead: (str(lead.consultant or ""), lead.next_action_due or _FAR))
        return [
            (name or _("Not assigned"), list(group))
            for name, group in groupby(rows, key=lambda lead: str(lead.consultant or ""))
        ]


_FAR = datetime.date(9999, 12, 31)
FOLLOWUP_LIMIT = 300


def followups_due(user: User, *, today: datetime.date) -> FollowUps:
    """Open leads whose next action is overdue or due today, and open leads without one
    (contacted at least once, or not new). One query."""
    qs = (
        visible_leads(user)
        .open()
        .filter(
            Q(next_action_due__lte=today)
            | (
                Q(next_action_due__isnull=True)
                & (Q(first_contacted_at__isnull=False) | ~Q(stage=LeadStage.NEW))
            )
        )
        .select_related("customer", "consultant", "car_model")
        .order_by("next_action_due", "pk")
    )
    if user.dealer_id:
        qs = qs.filter(dealer_id=user.dealer_id)
    rows = list(qs[:FOLLOWUP_LIMIT])
    return FollowUps(
        overdue=[r for r in rows if r.next_action_due is not None and r.next_action_due < today],
        today=[r for r in rows if r.next_action_due == today],
        without_next_action=[r for r in rows if r.next_action_due is None],
    )


def losses_pending(user: User) -> list[Lead]:
    return list(
        visible_leads(user)
        .loss_pending()
        .select_related("customer", "consultant", "loss_requested_by", "car_model")
        .order_by("loss_requested_at", "pk")[:200]
    )


def awaiting_first_response(user: User, *, limit: int = 10) -> tuple[list[Lead], int]:
    qs = visible_leads(user).awaiting_first_response()
    rows = list(
        qs.select_related("customer", "consultant").order_by("first_response_due_at", "pk")[:limit]
    )
    return rows, len(rows) if len(rows) < limit else qs.count()


def lead_activities(lead: Lead) -> list[Activity]:
    return list(
        Activity.objects.filter(dealer_id=lead.dealer_id, lead_id=lead.pk)
        .select_related("author")
        .order_by("-occurred_at", "-id")[:200]
    )


def _value_label(value: str) -> str:
    """A stored stage, channel or loss reason as its label; anything else (names) as it is."""
    for choices in (LeadStage, LeadChannel, LossReason):
        if value in choices.values:
            return str(choices(value).label)
    return value


def lead_events(lead: Lead) -> list[LeadEvent]:
    """The lead's history, newest first, with `from_label` / `to_label` for display."""
    events = list(
        LeadEvent.objects.filter(dealer_id=lead.dealer_id, lead_id=lead.pk)
        .select_related("actor")
        .order_by("-at", "-id")[:200]
    )
    for event in events:
        event.from_label = _value_label(event.from_value)
        event.to_label = _value_label(event.to_value)
    return events


# --- the customer timeline ----------------------------------------------------------------------

_EVENT_ICONS = {
    LeadEvent.Kind.CREATED: "user-search",
    LeadEvent.Kind.STAGE: "arrow-big-right-lines",
    LeadEvent.Kind.LOSS_APPROVED: "user-x",
    LeadEvent.Kind.LOSS_REQUESTED: "user-question",
}
# The events shown on the customer's timeline (assignments and flags stay on the lead page).
TIMELINE_EVENT_KINDS = (
    LeadEvent.Kind.CREATED,
    LeadEvent.Kind.STAGE,
    LeadEvent.Kind.LOSS_APPROVED,
)


def _event_title(event: LeadEvent) -> str:
    if event.kind == LeadEvent.Kind.CREATED:
        channel = LeadChannel(event.to_value).label if event.to_value in LeadChannel.values else ""
        return _("New lead (%(channel)s)") % {"channel": channel} if channel else _("New lead")
    if event.kind == LeadEvent.Kind.STAGE:
        stage = LeadStage(event.to_value).label if event.to_value in LeadStage.values else ""
        return _("Lead moved to: %(stage)s") % {"stage": stage}
    return str(event.get_kind_display())


def _lead_events(dealer_id: int, customer_id: int, before: datetime.datetime | None) -> QuerySet:
    rows = (
        LeadEvent.objects.filter(
            dealer_id=dealer_id,
            # The lead's dealer too: its index is (dealer, customer); without it the customer
            # alone walks the whole index (25 ms at 1,000,000 customers, against 0.1 ms).
            lead__dealer_id=dealer_id,
            lead__customer_id=customer_id,
            kind__in=TIMELINE_EVENT_KINDS,
        )
        .select_related("actor")
        .order_by("-at", "-id")
    )
    return rows if before is None else rows.filter(at__lt=before)


_LEAD_EVENTS = ProviderQuery(_lead_events)


def lead_timeline(
    customer,  # noqa: ANN001
    *,
    limit: int,
    before: datetime.datetime | None,
) -> list[TimelineEntry]:
    """Timeline provider: lead created / stage / loss events. One query."""
    return [
        TimelineEntry(
            occurred_at=event.at,
            kind=f"lead_{event.kind}",
            icon=_EVENT_ICONS.get(event.kind, "point"),
            title=_event_title(event),
            body=event.note,
            actor=str(event.actor) if event.actor_id else "",
            url=reverse("sales:lead", kwargs={"lead_id": event.lead_id}),
            source="sales",
        )
        for event in _LEAD_EVENTS(customer, limit=limit, before=before)
    ]


def _lead_event_times(dealer_id: int, customer_id: int) -> list[QuerySet]:
    """The times of lead_timeline's entries (TimelineQueries)."""
    events = LeadEvent.objects.filter(
        dealer_id=dealer_id,
        lead__dealer_id=dealer_id,
        lead__customer_id=customer_id,
        kind__in=TIMELINE_EVENT_KINDS,
    )
    return [events.annotate(timeline_at=F("at"))]


lead_event_times = TimelineQueries(_lead_event_times)


def _activities(dealer_id: int, customer_id: int, before: datetime.datetime | None) -> QuerySet:
    rows = (
        Activity.objects.filter(dealer_id=dealer_id, customer_id=customer_id)
        .select_related("author")
        .order_by("-occurred_at", "-id")
    )
    return rows if before is None else rows.filter(occurred_at__lt=before)


_ACTIVITIES = ProviderQuery(_activities)


def activity_timeline(
    customer,  # noqa: ANN001
    *,
    limit: int,
    before: datetime.datetime | None,
) -> list[TimelineEntry]:
    """Timeline provider: the follow-ups of the customer's leads. One query.

    (A second provider: register it in hooks.register() beside lead_timeline.)
    """
    entries = []
    for activity in _ACTIVITIES(customer, limit=limit, before=before):
        title = f"{activity.get_kind_display()} · {activity.get_result_display()}"
        body = activity.note
        if activity.next_action:
            body = (body + "\n" if body else "") + _("Next: %(step)s (%(due)s)") % {
                "step": activity.next_action,
                "due": activity.next_action_due or "",
            }
        entries.append(
            TimelineEntry(
                occurred_at=activity.occurred_at,
                kind="lead_activity",
                icon="message-2",
                title=title,
                body=body,
                actor=str(activity.author) if activity.author_id else "",
                url=reverse("sales:lead", kwargs={"lead_id": activity.lead_id}),
                source="sales",
            )
        )
    return entries
