"""Writes of the messaging app: queue messages (one, or a campaign's worth set-based), templates,
the dealer's policy and providers, cancel and release.

Queueing applies every rule before a row is written as "queued", in this order:

1. the idempotency key (source, customer, channel): a second queueing of the same thing finds
   the first row and changes nothing ("already_queued");
2. the template renders fully for the customer (or the customer is reported with the missing
   variable and nothing is written);
3. the address exists (no phone / e-mail / WeChat id / street: reported, nothing written) and
   can receive the channel (a landline gets no SMS: row "undeliverable" with the reason);
4. marketing needs the channel's consent ("blocked" row otherwise; service purposes go without);
5. the marketing frequency cap ("held" row, reported, kept to be released or cancelled);
6. quiet hours: a queued row's not_before moves to the window's opening.

An SMS row holds the full text as the phone shows it (【signature】 + text + " 回T退订" for
marketing) and its segment count, so the timeline shows what the customer saw.

Writes are set-based: a batch of customers costs a fixed number of queries (keys, customers,
phones, cars, consents, cap counts, one insert, one read-back), never a loop of ORM saves.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.audit import audit_record, field_changes
from dealercrm.core.models import AuditEvent, User
from dealercrm.core.tenancy import require_scope
from dealercrm.customers.models import Customer, LifecycleStage

from . import policy as rules
from .models import (
    Campaign,
    Channel,
    Language,
    Message,
    MessageStatus,
    MessageTemplate,
    MessagingPolicy,
    ProviderConfig,
    ProviderKind,
    Purpose,
    is_marketing_purpose,
)
from .rendering import (
    CompiledText,
    VariableMissing,
    context_for,
    validate_template,
    variables_in,
)
from .selectors import (
    AUDIENCE_KEYS,
    CustomerFacts,
    DealerFacts,
    address_for,
    audience_customer_ids,
    customer_facts,
    dealer_facts,
    messages_by_key,
)
from .sms_length import segments_for, sms_text

# Customers read and rows written per transaction when queueing many: large enough that the
# per-batch queries do not matter, small enough that a batch's IN lists and memory stay modest.
QUEUE_BATCH_SIZE = 5000
# Examples of customers nothing was written for, kept in a campaign's report for the sender.
REPORT_EXAMPLES = 50

TEMPLATE_FIELDS = (
    "name",
    "purpose",
    "channel",
    "language",
    "subject",
    "body",
    "provider_template_code",
    "is_active",
)
POLICY_FIELDS = (
    "quiet_start",
    "quiet_end",
    "quiet_channels",
    "cap_count",
    "cap_days",
    "sms_signature",
)
# Which provider kinds can carry which channel (the file provider stands in for any that sends).
PROVIDER_KINDS_BY_CHANNEL: dict[str, frozenset[str]] = {
    Channel.SMS: frozenset({ProviderKind.FILE, ProviderKind.SMS_GATEWAY}),
    Channel.EMAIL: frozenset({ProviderKind.FILE, ProviderKind.SMTP, ProviderKind.DJANGO_EMAIL}),
    Channel.WECHAT: frozenset({ProviderKind.FILE, ProviderKind.WECHAT}),
    Channel.PHONE: frozenset({ProviderKind.PHONE_TASK}),
    Channel.MAIL: frozenset({ProviderKind.MAIL_EXPORT}),
}


@dataclass(frozen=True)
class MissingVariable:
    """A customer the template cannot render for, and the variable that has no value."""

    customer_id: int
    customer_name: str
    variable: str


@dataclass
class QueueReport:
    """What a queueing did, by outcome. Every customer asked for is in exactly one list."""

    queued: list[int] = field(default_factory=list)  # message ids
    held_by_cap: list[int] = field(default_factory=list)  # message ids (status held)
    no_consent: list[int] = field(default_factory=list)  # message ids (status blocked)
    no_address: list[int] = field(default_factory=list)  # customer ids: no phone/e-mail/openid …
    undeliverable: list[int] = field(default_factory=list)  # message ids (landline for SMS …)
    missing_variable: list[MissingVariable] = field(default_factory=list)  # nothing written
    already_queued: list[int] = field(default_factory=list)  # message ids found by the key
    deferred_by_quiet_hours: int = 0  # how many of `queued` wait for the window to open
    # Customer ids that are not (or no longer) customers of the dealer: deleted, another
    # dealer's, or no such id. Nothing written.
    not_found: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "queued": len(self.queued),
            "held_by_cap": len(self.held_by_cap),
            "no_consent": len(self.no_consent),
            "no_address": len(self.no_address),
            "undeliverable": len(self.undeliverable),
            "missing_variable": len(self.missing_variable),
            "already_queued": len(self.already_queued),
            "deferred_by_quiet_hours": self.deferred_by_quiet_hours,
            "not_found": len(self.not_found),
        }

    @property
    def total(self) -> int:
        return sum(v for k, v in self.counts().items() if k != "deferred_by_quiet_hours")

    def merge(self, other: QueueReport) -> None:
        self.queued += other.queued
        self.held_by_cap += other.held_by_cap
        self.no_consent += other.no_consent
        self.no_address += other.no_address
        self.undeliverable += other.undeliverable
        self.missing_variable += other.missing_variable
        self.already_queued += other.already_queued
        self.deferred_by_quiet_hours += other.deferred_by_quiet_hours
        self.not_found += other.not_found


# --- planning: what each customer would get ----------------------------------------------------


class Outcome:
    """What queueing decides for one customer (the QueueReport list it ends in)."""

    QUEUED = "queued"
    HELD = "held_by_cap"
    BLOCKED = "no_consent"
    UNDELIVERABLE = "undeliverable"
    NO_ADDRESS = "no_address"
    MISSING_VARIABLE = "missing_variable"
    ALREADY_QUEUED = "already_queued"
    NOT_FOUND = "not_found"


_STATUS_OF_OUTCOME = {
    Outcome.QUEUED: MessageStatus.QUEUED,
    Outcome.HELD: MessageStatus.HELD,
    Outcome.BLOCKED: MessageStatus.BLOCKED,
    Outcome.UNDELIVERABLE: MessageStatus.UNDELIVERABLE,
}


@dataclass
class _Send:
    """One queueing's constants: the same text, channel, rules and clock for every customer."""

    dealer: DealerFacts
    policy: MessagingPolicy
    channel: str
    purpose: str
    is_marketing: bool
    language: str
    body: str
    subject: str
    source_kind: str
    source_id: str
    now: datetime.datetime
    template_id: int | None = None
    campaign_id: int | None = None
    actor_id: int | None = None
    # Quiet hours depend only on the clock, the same for the whole queueing.
    release_at: datetime.datetime = field(init=False)
    # The variables the text uses: what a gateway's template is given as parameters.
    param_names: list[str] = field(init=False)
    compiled_body: CompiledText = field(init=False)
    compiled_subject: CompiledText = field(init=False)

    def __post_init__(self) -> None:
        self.release_at = rules.release_time(
            self.policy, self.channel, self.now, self.dealer.time_zone
        )
        self.param_names = variables_in(self.body, self.subject)
        self.compiled_body = CompiledText(self.body)
        self.compiled_subject = CompiledText(self.subject)

    def key(self, customer_id: int) -> str:
        return idempotency_key(self.source_kind, self.source_id, customer_id, self.channel)


