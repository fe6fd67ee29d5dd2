"""The complaint SLA: first response within 30 minutes, solution within 24 hours (the documents'
figures), configurable per dealer and severity (ComplaintSlaPolicy), optionally counted in the
dealer's opening hours only.

This module is the one place that turns a policy into deadlines; intake and the sweep use it.
CONTRACT:
- `sla_terms(dealer_id, severity) -> SlaTerms`, `sla_terms_for_dealers(dealer_ids)` (lists)
- `sla_deadlines(*, dealer_id, severity, received_at) -> (response due, solution due)`
- `sla_restart_solution_clock(complaint, *, at) -> list[str]` (reopening; the caller saves)
- `sla_clock_state(complaint, *, now, terms=DEFAULTS) -> ClockState` (no queries)
- `add_business_minutes(start, minutes, hours)`, `opening_hours_for_dealer(dealer_id)`
- `sla_settings_save(*, actor, dealer_id, rows)` (the settings page and the API)
- `complaints_sla_sweep(*, now=None, dealer_ids=None) -> SlaSweepReport` (the 5-minute job)
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import (
    ACTIVE_STATUSES,
    Complaint,
    ComplaintCategory,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintSeverity,
    ComplaintSlaPolicy,
    ComplaintStatus,
    EscalationLevel,
)


@dataclass(frozen=True)
class SlaTerms:
    response_minutes: int = 30
    solution_minutes: int = 24 * 60
    response_warn_minutes: int = 10
    solution_warn_minutes: int = 120
    oem_after_minutes: int = 24 * 60
    business_hours_only: bool = False


DEFAULTS = SlaTerms()
TERM_FIELDS = (
    "response_minutes",
    "solution_minutes",
    "response_warn_minutes",
    "solution_warn_minutes",
    "oem_after_minutes",
    "business_hours_only",
)
SEVERITIES = tuple(ComplaintSeverity.values)


def sla_terms(dealer_id: int, severity: str) -> SlaTerms:
    """The dealer's terms for a severity; the documents' figures when none are set."""
    row = (
        ComplaintSlaPolicy.objects.filter(dealer_id=dealer_id, severity=severity)
        .values(*TERM_FIELDS)
        .first()
    )
    return SlaTerms(**row) if row else DEFAULTS


def sla_terms_for_dealers(dealer_ids: Iterable[int]) -> dict[tuple[int, str], SlaTerms]:
    """Every (dealer, severity) of these dealers with its terms (DEFAULTS where none are set),
    in one query, for lists that compute each row's clock."""
    ids = sorted(set(dealer_ids))
    result = {(d, s): DEFAULTS for d in ids for s in SEVERITIES}
    if ids:
        for row in ComplaintSlaPolicy.objects.filter(dealer_id__in=ids).values(
            "dealer_id", "severity", *TERM_FIELDS
        ):
            key = (row.pop("dealer_id"), row.pop("severity"))
            result[key] = SlaTerms(**row)
    return result


# --- Opening hours ------------------------------------------------------------------------


@dataclass(frozen=True)
class OpeningHours:
    """When the dealer is open: local times, weekdays (0 = Monday), its time zone."""

    opens_at: datetime.time = datetime.time(8, 30)
    closes_at: datetime.time = datetime.time(17, 30)
    open_weekdays: frozenset[int] = frozenset(range(7))
    time_zone: str = "Asia/Shanghai"

    @property
    def usable(self) -> bool:
        return bool(self.open_weekdays) and self.opens_at < self.closes_at


def opening_hours_for_dealer(dealer_id: int) -> OpeningHours:
    """The workshop's opening hours (service.ServicePolicy) in the dealer's time zone."""
    from dealercrm.core.models import Dealer
    from dealercrm.core.tenancy import dealer_scope
    from dealercrm.service.services.policy import policy_for_dealer

    with dealer_scope(dealer_id):
        policy = policy_for_dealer(dealer_id)
    tz = Dealer.objects.filter(pk=dealer_id).values_list("time_zone", flat=True).first()
    return OpeningHours(
        opens_at=policy.opens_at,
        closes_at=policy.closes_at,
        open_weekdays=frozenset(int(d) for d in policy.open_weekdays),
        time_zone=tz or "Asia/Shanghai",
    )


