"""Merging two customers of one dealer field by field, moving everything, and undo in 30 days.

`merge_plan` decides, field by field, whose value survives (the survivorship rule, overridden by
the user's choices); `customer_merge` applies it, moves every row that points at the merged
customer to the survivor and soft-deletes the merged one, keeping in the MergeRecord's snapshot
all that `merge_undo` needs to put back exactly what was there.

The move is generic: every concrete foreign key to Customer in every installed model, one
UPDATE per key whatever the number of rows. A moved row that would break a unique constraint
(the survivor already has that phone, tag or consent channel) is deleted instead, its full values
kept in the snapshot so undo re-inserts it with its id.

Snapshot layout (JSON): {"survivor": {attname: value}, "merged": {attname: value},
"moved": {"app.Model.field": [ids]}, "deleted": {"app.Model": [rows]}, "changed": {"app.Model":
[rows as they were]}, "created": {"app.Model": [ids]}}. Past the undo window `merges_finalise`
keeps only {"finalised_at", "moved_counts", "not_copied_counts"}.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.dateparse import parse_duration
from django.utils.duration import duration_iso_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dealercrm.core.audit import audit_record
from dealercrm.core.models import User
from dealercrm.core.tenancy import get_current_scope
from dealercrm.customers.contact_masking import mask_email
from dealercrm.customers.models import (
    Consent,
    Customer,
    CustomerPhone,
    Gender,
    Interaction,
    LifecycleStage,
)
from dealercrm.search.services import search_keys_refresh

from ..models import DuplicateCandidate, DuplicateStatus, MergeRecord

MERGE_UNDO_DAYS = 30
SURVIVOR, MERGED = "survivor", "merged"
RULES = ("most_recent", "most_complete")
RULE_LABELS = {
    "most_recent": gettext_lazy("Most recent"),
    "most_complete": gettext_lazy("Most complete"),
}
# Audit actions (AuditEvent.action is free text beyond its listed choices).
AUDIT_MERGE = "merge"
AUDIT_MERGE_UNDO = "merge_undo"

# Rows derived from the customer that are rebuilt rather than moved, and this app's own records
# of pairs and merges, which the merge itself maintains.
_NOT_MOVED_APPS = {"dataquality"}
_NOT_MOVED_MODELS = {"search.SearchKey"}
_ID_CHUNK = 500  # ids per IN (...) when moving rows back, well under SQLite's parameter limit

# Lifecycle stages from least to most advanced: the more advanced one survives.
_STAGE_RANK = {
    LifecycleStage.PROSPECT: 0,
    LifecycleStage.LOST: 1,
    LifecycleStage.IN_ORDER: 2,
    LifecycleStage.AT_RISK: 3,
    LifecycleStage.OWNER: 4,
    LifecycleStage.LOYAL: 5,
}


@dataclass(frozen=True)
class _PlanField:
    name: str
    label: Any  # lazy text
    fields: tuple[str, ...]  # the model fields that move together
    policy: str = "rule"  # "rule" | "union" | "stage" | "first_contact"


_PLAN_FIELDS: tuple[_PlanField, ...] = (
    _PlanField("name", gettext_lazy("Name"), ("name",)),
    _PlanField("latin_name", gettext_lazy("Latin name"), ("latin_name",)),
    _PlanField("contact_person", gettext_lazy("Contact person"), ("contact_person",)),
    _PlanField("gender", gettext_lazy("Gender"), ("gender",)),
    _PlanField("birthday", gettext_lazy("Birthday"), ("birthday",)),
    _PlanField(
        "lunar_birthday",
        gettext_lazy("Lunar birthday"),
        ("lunar_birthday_month", "lunar_birthday_day", "lunar_birthday_leap"),
    ),
    _PlanField(
        "id_number",
        gettext_lazy("ID number"),
        ("id_number_encrypted", "id_number_hash", "id_number_masked"),
    ),
    _PlanField("email", gettext_lazy("E-mail"), ("email",)),
    _PlanField("wechat_id", gettext_lazy("WeChat ID"), ("wechat_id",)),
    _PlanField("address", gettext_lazy("Address"), ("province", "city", "district", "street")),
    _PlanField("occupation", gettext_lazy("Occupation"), ("occupation",)),
    _PlanField("education", gettext_lazy("Education"), ("education",)),
    _PlanField("income_band", gettext_lazy("Income band"), ("income_band",)),
    _PlanField("marital_status", gettext_lazy("Marital status"), ("marital_status",)),
    _PlanField("children", gettext_lazy("Children's birth years"), ("children_birth_years",)),
    _PlanField("interests", gettext_lazy("Interests"), ("interests",), "union"),
    _PlanField("lifestyle", gettext_lazy("Lifestyle"), ("lifestyle",), "union"),
    _PlanField(
        "source_channel", gettext_lazy("Source channel"), ("source_channel",), "first_contact"
    ),
    _PlanField(
        "assigned_consultant", gettext_lazy("Assigned consultant"), ("assigned_consultant_id",)
    ),
    _PlanField("lifecycle_stage", gettext_lazy("Lifecycle stage"), ("lifecycle_stage",), "stage"),
)
PLAN_FIELD_NAMES = tuple(p.name for p in _PLAN_FIELDS if p.policy != "union")
PLAN_LABELS = {p.name: p.label for p in _PLAN_FIELDS}


@dataclass
class FieldPlan:
    """One line of the merge form: the two values, which one survives, and why."""

    name: str  # the key in `choices` ("name", "address", "id_number" …)
    label: str
    survivor_value: str  # display text
    merged_value: str
    choice: str  # "survivor" | "merged"
    reason: str
    union: bool = False  # both values are kept (interests, lifestyle): nothing to choose


# --- the plan ----------------------------------------------------------------------------------


def _raw(customer: Customer, spec: _PlanField) -> tuple[Any, ...]:
    return tuple(getattr(customer, f) for f in spec.fields)


def _is_empty(spec: _PlanField, raw: tuple[Any, ...]) -> bool:
    if spec.name == "gender":
        return raw[0] in ("", None, Gender.UNKNOWN)
    if spec.name == "lunar_birthday":
        return raw[0] is None
    return all(v in ("", None, [], {}) for v in raw if not isinstance(v, bool))


def _completeness(raw: tuple[Any, ...]) -> int:
    """How much a value says: the length of its text, or the number of items in a list."""
    total = 0
    for value in raw:
        if isinstance(value, bool) or value is None:
            continue
        total += len(value) if isinstance(value, (str, list, dict)) else 1
    return total


def _display(customer: Customer, spec: _PlanField) -> str:
    if _is_empty(spec, _raw(customer, spec)):
        return ""
    name = spec.name
    if name in ("gender", "education", "income_band", "marital_status", "source_channel"):
        return str(getattr(customer, f"get_{spec.fields[0]}_display")())
    if name == "lifecycle_stage":
        return str(customer.get_lifecycle_stage_display())
    if name == "birthday" and customer.birthday is not None:
        return customer.birthday.isoformat()
    if name == "lunar_birthday":
        text = _("%(month)s/%(day)s (lunar)") % {
            "month": customer.lunar_birthday_month,
            "day": customer.lunar_birthday_day,
        }
        return _("leap month %(date)s") % {"date": text} if customer.lunar_birthday_leap else text
    if name == "id_number":
        return customer.id_number_masked
    if name == "email":
        # Masked as on the pair's page: full contact details are shown only on request (audited).
        return mask_email(customer.email)
    if name == "address":
        return " ".join(v for v in _raw(customer, spec) if v)
    if name == "assigned_consultant":
        return str(customer.assigned_consultant)
    if name in ("children", "interests", "lifestyle"):
        return ", ".join(str(v) for v in getattr(customer, spec.fields[0]))
    return str(getattr(customer, spec.fields[0]))


def _decide(spec: _PlanField, survivor: Customer, merged: Customer, rule: str) -> tuple[str, str]:
    """(choice, reason) for one field under the rule."""
    s_raw, m_raw = _raw(survivor, spec), _raw(merged, spec)
    if spec.policy == "stage":
        if _STAGE_RANK.get(m_raw[0], 0) > _STAGE_RANK.get(s_raw[0], 0):
            return MERGED, _("the more advanced stage")
        return SURVIVOR, _("the more advanced stage")
    if spec.policy == "first_contact":
        older = merged if merged.created_at < survivor.created_at else survivor
        return (
            MERGED if older is merged else SURVIVOR,
            _("how the customer first came to the dealer"),
        )
    s_empty, m_empty = _is_empty(spec, s_raw), _is_empty(spec, m_raw)
    if s_empty and m_empty:
        return SURVIVOR, _("neither record has it")
    if s_raw == m_raw:
        return SURVIVOR, _("the same in both")
    if m_empty:
        return SURVIVOR, _("only this record has it")
    if s_empty:
        return MERGED, _("only this record has it")
    if rule == "most_complete":
        if _completeness(m_raw) > _completeness(s_raw):
            return MERGED, _("the more complete value")
        return SURVIVOR, _("the more complete value")
    if merged.updated_at > survivor.updated_at:
        return MERGED, _("the more recently updated record")
    return SURVIVOR, _("the more recently updated record")


def _check_rule(rule: str) -> None:
    if rule not in RULES:
        raise ValidationError(
            {"rule": [_("“%(value)s” is not a survivorship rule.") % {"value": rule}]}
        )


def _check_choices(choices: dict[str, str] | None) -> dict[str, str]:
    choices = dict(choices or {})
    errors = []
    for key, value in choices.items():
        if key not in PLAN_FIELD_NAMES:
            errors.append(_("“%(field)s” is not a field that can be chosen.") % {"field": key})
        elif value not in (SURVIVOR, MERGED):
            errors.append(
                _("The choice for “%(field)s” must be “survivor” or “merged”.") % {"field": key}
            )
    if errors:
        raise ValidationError({"choices": errors})
    return choices


def merge_plan(
    *,
    survivor: Customer,
    merged: Customer,
    rule: str = "most_recent",
    choices: dict[str, str] | None = None,
) -> list[FieldPlan]:
    """The survivorship decision per field under `rule` ("most_recent" or "most_complete").

    most_recent: of two different values the one of the record updated later wins;
    most_complete: the longer / fuller value wins. Either way a value beats an empty one, the
    lifecycle stage is the more advanced one, the source channel is the one of the first contact,
    and interests and lifestyle are the union of both. `choices` (the user's) override the rule.
    """
    _check_rule(rule)
    choices = _check_choices(choices)
    plan = []
    for spec in _PLAN_FIELDS:
        survivor_text, merged_text = _display(survivor, spec), _display(merged, spec)
        if spec.policy == "union":
            extra = [
                v
                for v in getattr(merged, spec.fields[0])
                if v not in getattr(survivor, spec.fields[0])
            ]
            plan.append(
                FieldPlan(
                    name=spec.name,
                    label=str(spec.label),
                    survivor_value=survivor_text,
                    merged_value=", ".join(str(v) for v in extra),
                    choice=SURVIVOR,
                    reason=_("both kept"),
                    union=True,
                )
            )
            continue
        choice, reason = _decide(spec, survivor, merged, rule)
        if spec.name in choices:
            choice, reason = choices[spec.name], _("chosen")
        plan.append(
            FieldPlan(
                name=spec.name,
                label=str(spec.label),
                survivor_value=survivor_text,
                merged_value=merged_text,
                choice=choice,
                reason=reason,
            )
        )
    return plan


def _merged_values(survivor: Customer, merged: Customer, plan: Sequence[FieldPlan]) -> dict:
    """The survivor's new field values (only those that change)."""
    by_name = {spec.name: spec for spec in _PLAN_FIELDS}
    values: dict[str, Any] = {}
    for line in plan:
        spec = by_name[line.name]
        if line.union:
            field = spec.fields[0]
            mine = list(getattr(survivor, field))
            union = mine + [v for v in getattr(merged, field) if v not in mine]
            if union != mine:
                values[field] = union
        elif line.choice == MERGED:
            for field in spec.fields:
                if getattr(merged, field) != getattr(survivor, field):
                    values[field] = getattr(merged, field)
    return values


# --- rows as JSON and back ---------------------------------------------------------------------


def _to_json(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def _from_json(field: models.Field, value: Any) -> Any:
    if value is None or isinstance(field, models.JSONField):
        return value
    if isinstance(field, models.DurationField):
        return parse_duration(value)
    if isinstance(field, models.BinaryField):
        return bytes.fromhex(value)
    if isinstance(field, models.ForeignKey):
        return field.target_field.to_python(value)
    return field.to_python(value)


def _row_json(model: type[models.Model], row: dict[str, Any]) -> dict[str, Any]:
    return {f.attname: _to_json(row[f.attname]) for f in model._meta.concrete_fields}


def _rows_json(model: type[models.Model], qs: models.QuerySet) -> list[dict[str, Any]]:
    attnames = [f.attname for f in model._meta.concrete_fields]
    return [_row_json(model, row) for row in qs.values(*attnames)]


def _instance_json(obj: models.Model) -> dict[str, Any]:
    return {f.attname: _to_json(getattr(obj, f.attname)) for f in obj._meta.concrete_fields}


def _values_from_json(model: type[models.Model], row: dict[str, Any]) -> dict[str, Any]:
    fields = {f.attname: f for f in model._meta.concrete_fields}
    return {name: _from_json(fields[name], value) for name, value in row.items() if name in fields}


# --- moving related rows -----------------------------------------------------------------------


def _customer_foreign_keys() -> list[tuple[type[models.Model], models.ForeignKey]]:
    """Every concrete FK (one-to-one included) to Customer outside the not-moved models."""
    found: list[tuple[type[models.Model], models.ForeignKey]] = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        if model._meta.app_label in _NOT_MOVED_APPS or model._meta.label in _NOT_MOVED_MODELS:
            continue
        for field in model._meta.concrete_fields:
            # A one-to-one field is a ForeignKey too.
            if isinstance(field, models.ForeignKey) and field.related_model is Customer:
                found.append((model, field))
    return sorted(found, key=lambda mf: (mf[0]._meta.label, mf[1].name))


def _unique_sets(
    model: type[models.Model], fk: models.Field
) -> list[tuple[tuple[str, ...], Q | None]]:
    """The unique field sets that include `fk`, each with its condition (partial constraints)."""
    sets: list[tuple[tuple[str, ...], Q | None]] = []
    if fk.unique:
        sets.append(((fk.name,), None))
    for together in model._meta.unique_together:
        if fk.name in together or fk.attname in together:
            sets.append((tuple(together), None))
    for constraint in model._meta.constraints:
        if not isinstance(constraint, models.UniqueConstraint) or not constraint.fields:
            continue  # expression constraints cannot be matched generically
        if fk.name in constraint.fields or fk.attname in constraint.fields:
            sets.append((tuple(constraint.fields), constraint.condition))
    return sets


def _conflicting_ids(
    model: type[models.Model], fk: models.Field, *, survivor_id: int, merged_id: int
) -> set[int]:
    """The merged customer's rows that the survivor already has the like of, per constraint."""
    ids: set[int] = set()
    for fields, condition in _unique_sets(model, fk):
        others = [name for name in fields if name not in (fk.name, fk.attname)]
        survivor_rows = model._base_manager.filter(**{fk.attname: survivor_id})
        merged_rows = model._base_manager.filter(**{fk.attname: merged_id})
        if condition is not None:
            survivor_rows = survivor_rows.filter(condition)
            merged_rows = merged_rows.filter(condition)
        same = survivor_rows.filter(**{name: OuterRef(name) for name in others})
        ids |= set(merged_rows.filter(Exists(same)).values_list("pk", flat=True))
    return ids


class _Snapshot:
    """What undo needs, gathered while the merge runs."""

    def __init__(self) -> None:
        self.moved: dict[str, list[Any]] = {}
        self.deleted: dict[str, list[dict[str, Any]]] = {}
        self.changed: dict[str, list[dict[str, Any]]] = {}
        self.created: dict[str, list[Any]] = {}

    def keep_changed(self, model: type[models.Model], pks: Iterable[Any]) -> None:
        pks = list(pks)
        if pks:
            rows = _rows_json(model, model._base_manager.filter(pk__in=pks))
            self.changed.setdefault(model._meta.label, []).extend(rows)


def _consent_latest_wins(snapshot: _Snapshot, *, survivor_id: int, conflicting: set[int]) -> None:
    """Per channel the most recent change wins: copy a newer consent onto the survivor's row."""
    for theirs in Consent._base_manager.filter(pk__in=conflicting):
        mine = Consent._base_manager.get(customer_id=survivor_id, channel=theirs.channel)
        if theirs.changed_at > mine.changed_at:
            snapshot.keep_changed(Consent, [mine.pk])
            Consent._base_manager.filter(pk=mine.pk).update(
                granted=theirs.granted, changed_at=theirs.changed_at, source=theirs.source
            )


def _delete_rows(model: type[models.Model], pks: set[int], snapshot: _Snapshot) -> None:
    rows = _rows_json(model, model._base_manager.filter(pk__in=pks).order_by("pk"))
    snapshot.deleted.setdefault(model._meta.label, []).extend(rows)
    _count, per_model = model._base_manager.filter(pk__in=pks).delete()
    cascaded = {label for label, n in per_model.items() if n and label != model._meta.label}
    if cascaded:
        # Undo could not bring back rows the database deleted along with these: refuse instead.
        raise ValidationError(
            _(
                "Both customers have a %(kind)s that cannot be merged automatically, because "
                "other records depend on it (%(others)s). Resolve it by hand, then merge."
            )
            % {"kind": model._meta.verbose_name, "others": ", ".join(sorted(cascaded))}
        )


def _move_related(*, survivor: Customer, merged: Customer, snapshot: _Snapshot) -> dict[str, int]:
    """Point every row of the merged customer at the survivor; one UPDATE per foreign key."""
    counts: dict[str, int] = {}
    survivor_had_primary = CustomerPhone._base_manager.filter(
        customer_id=survivor.pk, is_primary=True
    ).exists()
    for model, fk in _customer_foreign_keys():
        conflicting = _conflicting_ids(model, fk, survivor_id=survivor.pk, merged_id=merged.pk)
        if conflicting:
            if model is Consent:
                _consent_latest_wins(snapshot, survivor_id=survivor.pk, conflicting=conflicting)
            _delete_rows(model, conflicting, snapshot)
        rows = model._base_manager.filter(**{fk.attname: merged.pk})
        ids = sorted(rows.values_list("pk", flat=True))
        if not ids:
            continue
        label = f"{model._meta.label}.{fk.name}"
        snapshot.moved[label] = [_to_json(pk) for pk in ids]
        if model is CustomerPhone and survivor_had_primary:
            # One primary number: the survivor's stays primary.
            primaries = rows.filter(is_primary=True)
            snapshot.keep_changed(CustomerPhone, primaries.values_list("pk", flat=True))
            primaries.update(is_primary=False)
        counts[label] = rows.update(**{fk.attname: survivor.pk})
    return counts


# --- candidates --------------------------------------------------------------------------------


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _repoint_candidates(
    *,
    survivor: Customer,
    merged: Customer,
    pair: DuplicateCandidate | None,
    snapshot: _Snapshot,
) -> None:
    """Other pairs with the merged customer now concern the survivor: re-point them, or drop
    them when the survivor already has that pair."""
    involving = DuplicateCandidate._base_manager.filter(
        Q(customer_a_id=merged.pk) | Q(customer_b_id=merged.pk)
    )
    if pair is not None:
        involving = involving.exclude(pk=pair.pk)
    others = list(involving.order_by("pk"))
    if not others:
        return
    snapshot.keep_changed(DuplicateCandidate, [c.pk for c in others])
    dealer_of = dict(
        Customer._base_manager.filter(
            pk__in={c.customer_a_id for c in others}
            | {c.customer_b_id for c in others}
            | {survivor.pk}
        ).values_list("pk", "dealer_id")
    )
    existing = set(
        DuplicateCandidate._base_manager.filter(
            Q(customer_a_id=survivor.pk) | Q(customer_b_id=survivor.pk)
        ).values_list("customer_a_id", "customer_b_id")
    )
    drop = set()
    for candidate in others:
        other_id = (
            candidate.customer_b_id
            if candidate.customer_a_id == merged.pk
            else candidate.customer_a_id
        )
        a, b = _ordered(survivor.pk, other_id)
        if other_id == survivor.pk or (a, b) in existing:
            drop.add(candidate.pk)
            continue
        existing.add((a, b))
        DuplicateCandidate._base_manager.filter(pk=candidate.pk).update(
            customer_a_id=a,
            customer_b_id=b,
            dealer_id=dealer_of[a],
            other_dealer_id=dealer_of[b],
        )
    if drop:
        snapshot.deleted.setdefault(DuplicateCandidate._meta.label, []).extend(
            _rows_json(DuplicateCandidate, DuplicateCandidate._base_manager.filter(pk__in=drop))
        )
        DuplicateCandidate._base_manager.filter(pk__in=drop).delete()
        changed = snapshot.changed[DuplicateCandidate._meta.label]
        # A dropped pair is re-inserted on undo, not updated.
        snapshot.changed[DuplicateCandidate._meta.label] = [
            row for row in changed if row["id"] not in drop
        ]


# --- merge -------------------------------------------------------------------------------------


def _stale(customer: Customer) -> ValidationError:
    return ValidationError(
        _(
            "%(name)s (#%(id)s) was changed by someone else after you opened it. Nothing was "
            "merged: reload the page and try again."
        )
        % {"name": customer.name, "id": customer.pk}
    )


def _locked_pair(survivor: Customer, merged: Customer) -> tuple[Customer, Customer]:
    """Both customers, re-read under a row lock (in id order, so two merges cannot deadlock)."""
    rows = {
        c.pk: c
        for c in Customer._base_manager.select_for_update(of=("self",))
        .select_related("assigned_consultant")
        .filter(pk__in=[survivor.pk, merged.pk])
        .order_by("pk")
    }
    if survivor.pk not in rows or merged.pk not in rows:
        raise ValidationError(_("One of the two customers no longer exists."))
    return rows[survivor.pk], rows[merged.pk]


def customer_merge(
    *,
    actor: User | None,
    survivor: Customer,
    merged: Customer,
    choices: dict[str, str] | None = None,
    rule: str = "most_recent",
    automatic: bool = False,
    candidate: DuplicateCandidate | None = None,
    score: float | None = None,
) -> MergeRecord:
    """Merge `merged` into `survivor` (same dealer, both at the versions the caller read).

    Raises ValidationError for another dealer's pair, a deleted customer, the same customer or a
    stale version. `choices` ({field: "survivor" | "merged"}) override the rule per field. The
    merged customer is soft-deleted; everything that pointed at it points at the survivor.
    """
    _check_rule(rule)
    choices = _check_choices(choices)
    if survivor.pk == merged.pk:
        raise ValidationError(_("A customer cannot be merged with itself."))
    if survivor.dealer_id != merged.dealer_id:
        raise ValidationError(
            _(
                "These customers belong to two dealers. Each dealer owns its own record: the "
                "brand links them, it never merges them."
            )
        )
    if candidate is not None and {candidate.customer_a_id, candidate.customer_b_id} != {
        survivor.pk,
        merged.pk,
    }:
        raise ValidationError(_("This pair is not the one the duplicate candidate names."))
    scope = get_current_scope()
    if scope is not None and not scope.allows(survivor.dealer_id):
        raise PermissionDenied("This dealer is outside the current scope.")
    with transaction.atomic():
        fresh_survivor, fresh_merged = _locked_pair(survivor, merged)
        for mine, fresh in ((survivor, fresh_survivor), (merged, fresh_merged)):
            if fresh.is_deleted:
                raise ValidationError(
                    _("%(name)s (#%(id)s) has been deleted and cannot be merged.")
                    % {"name": fresh.name, "id": fresh.pk}
                )
            if fresh.version != mine.version:
                raise _stale(fresh)
        survivor, merged = fresh_survivor, fresh_merged
        now = timezone.now()
        plan = merge_plan(survivor=survivor, merged=merged, rule=rule, choices=choices)
        decided = {line.name: line.choice for line in plan if not line.union}
        new_values = _merged_values(survivor, merged, plan)

        snapshot = _Snapshot()
        before = {SURVIVOR: _instance_json(survivor), MERGED: _instance_json(merged)}

        # The merged record goes first, so the survivor may take its ID number (one living
        # customer per ID number).
        for customer, values in ((merged, {"is_deleted": True}), (survivor, new_values)):
            updated = Customer._base_manager.filter(
                pk=customer.pk, version=customer.version, is_deleted=False
            ).update(version=F("version") + 1, updated_at=now, **values)
            if not updated:  # SQLite takes no row locks: a write slipped in after the read
                raise _stale(customer)
        moved = _move_related(survivor=survivor, merged=merged, snapshot=snapshot)

        pair = candidate
        if pair is None:
            a, b = _ordered(survivor.pk, merged.pk)
            pair = DuplicateCandidate._base_manager.filter(
                dealer_id=survivor.dealer_id, customer_a_id=a, customer_b_id=b
            ).first()
        if pair is not None:
            snapshot.keep_changed(DuplicateCandidate, [pair.pk])
            DuplicateCandidate._base_manager.filter(pk=pair.pk).update(
                status=DuplicateStatus.MERGED,
                decided_at=now,
                decided_by=actor if actor is not None and actor.is_authenticated else None,
            )
        _repoint_candidates(survivor=survivor, merged=merged, pair=pair, snapshot=snapshot)

        note = Interaction._base_manager.create(
            dealer_id=survivor.dealer_id,
            customer_id=survivor.pk,
            kind=Interaction.Kind.NOTE,
            occurred_at=now,
            author=actor if actor is not None and actor.is_authenticated else None,
            subject=_("Merged with %(name)s (#%(id)s)") % {"name": merged.name, "id": merged.pk},
            body=(
                _("Merged automatically (confidence %(score)s).") % {"score": f"{score:.2f}"}
                if automatic and score is not None
                else ""
            ),
        )
        snapshot.created[Interaction._meta.label] = [note.pk]

        search_keys_refresh(dealer_id=survivor.dealer_id, customer_ids=[survivor.pk, merged.pk])
        record = MergeRecord._base_manager.create(
            dealer_id=survivor.dealer_id,
            survivor=survivor,
            merged=merged,
            candidate=pair,
            automatic=automatic,
            score=score if score is not None else (pair.score if pair is not None else None),
            choices=decided,
            snapshot={
                **before,
                "moved": snapshot.moved,
                "deleted": snapshot.deleted,
                "changed": snapshot.changed,
                "created": snapshot.created,
            },
            merged_at=now,
            merged_by=actor if actor is not None and actor.is_authenticated else None,
        )
        audit_record(
            actor=actor,
            action=AUDIT_MERGE,
            target=survivor,
            changes={
                "merge": record.pk,
                "merged": merged.pk,
                "automatic": automatic,
                "fields": sorted(f for f, c in decided.items() if c == MERGED),
                "moved": moved,
            },
        )
    return record


# --- undo --------------------------------------------------------------------------------------


def merge_undo_refusal(merge: MergeRecord, *, now: datetime.datetime | None = None) -> str:
    """Why this merge cannot be undone now, or "" when it can."""
    now = now or timezone.now()
    if merge.undone_at is not None:
        return _("This merge was already undone.")
    if now - merge.merged_at > datetime.timedelta(days=MERGE_UNDO_DAYS):
        return _("A merge can be undone for %(days)s days; this one is older.") % {
            "days": MERGE_UNDO_DAYS
        }
    if not {SURVIVOR, MERGED} <= set(merge.snapshot or {}):
        return _("This merge kept no record of what was there before; it cannot be undone.")
    involved = [merge.survivor_id, merge.merged_id]
    later = (
        MergeRecord._base_manager.filter(undone_at__isnull=True, merged_at__gte=merge.merged_at)
        .exclude(pk=merge.pk)
        .filter(Q(survivor_id__in=involved) | Q(merged_id__in=involved))
        .filter(Q(merged_at__gt=merge.merged_at) | Q(pk__gt=merge.pk))
        .order_by("-merged_at", "-pk")
        .first()
    )
    if later is not None:
        return _(
            "These customers were merged again since (merge #%(id)s). Undo that merge first."
        ) % {"id": later.pk}
    return ""


def _restore_customer(row: dict[str, Any]) -> None:
    values = _values_from_json(Customer, row)
    pk = values.pop("id")
    values.pop("version", None)  # a restore is a new version: stale forms stay refused
    Customer._base_manager.filter(pk=pk).update(version=F("version") + 1, **values)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _ID_CHUNK):
        yield values[start : start + _ID_CHUNK]


def merge_undo(*, actor: User | None, merge: MergeRecord) -> MergeRecord:
    """Put back exactly what was there before `merge` (within MERGE_UNDO_DAYS).

    Refused (ValidationError) when already undone, too old, or when a later merge touched these
    customers. Rows added to the survivor since the merge stay with the survivor.
    """
    with transaction.atomic():
        merge = MergeRecord._base_manager.select_for_update().get(pk=merge.pk)
        now = timezone.now()
        refusal = merge_undo_refusal(merge, now=now)
        if refusal:
            raise ValidationError(refusal)
        survivor, merged = _locked_pair(merge.survivor, merge.merged)
        if survivor.is_deleted:
            raise ValidationError(
                _("%(name)s (#%(id)s) has been deleted since the merge; it cannot be undone.")
                % {"name": survivor.name, "id": survivor.pk}
            )
        snapshot = merge.snapshot

        # The survivor gives the merged customer's ID number back before the merged one lives.
        _restore_customer(snapshot[SURVIVOR])
        _restore_customer(snapshot[MERGED])

        for label, pks in snapshot.get("created", {}).items():
            apps.get_model(label)._base_manager.filter(pk__in=pks).delete()
        for key, pks in snapshot.get("moved", {}).items():
            app_label, model_name, field_name = key.split(".")
            model = apps.get_model(app_label, model_name)
            fk = model._meta.get_field(field_name)
            pk_field = model._meta.pk
            ids = [_from_json(pk_field, pk) for pk in pks]
            for chunk in _chunks(ids):
                model._base_manager.filter(pk__in=chunk, **{fk.attname: survivor.pk}).update(
                    **{fk.attname: merged.pk}
                )
        for label, rows in snapshot.get("changed", {}).items():
            model = apps.get_model(label)
            for row in rows:
                values = _values_from_json(model, row)
                pk = values.pop(model._meta.pk.attname)
                model._base_manager.filter(pk=pk).update(**values)
        for label, rows in snapshot.get("deleted", {}).items():
            model = apps.get_model(label)
            model._base_manager.bulk_create(
                [model(**_values_from_json(model, row)) for row in rows]
            )

        search_keys_refresh(dealer_id=survivor.dealer_id, customer_ids=[survivor.pk, merged.pk])
        merge.undone_at = now
        merge.undone_by = actor if actor is not None and actor.is_authenticated else None
        MergeRecord._base_manager.filter(pk=merge.pk).update(
            undone_at=merge.undone_at, undone_by=merge.undone_by
        )
        audit_record(
            actor=actor,
            action=AUDIT_MERGE_UNDO,
            target=survivor,
            changes={"merge": merge.pk, "merged": merged.pk},
        )
    return merge


# --- after the undo window ---------------------------------------------------------------------


def merge_moved_counts(merge: MergeRecord) -> dict[str, int]:
    """Rows moved to the survivor per "app_label.Model.field" (kept after finalising)."""
    snapshot = merge.snapshot or {}
    if "moved_counts" in snapshot:
        return dict(snapshot["moved_counts"])
    return {label: len(ids) for label, ids in snapshot.get("moved", {}).items()}


def merge_not_copied_counts(merge: MergeRecord) -> dict[str, int]:
    """Rows the survivor already had the like of, per "app_label.Model" (pairs left out)."""
    snapshot = merge.snapshot or {}
    if "not_copied_counts" in snapshot:
        return dict(snapshot["not_copied_counts"])
    return {
        label: len(rows)
        for label, rows in snapshot.get("deleted", {}).items()
        if label != DuplicateCandidate._meta.label
    }


def merges_finalise(*, now: datetime.datetime | None = None, batch_size: int = 500) -> int:
    """Drop the undo data of merges past the undo window; returns how many were finalised.

    The snapshot holds the merged customer's personal data (the ID number, e-mail, the phones
    that were dropped): once undo is no longer possible it is kept no longer (PIPL's data
    minimisation). The counts of what moved stay for the merge page. The merged customer stays
    soft-deleted. Safe to run twice: finalised merges have no "survivor" key left.
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=MERGE_UNDO_DAYS)
    due = (
        MergeRecord._base_manager.filter(
            undone_at__isnull=True, merged_at__lt=cutoff, snapshot__has_key=SURVIVOR
        )
        .order_by("pk")
        .only("pk", "snapshot")
    )
    finalised = 0
    while batch := list(due[:batch_size]):
        for merge in batch:
            merge.snapshot = {
                "finalised_at": now.isoformat(),
                "moved_counts": merge_moved_counts(merge),
                "not_copied_counts": merge_not_copied_counts(merge),
            }
        with transaction.atomic():
            MergeRecord._base_manager.bulk_update(batch, ["snapshot"])
        finalised += len(batch)
    return finalised