@dataclass
class _Plan:
    customer_id: int
    outcome: str
    row: dict[str, Any] | None = None  # the message to write (outcomes with a status)
    message_id: int | None = None  # already_queued: the row found
    missing: MissingVariable | None = None
    reason: str = ""  # why nothing was written (no_address)


def idempotency_key(source_kind: str, source_id: str, customer_id: int, channel: str) -> str:
    return f"{source_kind}:{source_id}:{customer_id}:{channel}"


def _rendered(
    send: _Send, facts: CustomerFacts, extra: Mapping[str, Any] | None
) -> tuple[str, str, dict[str, str]]:
    """(body, subject, params) for the customer, or VariableMissing."""
    context = context_for(facts, send.dealer, send.language, extra)
    body = send.compiled_body.render(context)
    subject = send.compiled_subject.render(context)
    params = {name: context[name] for name in send.param_names}
    if send.channel == Channel.SMS:
        body = sms_text(body, signature=send.policy.sms_signature, marketing=send.is_marketing)
    return body, subject, params


def _plan(
    send: _Send,
    customer_ids: Sequence[int],
    extra_by_customer: Mapping[int, Mapping[str, Any]] | None,
    *,
    look_up_keys: bool = True,
) -> list[_Plan]:
    """Decide every customer's outcome, reading set-based: the rows already written under the
    keys (unless `look_up_keys` is off), customers (3 queries), and for marketing the consents
    and cap counts of those still in the running."""
    plans: dict[int, _Plan] = {}
    keys = {cid: send.key(cid) for cid in customer_ids}
    existing = messages_by_key(send.dealer.id, list(keys.values())) if look_up_keys else {}
    remaining: list[int] = []
    for cid in customer_ids:
        found = existing.get(keys[cid])
        if found is not None:
            plans[cid] = _Plan(cid, Outcome.ALREADY_QUEUED, message_id=found[0])
        else:
            remaining.append(cid)

    facts = customer_facts(send.dealer.id, remaining)
    extras = extra_by_customer or {}
    candidates: list[int] = []
    for cid in remaining:
        item = facts.get(cid)
        if item is None:
            plans[cid] = _Plan(cid, Outcome.NOT_FOUND)
            continue
        try:
            body, subject, params = _rendered(send, item, extras.get(cid))
        except VariableMissing as missing:
            plans[cid] = _Plan(
                cid,
                Outcome.MISSING_VARIABLE,
                missing=MissingVariable(cid, item.name, missing.variable),
            )
            continue
        address = address_for(item, send.channel)
        if not address:
            plans[cid] = _Plan(cid, Outcome.NO_ADDRESS, reason=_no_address_reason(send.channel))
            continue
        row = _row(send, cid, keys[cid], address, body, subject, params)
        reason = rules.sms_undeliverable_reason(address) if send.channel == Channel.SMS else ""
        if reason:
            row["status_reason"] = reason
            plans[cid] = _Plan(cid, Outcome.UNDELIVERABLE, row=row)
            continue
        plans[cid] = _Plan(cid, Outcome.QUEUED, row=row)
        candidates.append(cid)

    if send.is_marketing and candidates:
        consenting = rules.consenting_customers(send.dealer.id, candidates, send.channel)
        counts = rules.marketing_counts(
            send.dealer.id, consenting, rules.cap_window_start(send.policy, send.now)
        )
        blocked_reason = _no_consent_reason(send.channel)
        held_reason = rules.cap_reason(send.policy)
        for cid in candidates:
            plan = plans[cid]
            assert plan.row is not None
            if cid not in consenting:
                plan.outcome = Outcome.BLOCKED
                plan.row["status_reason"] = blocked_reason
            elif counts.get(cid, 0) >= send.policy.cap_count:
                plan.outcome = Outcome.HELD
                plan.row["status_reason"] = held_reason
    for plan in plans.values():
        if plan.row is not None:
            plan.row["status"] = _STATUS_OF_OUTCOME[plan.outcome]
            if plan.outcome == Outcome.QUEUED:
                plan.row["not_before"] = send.release_at
    return [plans[cid] for cid in customer_ids]