def _day_window(
    day: datetime.date, hours: OpeningHours, tz: zoneinfo.ZoneInfo
) -> tuple[datetime.datetime, datetime.datetime]:
    return (
        datetime.datetime.combine(day, hours.opens_at, tzinfo=tz),
        datetime.datetime.combine(day, hours.closes_at, tzinfo=tz),
    )


def add_business_minutes(
    start: datetime.datetime, minutes: int, hours: OpeningHours
) -> datetime.datetime:
    """`start` plus `minutes` counted in opening hours only. Received outside them, counting
    starts at the next opening (Friday 17:20 + 30 min with 08:30–17:30 Mon–Fri → Monday 08:50;
    Saturday → from Monday 08:30). Without usable hours, the wall clock."""
    if not hours.usable:
        return start + datetime.timedelta(minutes=minutes)
    tz = zoneinfo.ZoneInfo(hours.time_zone)
    local = start.astimezone(tz)
    left = datetime.timedelta(minutes=minutes)
    day = local.date()
    daily = (
        datetime.datetime.combine(day, hours.closes_at)
        - datetime.datetime.combine(day, hours.opens_at)
    ).total_seconds() // 60
    # Enough days for the minutes at one open day a week; the bound only guards the loop.
    for _i in range(int(minutes // max(daily, 1) + 2) * 7):
        if day.weekday() in hours.open_weekdays:
            opens, closes = _day_window(day, hours, tz)
            begin = max(local, opens)
            if begin < closes:
                if begin + left <= closes:
                    return (begin + left).astimezone(datetime.UTC)
                left -= closes - begin
        day += datetime.timedelta(days=1)
    return start + datetime.timedelta(minutes=minutes)  # pragma: no cover


def _due(start: datetime.datetime, minutes: int, terms: SlaTerms, hours: OpeningHours | None):
    if terms.business_hours_only and hours is not None:
        return add_business_minutes(start, minutes, hours)
    return start + datetime.timedelta(minutes=minutes)


def sla_deadlines(
    *, dealer_id: int, severity: str, received_at: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime]:
    """(first response due, solution due) for a complaint received at `received_at`."""
    terms = sla_terms(dealer_id, severity)
    hours = opening_hours_for_dealer(dealer_id) if terms.business_hours_only else None
    return (
        _due(received_at, terms.response_minutes, terms, hours),
        _due(received_at, terms.solution_minutes, terms, hours),
    )


def sla_restart_solution_clock(complaint: Complaint, *, at: datetime.datetime) -> list[str]:
    """A reopened complaint gets a new solution deadline from `at` (the dealer's terms for its
    severity, in opening hours when so configured) and may be warned again. Returns the
    changed field names; the caller saves them."""
    terms = sla_terms(complaint.dealer_id, complaint.severity)
    hours = opening_hours_for_dealer(complaint.dealer_id) if terms.business_hours_only else None
    complaint.solution_due_at = _due(at, terms.solution_minutes, terms, hours)
    complaint.solution_warned_at = None
    return ["solution_due_at", "solution_warned_at"]


# --- The clock as a list row or the detail page shows it ----------------------------------------


@dataclass(frozen=True)
class ClockState:
    """The running clock and both clocks' outcomes, computed from one row's fields.

    `clock`: "response" / "solution" / None; `state`: "ok", "warning", "breached" (a running
    clock past due), or with no clock running "met" / "breached" (solved late) / "stopped".
    `minutes_left` is negative when overdue. Outcomes are "met", "breached", "running" or
    "" (no deadline)."""

    clock: str | None
    due_at: datetime.datetime | None
    minutes_left: int | None
    state: str
    response_outcome: str
    response_at: datetime.datetime | None
    response_due_at: datetime.datetime | None
    solution_outcome: str
    solution_at: datetime.datetime | None
    solution_due_at: datetime.datetime | None
    escalation_level: int = 0

    @property
    def overdue(self) -> bool:
        return self.minutes_left is not None and self.minutes_left < 0


def _outcome(
    done_at: datetime.datetime | None,
    due_at: datetime.datetime | None,
    now: datetime.datetime,
    running: bool,
) -> str:
    if due_at is None:
        return ""
    if done_at is not None:
        return "met" if done_at <= due_at else "breached"
    if not running:
        return ""
    return "breached" if now > due_at else "running"


def _minutes_between(now: datetime.datetime, due: datetime.datetime) -> int:
    """Whole minutes from now to due; negative (rounded toward zero) when past."""
    seconds = (due - now).total_seconds()
    return int(seconds // 60) if seconds >= 0 else -int(-seconds // 60)


def sla_clock_state(
    complaint: Complaint, *, now: datetime.datetime, terms: SlaTerms = DEFAULTS
) -> ClockState:
    """Which clock runs and how it stands, from the row's fields only (no queries)."""
    status = complaint.status
    active = status in ACTIVE_STATUSES
    response_running = status == ComplaintStatus.OPEN and complaint.first_response_at is None
    solution_running = active and complaint.solved_at is None
    response_outcome = _outcome(
        complaint.first_response_at, complaint.response_due_at, now, response_running
    )
    solution_outcome = _outcome(
        complaint.solved_at, complaint.solution_due_at, now, solution_running
    )
    clock: str | None = None
    due_at = warned_at = None
    warn = 0
    if response_running and complaint.response_due_at is not None:
        clock, due_at, warned_at = (
            "response",
            complaint.response_due_at,
            complaint.response_warned_at,
        )
        warn = terms.response_warn_minutes
    elif solution_running and complaint.solution_due_at is not None:
        clock, due_at, warned_at = (
            "solution",
            complaint.solution_due_at,
            complaint.solution_warned_at,
        )
        warn = terms.solution_warn_minutes
    minutes_left = None
    if clock is not None and due_at is not None:
        minutes_left = _minutes_between(now, due_at)
        if now > due_at:
            state = "breached"
        elif warned_at is not None or due_at - now <= datetime.timedelta(minutes=warn):
            state = "warning"
        else:
            state = "ok"
    elif solution_outcome in ("met", "breached"):
        state = solution_outcome
    else:
        state = "stopped"
    return ClockState(
        clock=clock,
        due_at=due_at,
        minutes_left=minutes_left,
        state=state,
        response_outcome=response_outcome,
        response_at=complaint.first_response_at,
        response_due_at=complaint.response_due_at,
        solution_outcome=solution_outcome,
        solution_at=complaint.solved_at,
        solution_due_at=complaint.solution_due_at,
        escalation_level=complaint.escalation_level or 0,
    )


# --- Settings (the page and the API) ---------------------------------------------------------

MINUTES_MAX = 60 * 24 * 366  # a year: anything longer is a typing slip
MINUTE_FIELDS = TERM_FIELDS[:-1]


def sla_terms_errors(values: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with one severity's terms, by field (empty when nothing is)."""
    errors: dict[str, list[str]] = {}
    numbers: dict[str, int] = {}
    for name in MINUTE_FIELDS:
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = [_("Enter a whole number of minutes.")]
        elif value < 1:
            errors[name] = [_("Enter a positive number of minutes.")]
        elif value > MINUTES_MAX:
            errors[name] = [_("Enter at most %(max)d minutes (a year).") % {"max": MINUTES_MAX}]
        else:
            numbers[name] = value
    if not isinstance(values.get("business_hours_only"), bool):
        errors["business_hours_only"] = [_("Say whether only opening hours count.")]
    if (
        "response_minutes" in numbers
        and "solution_minutes" in numbers
        and numbers["response_minutes"] >= numbers["solution_minutes"]
    ):
        errors.setdefault("solution_minutes", []).append(
            _("The solution time must be longer than the first-response time.")
        )
    for warn, clock in (
        ("response_warn_minutes", "response_minutes"),
        ("solution_warn_minutes", "solution_minutes"),
    ):
        if warn in numbers and clock in numbers and numbers[warn] >= numbers[clock]:
            errors.setdefault(warn, []).append(
                _(
                    "The warning must come before the deadline: enter fewer minutes than the time allowed."
                )
            )
    return errors


@transaction.atomic
def sla_settings_save(
    *, actor: Any, dealer_id: int, rows: Mapping[str, Mapping[str, Any]]
) -> dict[str, SlaTerms]:
    """Save a dealer's terms for the severities given (all or some), in one transaction.

    Every severity is checked before anything is written; errors come back keyed
    "<severity>-<field>" (the settings form's prefixes). Each changed severity is audit-logged.
    """
    from dealercrm.core.audit import audit_record, field_changes
    from dealercrm.core.models import AuditEvent

    errors: dict[str, list[str]] = {}
    for severity, values in rows.items():
        if severity not in SEVERITIES:
            errors[severity] = [_("There is no severity %(value)s.") % {"value": severity}]
            continue
        for name, messages in sla_terms_errors(values).items():
            errors[f"{severity}-{name}"] = messages
    if errors:
        raise ValidationError(errors)
    existing = {
        p.severity: p
        for p in ComplaintSlaPolicy.objects.select_for_update().filter(dealer_id=dealer_id)
    }
    for severity, values in rows.items():
        policy = existing.get(severity) or ComplaintSlaPolicy(
            dealer_id=dealer_id, severity=severity
        )
        # A severity never set had the documents' figures: the audit shows the change from them.
        source = policy if policy.pk else DEFAULTS
        before = {name: getattr(source, name) for name in TERM_FIELDS}
        after = {name: values[name] for name in TERM_FIELDS}
        for name, value in after.items():
            setattr(policy, name, value)
        changes = field_changes(before, after)
        if policy.pk is None or changes:
            policy.save()
        if changes:
            audit_record(
                actor=actor,
                action=AuditEvent.Action.CHANGE,
                target=policy,
                target_repr=_("Complaint SLA: %(severity)s")
                % {"severity": ComplaintSeverity(severity).label},
                changes=changes,
            )
    current = sla_terms_for_dealers([dealer_id])
    return {s: current[(dealer_id, s)] for s in SEVERITIES}


# --- The sweep: warnings before a breach, escalation after -------------------------------------

NOTICE_SOURCE = "feedback.complaint"


@dataclass
class SlaSweepReport:
    """What one sweep did, step by step (counts of complaints; notices as persons told)."""

    dealers: int = 0
    response_warnings: int = 0
    solution_warnings: int = 0
    escalated: int = 0
    escalated_oem: int = 0
    notices: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _DealerContext:
    dealer_id: int
    name: str
    brand_id: int | None
    time_zone: str
    terms: Mapping[str, SlaTerms]
    hours: OpeningHours | None
    managers: list[int] = field(default_factory=list)
    care: list[int] = field(default_factory=list)
    oem: list[int] = field(default_factory=list)


def _sweep_contexts(dealer_ids: Sequence[int]) -> list[_DealerContext]:
    """Everything the sweep needs about these dealers, in a fixed handful of queries."""
    from dealercrm.core.models import Dealer, User
    from dealercrm.core.permissions import Role
    from dealercrm.service.models import ServicePolicy
    from dealercrm.service.services.policy import normalised

    dealers = list(
        Dealer.objects.filter(pk__in=dealer_ids)
        .order_by("pk")
        .values("pk", "name", "brand_id", "time_zone")
    )
    terms = sla_terms_for_dealers(dealer_ids)
    need_hours = sorted({d for (d, _s), t in terms.items() if t.business_hours_only})
    policies = (
        {p.dealer_id: normalised(p) for p in ServicePolicy.objects.filter(dealer_id__in=need_hours)}
        if need_hours
        else {}
    )
    staff: dict[int, dict[str, list[int]]] = {}
    for user_id, dealer_id, role in (
        User.objects.filter(
            dealer_id__in=dealer_ids,
            is_active=True,
            role__in=(Role.DEALER_MANAGER, Role.CARE_SPECIALIST),
        )
        .order_by("pk")
        .values_list("pk", "dealer_id", "role")
    ):
        staff.setdefault(dealer_id, {}).setdefault(role, []).append(user_id)
    brand_ids = {d["brand_id"] for d in dealers}
    oem: dict[int, list[int]] = {}
    for user_id, brand_id in (
        User.objects.filter(
            dealer__isnull=True,
            brand_id__in=brand_ids,
            is_active=True,
            role__in=(Role.OEM_ADMIN, Role.OEM_ANALYST),
        )
        .order_by("pk")
        .values_list("pk", "brand_id")
    ):
        oem.setdefault(brand_id, []).append(user_id)
    contexts = []
    for d in dealers:
        dealer_id = d["pk"]
        hours = None
        if dealer_id in need_hours:
            policy = policies.get(dealer_id) or normalised(ServicePolicy(dealer_id=dealer_id))
            hours = OpeningHours(
                opens_at=policy.opens_at,
                closes_at=policy.closes_at,
                open_weekdays=frozenset(policy.open_weekdays),
                time_zone=d["time_zone"] or "Asia/Shanghai",
            )
        roles = staff.get(dealer_id, {})
        contexts.append(
            _DealerContext(
                dealer_id=dealer_id,
                name=d["name"],
                brand_id=d["brand_id"],
                time_zone=d["time_zone"] or "Asia/Shanghai",
                terms={s: terms[(dealer_id, s)] for s in SEVERITIES},
                hours=hours,
                managers=roles.get(Role.DEALER_MANAGER, []),
                care=roles.get(Role.CARE_SPECIALIST, []),
                oem=oem.get(d["brand_id"], []),
            )
        )
    return contexts


def complaints_sla_sweep(
    *, now: datetime.datetime | None = None, dealer_ids: Sequence[int] | None = None
) -> SlaSweepReport:
    """Warn before a breach, escalate after: to the dealer manager when a clock runs past its
    deadline, to the brand when the complaint is still unsolved `oem_after_minutes` later.

    Set-based: per dealer one locked read of the complaints something is due for, one UPDATE
    per step (guarded by "not done yet"), one INSERT of the steps and one of the notices — a
    few queries per dealer whatever the number of complaints. A second run at the same moment
    finds nothing left to do.
    """
    from dealercrm.core.tenancy import dealer_scope

    now = now or timezone.now()
    report = SlaSweepReport()
    with dealer_scope(None):
        qs = Complaint.objects.filter(status__in=ACTIVE_STATUSES)
        if dealer_ids is not None:
            qs = qs.filter(dealer_id__in=list(dealer_ids))
        ids = sorted(set(qs.values_list("dealer_id", flat=True).distinct()))
        if not ids:
            return report
        contexts = _sweep_contexts(ids)
    for ctx in contexts:
        with dealer_scope(ctx.dealer_id):
            _sweep_dealer(ctx, now, report)
        report.dealers += 1
    return report


def _fmt(value: datetime.datetime | None, tz: str) -> str:
    if value is None:
        return ""
    return value.astimezone(zoneinfo.ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _sweep_dealer(ctx: _DealerContext, now: datetime.datetime, report: SlaSweepReport) -> None:
    from django.urls import reverse

    from dealercrm.worklist.services import NoticeSpec, notices_create_bulk

    # The latest deadline whose warning window has begun, per severity: the warn minutes before
    # it, counted like the deadline itself (in opening hours, a Monday 09:30 deadline with a
    # 2-hour warning is warned on Friday at 16:30, not at 07:30 before anyone is in).
    response_limit = {
        s: _due(now, t.response_warn_minutes, t, ctx.hours) for s, t in ctx.terms.items()
    }
    solution_limit = {
        s: _due(now, t.solution_warn_minutes, t, ctx.hours) for s, t in ctx.terms.items()
    }
    response_running = Q(status=ComplaintStatus.OPEN, first_response_at__isnull=True)
    solution_running = Q(status__in=ACTIVE_STATUSES, solved_at__isnull=True)
    wanted = (
        (
            response_running
            & Q(
                response_warned_at__isnull=True,
                response_due_at__gt=now,
                response_due_at__lte=max(response_limit.values()),
            )
        )
        | (
            solution_running
            & Q(
                solution_warned_at__isnull=True,
                solution_due_at__gt=now,
                solution_due_at__lte=max(solution_limit.values()),
            )
        )
        | (
            Q(escalation_level=EscalationLevel.NONE)
            & ((response_running & Q(response_due_at__lte=now)) | Q(solution_due_at__lte=now))
        )
        | (
            Q(escalation_level__lt=EscalationLevel.OEM)
            & solution_running
            & Q(solution_due_at__lte=now)
        )
    )
    with transaction.atomic():
        rows = list(
            Complaint.objects.select_for_update(of=("self",))
            .filter(dealer_id=ctx.dealer_id)
            .filter(solution_running)
            .filter(wanted)
            .order_by("pk")
            .values(
                "pk",
                "severity",
                "status",
                "category",
                "handler_id",
                "customer__name",
                "first_response_at",
                "solved_at",
                "response_due_at",
                "solution_due_at",
                "response_warned_at",
                "solution_warned_at",
                "escalation_level",
            )
        )
        if not rows:
            return
        response_warn: list[dict[str, Any]] = []
        solution_warn: list[dict[str, Any]] = []
        level1: list[tuple[dict[str, Any], str]] = []
        level2: list[dict[str, Any]] = []
        for row in rows:
            terms = ctx.terms.get(row["severity"], DEFAULTS)
            resp_runs = row["status"] == ComplaintStatus.OPEN and row["first_response_at"] is None
            resp_due, sol_due = row["response_due_at"], row["solution_due_at"]
            if (
                resp_runs
                and resp_due is not None
                and row["response_warned_at"] is None
                and now < resp_due <= response_limit.get(row["severity"], now)
            ):
                response_warn.append(row)
            if (
                sol_due is not None
                and row["solution_warned_at"] is None
                and now < sol_due <= solution_limit.get(row["severity"], now)
            ):
                solution_warn.append(row)
            level = row["escalation_level"]
            if level == EscalationLevel.NONE:
                if resp_runs and resp_due is not None and resp_due <= now:
                    level1.append((row, "response"))
                    level = EscalationLevel.DEALER_MANAGER
                elif sol_due is not None and sol_due <= now:
                    level1.append((row, "solution"))
                    level = EscalationLevel.DEALER_MANAGER
            if (
                level == EscalationLevel.DEALER_MANAGER
                and sol_due is not None
                and _due(sol_due, terms.oem_after_minutes, terms, ctx.hours) <= now
            ):
                level2.append(row)

        base = Complaint.objects.filter(dealer_id=ctx.dealer_id)
        done = solution_running  # nothing is warned or escalated once solved or closed
        if response_warn:
            base.filter(done, response_running, pk__in=[r["pk"] for r in response_warn]).update(
                response_warned_at=now
            )
        if solution_warn:
            base.filter(done, pk__in=[r["pk"] for r in solution_warn]).update(
                solution_warned_at=now
            )
        if level1:
            base.filter(
                done, escalation_level=EscalationLevel.NONE, pk__in=[r["pk"] for r, _c in level1]
            ).update(escalation_level=EscalationLevel.DEALER_MANAGER, escalated_at=now)
        if level2:
            base.filter(
                done, escalation_level__lt=EscalationLevel.OEM, pk__in=[r["pk"] for r in level2]
            ).update(escalation_level=EscalationLevel.OEM, oem_escalated_at=now)

        events: list[ComplaintEvent] = []
        specs: list[NoticeSpec] = []

        def link(pk: int) -> str:
            return reverse("feedback:complaint", kwargs={"complaint_id": pk})

        def event(row: dict[str, Any], kind: str, **data: Any) -> None:
            events.append(
                ComplaintEvent(
                    dealer_id=ctx.dealer_id, complaint_id=row["pk"], kind=kind, at=now, data=data
                )
            )

        for row in response_warn:
            due = row["response_due_at"]
            event(row, ComplaintEventKind.RESPONSE_WARNING, due_at=due.isoformat())
            specs.append(
                NoticeSpec(
                    dealer_id=ctx.dealer_id,
                    recipient_ids=[row["handler_id"]] if row["handler_id"] else ctx.care,
                    title=_("First response due soon: %(customer)s")
                    % {"customer": row["customer__name"]},
                    body=_("Answer the customer by %(due)s.") % {"due": _fmt(due, ctx.time_zone)},
                    link=link(row["pk"]),
                    source_kind=NOTICE_SOURCE,
                    source_id=str(row["pk"]),
                    reason=f"response_warning:{due:%Y%m%d%H%M}",
                )
            )
        for row in solution_warn:
            due = row["solution_due_at"]
            event(row, ComplaintEventKind.SOLUTION_WARNING, due_at=due.isoformat())
            specs.append(
                NoticeSpec(
                    dealer_id=ctx.dealer_id,
                    recipient_ids=[row["handler_id"]] if row["handler_id"] else ctx.care,
                    title=_("Solution due soon: %(customer)s")
                    % {"customer": row["customer__name"]},
                    body=_("Offer the customer a solution by %(due)s.")
                    % {"due": _fmt(due, ctx.time_zone)},
                    link=link(row["pk"]),
                    source_kind=NOTICE_SOURCE,
                    source_id=str(row["pk"]),
                    reason=f"solution_warning:{due:%Y%m%d%H%M}",
                )
            )
        for row, clock in level1:
            due = row["response_due_at"] if clock == "response" else row["solution_due_at"]
            event(row, ComplaintEventKind.ESCALATED, clock=clock, due_at=due.isoformat(), level=1)
            title = (
                _("No first response in time: %(customer)s")
                if clock == "response"
                else _("No solution in time: %(customer)s")
            )
            specs.append(
                NoticeSpec(
                    dealer_id=ctx.dealer_id,
                    recipient_ids=ctx.managers,
                    title=title % {"customer": row["customer__name"]},
                    body=_("The complaint was due by %(due)s and is escalated to you.")
                    % {"due": _fmt(due, ctx.time_zone)},
                    link=link(row["pk"]),
                    source_kind=NOTICE_SOURCE,
                    source_id=str(row["pk"]),
                    reason="escalated",
                )
            )
        for row in level2:
            due = row["solution_due_at"]
            event(
                row,
                ComplaintEventKind.ESCALATED_OEM,
                clock="solution",
                due_at=due.isoformat(),
                level=2,
            )
            # No customer name for the brand: the dealer, the category and the deadline say
            # enough to follow it up.
            specs.append(
                NoticeSpec(
                    dealer_id=ctx.dealer_id,
                    recipient_ids=ctx.oem,
                    title=_("Complaint unsolved past its deadline at %(dealer)s")
                    % {"dealer": ctx.name},
                    body=_("%(category)s, %(severity)s; the solution was due by %(due)s.")
                    % {
                        "category": dict(ComplaintCategory.choices).get(row["category"], ""),
                        "severity": dict(ComplaintSeverity.choices).get(row["severity"], ""),
                        "due": _fmt(due, ctx.time_zone),
                    },
                    link=link(row["pk"]),
                    source_kind=NOTICE_SOURCE,
                    source_id=str(row["pk"]),
                    reason="escalated_oem",
                )
            )
        if events:
            ComplaintEvent.objects.bulk_create(events)
        if specs:
            report.notices += notices_create_bulk(specs)
    report.response_warnings += len(response_warn)
    report.solution_warnings += len(solution_warn)
    report.escalated += len(level1)
    report.escalated_oem += len(level2)