def _row(
    send: _Send,
    customer_id: int,
    key: str,
    address: str,
    body: str,
    subject: str,
    params: dict[str, str],
) -> dict[str, Any]:
    return {
        "dealer_id": send.dealer.id,
        "customer_id": customer_id,
        "direction": Message.Direction.OUTBOUND,
        "channel": send.channel,
        "purpose": send.purpose,
        "is_marketing": send.is_marketing,
        "template_id": send.template_id,
        "campaign_id": send.campaign_id,
        "language": send.language,
        "to_address": address[:300],
        "subject": subject[:200],
        "body": body,
        "params": params,
        "segments": segments_for(len(body)) if send.channel == Channel.SMS else 0,
        "source_kind": send.source_kind,
        "source_id": send.source_id,
        "idempotency_key": key,
        "status_reason": "",
        "not_before": send.now,
        "created_by_id": send.actor_id,
        "created_at": send.now,
        "status_changed_at": send.now,
    }


def _no_address_reason(channel: str) -> str:
    reasons: dict[str, str] = {
        Channel.SMS: _("The customer has no phone number."),
        Channel.PHONE: _("The customer has no phone number."),
        Channel.EMAIL: _("The customer has no e-mail address."),
        Channel.WECHAT: _("The customer has no WeChat ID."),
        Channel.MAIL: _("The customer has no postal address."),
    }
    return reasons.get(channel, _("The customer cannot be reached on this channel."))


def _no_consent_reason(channel: str) -> str:
    return _("No marketing consent for %(channel)s.") % {"channel": Channel(channel).label}


# --- writing rows --------------------------------------------------------------------------


class _MessageTable:
    """The outbox table's columns, and rows given as {attname: value} turned into parameters.

    Columns the queueing does not set get their model default, so a field added later keeps
    this working. Datetimes and JSON are adapted for the engine as Django would adapt them;
    a batch's datetimes are a handful of instants (now, the quiet-hours opening), adapted once.
    """

    def __init__(self) -> None:
        fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
        self.columns: list[str] = [str(f.column) for f in fields]
        self.defaults: list[tuple[str, Any]] = []
        self.adapters: list[tuple[int, Callable[[Any], Any]]] = []
        for index, f in enumerate(fields):
            if f.has_default() and not callable(f.default):
                default = f.get_default()
            elif f.has_default() or f.null:
                default = None  # a callable default (timezone.now): every row sets its time
            else:
                default = ""
            self.defaults.append((f.attname, default))
            if isinstance(f, models.DateTimeField):
                self.adapters.append((index, self._datetime_adapter(f)))
            elif isinstance(f, models.JSONField):
                self.adapters.append((index, self._json_adapter(f)))

    @staticmethod
    def _json_adapter(f: models.JSONField) -> Callable[[Any], Any]:
        adapt_json, encoder = connection.ops.adapt_json_value, f.encoder

        def adapt(value: Any) -> Any:
            return None if value is None else adapt_json(value, encoder)

        return adapt

    @staticmethod
    def _datetime_adapter(f: models.Field) -> Callable[[Any], Any]:
        adapted: dict[Any, Any] = {None: None}

        def adapt(value: Any) -> Any:
            try:
                return adapted[value]
            except KeyError:
                result = adapted[value] = f.get_db_prep_save(value, connection)
                return result

        return adapt

    def params(self, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        defaults, adapters = self.defaults, self.adapters
        result = []
        for row in rows:
            values = [row.get(attname, default) for attname, default in defaults]
            for index, adapt in adapters:
                values[index] = adapt(values[index])
            result.append(values)
        return result

    def _column_list(self) -> str:
        quote = connection.ops.quote_name
        return "{} ({})".format(
            quote(Message._meta.db_table), ", ".join(quote(c) for c in self.columns)
        )

    def insert_sql(self) -> str:
        placeholders = ", ".join(["%s"] * len(self.columns))
        return f"INSERT INTO {self._column_list()} VALUES ({placeholders})"

    def copy_sql(self) -> str:
        return f"COPY {self._column_list()} FROM STDIN"


def _insert_rows(dealer_id: int, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert the rows set-based and answer {idempotency key: new id}.

    SQLite: executemany, one prepared statement run in C for every row. PostgreSQL: COPY, the
    bulk path of the server. (bulk_create would send 160 INSERTs of 31 rows for 5,000 messages
    on SQLite, 999 parameters a statement; a multi-row INSERT on PostgreSQL has psycopg parse
    160,000 placeholders in Python.) A key already taken raises IntegrityError.

    The new ids are read back as the rows above the highest id before the insert: a primary-key
    range, cheaper than looking 5,000 keys up, and exact — ids only grow, and rows another
    transaction slips in between are told apart by their keys.
    """
    if not rows:
        return {}
    table = _MessageTable()
    params = table.params(rows)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX({quote('id')}) FROM {quote(Message._meta.db_table)}")
        (highest,) = cursor.fetchone()
        if connection.vendor == "postgresql":
            # COPY goes past Django's cursor wrapper: translate its errors (a key already
            # taken) as any query's are, into IntegrityError.
            with connection.wrap_database_errors, cursor.copy(table.copy_sql()) as copy:
                for values in params:
                    copy.write_row(values)
        else:
            cursor.executemany(table.insert_sql(), params)
    ours = {row["idempotency_key"] for row in rows}
    return {
        key: pk
        for pk, key in Message.objects.filter(dealer_id=dealer_id, pk__gt=highest or 0)
        .order_by()
        .values_list("pk", "idempotency_key")
        if key in ours
    }


def _write_plans(send: _Send, plans: list[_Plan]) -> QueueReport:
    """Write the rows of a planned batch and sort every customer into the report."""
    rows = [plan.row for plan in plans if plan.row is not None]
    ids = _insert_rows(send.dealer.id, rows)  # type: ignore[arg-type]
    report = QueueReport()
    for plan in plans:
        if plan.outcome == Outcome.ALREADY_QUEUED:
            report.already_queued.append(plan.message_id)  # type: ignore[arg-type]
        elif plan.outcome == Outcome.MISSING_VARIABLE:
            report.missing_variable.append(plan.missing)  # type: ignore[arg-type]
        elif plan.outcome == Outcome.NO_ADDRESS:
            report.no_address.append(plan.customer_id)
        elif plan.outcome == Outcome.NOT_FOUND:
            report.not_found.append(plan.customer_id)
        else:
            assert plan.row is not None
            message_id = ids[plan.row["idempotency_key"]]
            getattr(report, plan.outcome).append(message_id)
            if plan.outcome == Outcome.QUEUED and send.release_at > send.now:
                report.deferred_by_quiet_hours += 1
    return report


def _schedule_dispatch() -> None:
    # Imported here: tasks imports the outbox, which must not be loaded by every importer of
    # services (and the job module imports services back).
    from .tasks import schedule_dispatch

    schedule_dispatch()


# --- shared checks -------------------------------------------------------------------------


def _check_dealer(dealer_id: int) -> None:
    if not require_scope().allows(dealer_id):
        raise PermissionDenied(_("You may not act for this dealer."))


def _actor_id(actor: User | None) -> int | None:
    return actor.pk if actor is not None and actor.is_authenticated else None


def policy_for_dealer(dealer_id: int) -> MessagingPolicy:
    """The dealer's policy row, created with the defaults the first time it is asked for."""
    policy, _created = MessagingPolicy.objects.get_or_create(dealer_id=dealer_id)
    return policy


# --- one message -----------------------------------------------------------------------------


@transaction.atomic
def message_send(
    *,
    actor: User | None,
    customer: Customer,
    channel: str,
    purpose: str,
    template: MessageTemplate | None = None,
    body: str = "",
    subject: str = "",
    source_kind: str = Message.SourceKind.MANUAL,
    source_id: str = "",
    extra: Mapping[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> Message:
    """Queue one message to one customer (the 360 page, the API, other apps' jobs).

    Either `template` (rendered for the customer with `extra` variables) or a literal `body`
    (which may use the same {{ variables }}). With a template, the template's purpose is the
    message's: a marketing template stays marketing whatever the caller says.
    Raises ValidationError keyed by field ("body" naming a missing variable, "channel" for no
    address / landline / no consent for marketing) and writes nothing in that case; a capped
    marketing message is written "held" and returned. A message in quiet hours is queued with
    `not_before` at the window's opening. Same (source_kind, source_id, customer, channel)
    again returns the existing row. For manual messages pass a fresh `source_id` per
    submission (the form's token), so a double click sends once; without one, every call is
    a new message.
    """
    _check_dealer(customer.dealer_id)
    errors: dict[str, list[str]] = {}
    if channel not in Channel.values:
        errors.setdefault("channel", []).append(_("Choose a channel."))
    if template is not None:
        if template.dealer_id != customer.dealer_id:
            errors.setdefault("template", []).append(_("Choose one of the dealer's templates."))
        elif template.channel != channel:
            errors.setdefault("template", []).append(
                _("This template is for %(channel)s.")
                % {"channel": Channel(template.channel).label}
            )
        elif not template.is_active:
            errors.setdefault("template", []).append(_("This template is switched off."))
        purpose = template.purpose
        text, title = template.body, template.subject
        language = template.language
    else:
        text, title = body.strip(), subject.strip()
        # A text typed by staff is in the language they work in (salutation, dates).
        english = actor is not None and getattr(actor, "language", "") == Language.EN
        language = Language.EN if english else Language.ZH_HANS
        if not text:
            errors.setdefault("body", []).append(_("Write the message or choose a template."))
    if purpose not in Purpose.values:
        errors.setdefault("purpose", []).append(_("Choose what the message is for."))
    if source_kind not in Message.SourceKind.values:
        errors.setdefault("source_kind", []).append(_("Unknown source."))
    if not errors and template is None:
        try:
            validate_template(text, title)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)

    # Without a token from the caller every call is its own message.
    source_id = (source_id or uuid.uuid4().hex)[:64]
    send = _Send(
        dealer=dealer_facts(customer.dealer_id),
        policy=policy_for_dealer(customer.dealer_id),
        channel=channel,
        purpose=purpose,
        is_marketing=is_marketing_purpose(purpose),
        language=language,
        body=text,
        subject=title,
        source_kind=source_kind,
        source_id=source_id,
        now=timezone.now(),
        template_id=template.pk if template is not None else None,
        actor_id=_actor_id(actor),
    )
    (plan,) = _plan(send, [customer.pk], {customer.pk: extra} if extra else None)
    if plan.outcome == Outcome.ALREADY_QUEUED:
        return Message.objects.get(dealer_id=customer.dealer_id, pk=plan.message_id)
    if plan.outcome == Outcome.MISSING_VARIABLE:
        assert plan.missing is not None
        raise ValidationError(
            {
                "body": _(
                    "Cannot be sent to %(customer)s: there is no value for {{ %(variable)s }}."
                )
                % {"customer": plan.missing.customer_name, "variable": plan.missing.variable}
            }
        )
    if plan.outcome == Outcome.NOT_FOUND:
        raise ValidationError({"customer": _("This customer cannot get messages any more.")})
    if plan.outcome == Outcome.NO_ADDRESS:
        raise ValidationError({"channel": plan.reason})
    if plan.outcome in (Outcome.UNDELIVERABLE, Outcome.BLOCKED):
        assert plan.row is not None
        raise ValidationError({"channel": plan.row["status_reason"]})
    assert plan.row is not None
    try:
        # A savepoint: a double click that lost the race finds the winner's row.
        with transaction.atomic():
            message = Message.objects.create(**plan.row)
    except IntegrityError:
        return Message.objects.get(
            dealer_id=customer.dealer_id, idempotency_key=plan.row["idempotency_key"]
        )
    if message.status == MessageStatus.QUEUED:
        _schedule_dispatch()
    return message


# --- many messages ---------------------------------------------------------------------------


def _bulk_send(
    *,
    dealer_id: int,
    template: MessageTemplate,
    source_kind: str,
    source_id: str,
    actor: User | None,
    campaign: Campaign | None,
    now: datetime.datetime | None,
) -> _Send:
    if template.dealer_id != dealer_id:
        raise ValidationError({"template": _("Choose one of the dealer's templates.")})
    if not template.is_active:
        raise ValidationError({"template": _("This template is switched off.")})
    if source_kind not in Message.SourceKind.values:
        raise ValidationError({"source_kind": _("Unknown source.")})
    if not source_id:
        raise ValidationError({"source_id": _("Queueing many messages needs a source id.")})
    return _Send(
        dealer=dealer_facts(dealer_id),
        policy=policy_for_dealer(dealer_id),
        channel=template.channel,
        purpose=template.purpose,
        is_marketing=template.is_marketing,
        language=template.language,
        body=template.body,
        subject=template.subject,
        source_kind=source_kind,
        source_id=str(source_id)[:64],
        now=now or timezone.now(),
        template_id=template.pk,
        campaign_id=campaign.pk if campaign is not None else None,
        actor_id=_actor_id(actor),
    )


def _unique(ids: Sequence[int]) -> list[int]:
    return list(dict.fromkeys(int(i) for i in ids))


def messages_queue_bulk(
    *,
    dealer_id: int,
    customer_ids: Sequence[int],
    template: MessageTemplate,
    source_kind: str,
    source_id: str,
    actor: User | None = None,
    campaign: Campaign | None = None,
    extra_by_customer: Mapping[int, Mapping[str, Any]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    now: datetime.datetime | None = None,
) -> QueueReport:
    """Queue `template` to many customers of one dealer, set-based (campaigns, care rules).

    Reads customers, addresses, consents and cap counts in a few queries per batch and writes
    rows with bulk inserts; never a Python loop of ORM saves. `progress(done, total)` is called
    after each batch. Each batch is its own transaction (a savepoint inside the caller's), so a
    campaign's progress is visible while it runs and a run cut short continues where it
    stopped when called again: rows already written are found by their keys.
    """
    _check_dealer(dealer_id)
    send = _bulk_send(
        dealer_id=dealer_id,
        template=template,
        source_kind=source_kind,
        source_id=source_id,
        actor=actor,
        campaign=campaign,
        now=now,
    )
    ids = _unique(customer_ids)
    report = QueueReport()
    for start in range(0, len(ids), QUEUE_BATCH_SIZE):
        batch = ids[start : start + QUEUE_BATCH_SIZE]
        report.merge(_queue_batch(send, batch, extra_by_customer))
        if progress is not None:
            progress(min(start + QUEUE_BATCH_SIZE, len(ids)), len(ids))
    if report.queued:
        _schedule_dispatch()
    return report


def _queue_batch(
    send: _Send, batch: list[int], extra_by_customer: Mapping[int, Mapping[str, Any]] | None
) -> QueueReport:
    """Plan and write one batch in its own savepoint.

    Optimistic: a first run of a source (the usual case) finds no rows under its keys, so the
    batch is written without looking them up. When a key is taken — the run was cut short and
    runs again, or a concurrent run got there first — the insert fails, the savepoint rolls it
    back, and the batch is planned again with the existing rows read first ("already_queued").
    """
    look_up_keys = False
    for attempt in range(3):
        try:
            with transaction.atomic():
                plans = _plan(send, batch, extra_by_customer, look_up_keys=look_up_keys)
                return _write_plans(send, plans)
        except IntegrityError:
            if attempt == 2:
                raise
            look_up_keys = True
    raise AssertionError("unreachable")


def messages_check_bulk(
    *,
    dealer_id: int,
    customer_ids: Sequence[int],
    template: MessageTemplate,
    source_kind: str = Message.SourceKind.CAMPAIGN,
    source_id: str = "check",
    extra_by_customer: Mapping[int, Mapping[str, Any]] | None = None,
    now: datetime.datetime | None = None,
) -> QueueReport:
    """What messages_queue_bulk would do, writing nothing (a campaign's "check" step).

    The same rules in the same order; the report's lists hold CUSTOMER ids throughout (there
    are no messages), `missing_variable` names customer and variable as usual.
    """
    _check_dealer(dealer_id)
    send = _bulk_send(
        dealer_id=dealer_id,
        template=template,
        source_kind=source_kind,
        source_id=source_id,
        actor=None,
        campaign=None,
        now=now,
    )
    report = QueueReport()
    ids = _unique(customer_ids)
    for start in range(0, len(ids), QUEUE_BATCH_SIZE):
        for plan in _plan(send, ids[start : start + QUEUE_BATCH_SIZE], extra_by_customer):
            if plan.outcome == Outcome.MISSING_VARIABLE:
                report.missing_variable.append(plan.missing)  # type: ignore[arg-type]
                continue
            getattr(report, plan.outcome).append(plan.customer_id)
            if plan.outcome == Outcome.QUEUED and send.release_at > send.now:
                report.deferred_by_quiet_hours += 1
    return report


# --- templates -----------------------------------------------------------------------------


def _clean_template(values: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    unknown = set(values) - set(TEMPLATE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown template fields: {', '.join(sorted(unknown))}")
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("name", "subject", "body", "provider_template_code"):
            text = (value or "").strip()
            max_length = getattr(MessageTemplate._meta.get_field(name), "max_length", None)
            if max_length and len(text) > max_length:
                errors.setdefault(name, []).append(
                    _("At most %(max)d characters; this has %(count)d.")
                    % {"max": max_length, "count": len(text)}
                )
            cleaned[name] = text
        elif name == "purpose":
            if value not in Purpose.values:
                errors.setdefault(name, []).append(_("Choose what the template is for."))
            cleaned[name] = value
        elif name == "channel":
            if value not in Channel.values:
                errors.setdefault(name, []).append(_("Choose a channel."))
            cleaned[name] = value
        elif name == "language":
            if value not in Language.values:
                errors.setdefault(name, []).append(_("Choose a language."))
            cleaned[name] = value
        elif name == "is_active":
            cleaned[name] = bool(value)
    for name in ("name", "body"):
        if (creating or name in cleaned) and not cleaned.get(name) and name not in errors:
            errors.setdefault(name, []).append(_("This field is required."))
    if creating:
        for name in ("purpose", "channel"):
            if name not in cleaned:
                errors.setdefault(name, []).append(_("This field is required."))
    if "body" in cleaned or "subject" in cleaned:
        try:
            validate_template(cleaned.get("body", ""), cleaned.get("subject", ""))
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def template_create(*, actor: User, dealer_id: int, **fields: Any) -> MessageTemplate:
    """Create a template; unknown {{ variables }} are refused naming them (field "body")."""
    _check_dealer(dealer_id)
    cleaned = _clean_template(fields, creating=True)
    now = timezone.now()
    template = MessageTemplate(
        dealer_id=dealer_id,
        created_by_id=_actor_id(actor),
        updated_at=now,
        **cleaned,
    )
    template.save(force_insert=True)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=template,
        changes=field_changes({}, {k: v for k, v in cleaned.items() if v not in ("", None)}),
    )
    return template


@transaction.atomic
def template_update(*, actor: User, template: MessageTemplate, **fields: Any) -> MessageTemplate:
    """Change the given fields; the same checks as template_create. Messages already queued
    keep the text they were rendered with."""
    _check_dealer(template.dealer_id)
    cleaned = _clean_template(fields, creating=False)
    before = {name: getattr(template, name) for name in cleaned}
    changed = {name: value for name, value in cleaned.items() if before[name] != value}
    if not changed:
        return template
    for name, value in changed.items():
        setattr(template, name, value)
    template.updated_at = timezone.now()
    template.save(update_fields=[*changed, "updated_at"])
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=template,
        changes=field_changes(before, changed),
    )
    return template


# --- policy and providers --------------------------------------------------------------------


def _parse_time(value: Any) -> datetime.time | None:
    if isinstance(value, datetime.time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    try:
        return datetime.time.fromisoformat(str(value).strip())
    except ValueError:
        return None


def _clean_policy(values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(POLICY_FIELDS)
    if unknown:
        raise TypeError(f"Unknown policy fields: {', '.join(sorted(unknown))}")
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if name in ("quiet_start", "quiet_end"):
            parsed = _parse_time(value)
            if parsed is None:
                errors.setdefault(name, []).append(_("Enter a time such as 21:00."))
            cleaned[name] = parsed
        elif name == "quiet_channels":
            items = (
                value.replace("，", ",").split(",") if isinstance(value, str) else list(value or [])
            )
            channels = [str(c).strip() for c in items if str(c).strip()]
            bad = [c for c in channels if c not in Channel.values]
            if bad:
                errors.setdefault(name, []).append(
                    _("Unknown channel: %(channel)s.") % {"channel": bad[0]}
                )
            cleaned[name] = ",".join(c for c in Channel.values if c in channels)
        elif name in ("cap_count", "cap_days"):
            try:
                number = int(value)
            except (TypeError, ValueError):
                number = 0
            low, high = (1, 100) if name == "cap_count" else (1, 365)
            if not low <= number <= high:
                errors.setdefault(name, []).append(
                    _("Enter a whole number from %(low)d to %(high)d.") % {"low": low, "high": high}
                )
            cleaned[name] = number
        elif name == "sms_signature":
            # People type the brackets too; the signature is stored without them.
            text = (value or "").strip().strip("【】[] ")
            if len(text) > 20:
                errors.setdefault(name, []).append(_("A signature has at most 20 characters."))
            elif text and len(text) < 2:
                errors.setdefault(name, []).append(_("A signature has at least 2 characters."))
            cleaned[name] = text
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def policy_update(*, actor: User, dealer_id: int, **fields: Any) -> MessagingPolicy:
    """Change the dealer's quiet hours, cap and SMS signature. Messages already queued keep
    their send time; the new rules apply to what is queued from now on."""
    _check_dealer(dealer_id)
    cleaned = _clean_policy(fields)
    policy = policy_for_dealer(dealer_id)
    before = {name: getattr(policy, name) for name in cleaned}
    changed = {name: value for name, value in cleaned.items() if before[name] != value}
    if not changed:
        return policy
    for name, value in changed.items():
        setattr(policy, name, value)
    policy.updated_at = timezone.now()
    policy.save(update_fields=[*changed, "updated_at"])
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=policy,
        target_repr=str(_("Messaging policy")),
        changes=field_changes(before, changed),
    )
    return policy


@transaction.atomic
def provider_config_set(
    *,
    actor: User,
    dealer_id: int,
    channel: str,
    kind: str,
    options: Mapping[str, Any],
    secret: str | None = None,
) -> ProviderConfig:
    """Set the provider of one channel; `secret` None keeps the stored one, "" removes it.

    The secret is stored encrypted and never written to the audit log (only that it changed).
    """
    from .secrets import encrypt_secret

    _check_dealer(dealer_id)
    errors: dict[str, list[str]] = {}
    if channel not in Channel.values:
        errors.setdefault("channel", []).append(_("Choose a channel."))
    elif kind not in PROVIDER_KINDS_BY_CHANNEL[channel]:
        errors.setdefault("kind", []).append(_("This provider cannot send this channel."))
    if not isinstance(options, Mapping):
        errors.setdefault("options", []).append(_("Settings are a set of names and values."))
    else:
        try:
            json.dumps(dict(options))
        except (TypeError, ValueError):
            errors.setdefault("options", []).append(_("Settings must be plain text and numbers."))
    if errors:
        raise ValidationError(errors)
    config = ProviderConfig.objects.filter(dealer_id=dealer_id, channel=channel).first()
    creating = config is None
    if config is None:
        config = ProviderConfig(dealer_id=dealer_id, channel=channel)
    before = {"kind": config.kind, "options": config.options} if not creating else {}
    after = {"kind": kind, "options": dict(options)}
    config.kind = kind
    config.options = dict(options)
    config.updated_at = timezone.now()
    if secret is not None:
        config.secret_encrypted = encrypt_secret(secret)
    config.save()
    changes = field_changes(before, after)
    if secret is not None:
        changes["secret"] = [None, str(_("changed")) if secret else str(_("removed"))]
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE if creating else AuditEvent.Action.CHANGE,
        target=config,
        target_repr=str(_("%(channel)s provider") % {"channel": Channel(channel).label}),
        changes=changes,
    )
    return config


# --- campaigns ------------------------------------------------------------------------------


def _clean_audience(dealer_id: int, audience: Mapping[str, Any]) -> dict[str, list[Any]]:
    if not isinstance(audience, Mapping):
        raise ValidationError({"audience": _("Choose who gets the campaign.")})
    unknown = set(audience) - set(AUDIENCE_KEYS)
    if unknown:
        raise ValidationError(
            {
                "audience": _("Unknown audience criteria: %(names)s.")
                % {"names": ", ".join(sorted(unknown))}
            }
        )
    cleaned: dict[str, list[Any]] = {}
    tags = [t for t in (audience.get("tags") or []) if str(t).strip()]
    if tags:
        cleaned["tags"] = [t if isinstance(t, int) else str(t).strip() for t in tags]
    stages = list(audience.get("lifecycle_stages") or [])
    bad = [s for s in stages if s not in LifecycleStage.values]
    if bad:
        raise ValidationError(
            {"audience": _("Unknown lifecycle stage: %(stage)s.") % {"stage": bad[0]}}
        )
    if stages:
        cleaned["lifecycle_stages"] = stages
    try:
        ids = [int(i) for i in (audience.get("customer_ids") or [])]
    except (TypeError, ValueError) as exc:
        raise ValidationError({"audience": _("Customers are given by their ids.")}) from exc
    if ids:
        cleaned["customer_ids"] = ids
    if not cleaned:
        raise ValidationError(
            {"audience": _("Choose at least one tag, lifecycle stage or customer.")}
        )
    return cleaned


@transaction.atomic
def campaign_create(
    *,
    actor: User,
    dealer_id: int,
    name: str,
    template: MessageTemplate,
    audience: Mapping[str, Any],
) -> Campaign:
    """A draft campaign: a template for an audience. Nothing is queued until campaign_queue."""
    _check_dealer(dealer_id)
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors.setdefault("name", []).append(_("Give the campaign a name."))
    elif len(name) > 100:
        errors.setdefault("name", []).append(_("A name has at most 100 characters."))
    if template.dealer_id != dealer_id:
        errors.setdefault("template", []).append(_("Choose one of the dealer's templates."))
    elif not template.is_active:
        errors.setdefault("template", []).append(_("This template is switched off."))
    try:
        cleaned = _clean_audience(dealer_id, audience)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        cleaned = {}
    if errors:
        raise ValidationError(errors)
    campaign = Campaign.objects.create(
        dealer_id=dealer_id,
        name=name,
        template=template,
        audience=cleaned,
        created_by_id=_actor_id(actor),
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=campaign,
        changes=field_changes({}, {"name": name, "template": template.name, "audience": cleaned}),
    )
    return campaign


def campaign_report(report: QueueReport) -> dict[str, Any]:
    """What a campaign keeps of its queueing: the counts, and examples of the customers nothing
    was written for (the rest is in the messages themselves: held, blocked, undeliverable)."""
    return {
        **report.counts(),
        "missing_variable_examples": [
            {"customer_id": m.customer_id, "customer_name": m.customer_name, "variable": m.variable}
            for m in report.missing_variable[:REPORT_EXAMPLES]
        ],
        "no_address_examples": report.no_address[:REPORT_EXAMPLES],
    }


def campaign_queue(*, campaign_id: int, dealer_id: int) -> QueueReport:
    """Queue a campaign's messages (run by a job; updates campaign.progress as it goes).

    Not one transaction: each batch commits, so the progress bar moves and a job cut short
    continues when run again (rows already written are found by their keys). Running it again
    after it finished changes nothing and reports everyone as already queued.
    """
    _check_dealer(dealer_id)
    campaign = Campaign.objects.select_related("template").get(dealer_id=dealer_id, pk=campaign_id)
    customer_ids = audience_customer_ids(dealer_id, campaign.audience)
    Campaign.objects.filter(dealer_id=dealer_id, pk=campaign_id).update(
        status=Campaign.Status.QUEUEING, progress=0, total=len(customer_ids)
    )

    def progress(done: int, total: int) -> None:
        Campaign.objects.filter(dealer_id=dealer_id, pk=campaign_id).update(
            progress=done, total=total
        )

    try:
        report = messages_queue_bulk(
            dealer_id=dealer_id,
            customer_ids=customer_ids,
            template=campaign.template,
            source_kind=Message.SourceKind.CAMPAIGN,
            source_id=str(campaign.pk),
            actor=campaign.created_by,
            campaign=campaign,
            progress=progress,
        )
    except Exception as exc:
        Campaign.objects.filter(dealer_id=dealer_id, pk=campaign_id).update(
            status=Campaign.Status.FAILED, report={"error": str(exc)[:500]}
        )
        raise
    Campaign.objects.filter(dealer_id=dealer_id, pk=campaign_id).update(
        status=Campaign.Status.QUEUED,
        progress=len(customer_ids),
        total=len(customer_ids),
        report=campaign_report(report),
        queued_at=timezone.now(),
    )
    return report


def campaign_check(*, campaign: Campaign) -> QueueReport:
    """What queueing the campaign now would do (customer ids in every list), writing nothing."""
    return messages_check_bulk(
        dealer_id=campaign.dealer_id,
        customer_ids=audience_customer_ids(campaign.dealer_id, campaign.audience),
        template=campaign.template,
        source_kind=Message.SourceKind.CAMPAIGN,
        source_id=str(campaign.pk),
    )


# --- cancel and release ------------------------------------------------------------------------


@transaction.atomic
def message_cancel(*, actor: User, message: Message, request: HttpRequest | None = None) -> Message:
    """Cancel a queued or held message (nothing else can be cancelled)."""
    _check_dealer(message.dealer_id)
    now = timezone.now()
    # Conditional: a worker claiming the row at the same moment wins, and the cancel says so.
    updated = Message.objects.filter(
        dealer_id=message.dealer_id,
        pk=message.pk,
        direction=Message.Direction.OUTBOUND,
        status__in=(MessageStatus.QUEUED, MessageStatus.HELD),
    ).update(
        status=MessageStatus.CANCELLED,
        status_reason=_("Cancelled by %(name)s.") % {"name": str(actor)},
        status_changed_at=now,
    )
    before = message.status
    message.refresh_from_db()
    if not updated:
        raise ValidationError(
            {
                "status": _(
                    "Only a queued or held message can be cancelled; this one is %(status)s."
                )
                % {"status": message.get_status_display()}
            }
        )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=message,
        changes={"status": [before, MessageStatus.CANCELLED]},
        request=request,
    )
    return message


@transaction.atomic
def message_release(
    *, actor: User, message: Message, request: HttpRequest | None = None
) -> Message:
    """Queue a held or blocked message again, re-checking consent and the cap now.

    Refused (ValidationError on "status") while the customer still has no consent for the
    channel or the cap still holds; quiet hours apply as for a new message.
    """
    _check_dealer(message.dealer_id)
    message.refresh_from_db()
    if message.direction != Message.Direction.OUTBOUND or message.status not in (
        MessageStatus.HELD,
        MessageStatus.BLOCKED,
    ):
        raise ValidationError(
            {
                "status": _(
                    "Only a held or blocked message can be released; this one is %(status)s."
                )
                % {"status": message.get_status_display()}
            }
        )
    now = timezone.now()
    policy = policy_for_dealer(message.dealer_id)
    if message.is_marketing and message.customer_id is not None:
        if message.customer_id not in rules.consenting_customers(
            message.dealer_id, [message.customer_id], message.channel
        ):
            raise ValidationError({"status": _no_consent_reason(message.channel)})
        counts = rules.marketing_counts(
            message.dealer_id, [message.customer_id], rules.cap_window_start(policy, now)
        )
        if counts.get(message.customer_id, 0) >= policy.cap_count:
            raise ValidationError({"status": rules.cap_reason(policy)})
    zone = dealer_facts(message.dealer_id).time_zone
    before = message.status
    not_before = rules.release_time(policy, message.channel, now, zone)
    updated = Message.objects.filter(
        dealer_id=message.dealer_id, pk=message.pk, status=before
    ).update(
        status=MessageStatus.QUEUED,
        status_reason="",
        not_before=not_before,
        status_changed_at=now,
    )
    if not updated:
        raise ValidationError({"status": _("The message changed meanwhile; look again.")})
    message.refresh_from_db()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=message,
        changes={"status": [before, MessageStatus.QUEUED]},
        request=request,
    )
    _schedule_dispatch()
    return message


# --- starting a campaign from its page (added by h4, the pages; the lead may move it up) -------


def campaign_start(*, actor: User, campaign: Campaign, request: HttpRequest | None = None) -> bool:
    """Start queueing a draft campaign in the background, once: True if this call started it.

    The draft → queueing change is conditional, so a double click or two people pressing at
    once start one job, and the page shows the progress bar from this moment on, before a worker
    has picked the job up. The job (tasks.campaign_queue_job) is enqueued on commit.
    """
    _check_dealer(campaign.dealer_id)
    with transaction.atomic():
        started = Campaign.objects.filter(
            dealer_id=campaign.dealer_id, pk=campaign.pk, status=Campaign.Status.DRAFT
        ).update(status=Campaign.Status.QUEUEING, progress=0, total=0)
        if not started:
            return False
        audit_record(
            actor=actor,
            action=AuditEvent.Action.CHANGE,
            target=campaign,
            changes={"status": [Campaign.Status.DRAFT, Campaign.Status.QUEUEING]},
            request=request,
        )
        campaign_id, dealer_id = campaign.pk, campaign.dealer_id

        def enqueue() -> None:
            from .tasks import campaign_queue_job

            campaign_queue_job(campaign_id=campaign_id, dealer_id=dealer_id)

        transaction.on_commit(enqueue)
    return True
