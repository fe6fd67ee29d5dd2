"""Writes to customers: create, change (with an optimistic lock), delete, phones, tags, consent,
interactions, and revealing full contact details. Every write is audited.

Views, the API, imports and jobs all call these functions; none of them writes customer rows
another way. Bad input raises a ValidationError keyed by the field and nothing is saved.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.audit import audit_record, field_changes
from dealercrm.core.models import AuditEvent, User
from dealercrm.core.permissions import DEALER_ROLES, Perm
from dealercrm.core.tenancy import require_scope
from dealercrm.search.services import search_keys_refresh

from .contact_masking import mask_phone
from .id_numbers import StoredIdNumber, decrypt_id_number, protect_id_number
from .models import (
    CallOutcome,
    Consent,
    ConsentChannel,
    Customer,
    CustomerKind,
    CustomerPhone,
    CustomerTag,
    Education,
    Gender,
    IncomeBand,
    Interaction,
    LifecycleStage,
    MaritalStatus,
    SourceChannel,
    Tag,
)
from .validators import id_number_birth_date, id_number_gender, normalise_email, normalise_phone

# The profile fields customer_create and customer_update take as keyword arguments.
PROFILE_FIELDS = (
    "kind",
    "name",
    "latin_name",
    "contact_person",
    "gender",
    "birthday",
    "lunar_birthday_month",
    "lunar_birthday_day",
    "lunar_birthday_leap",
    "email",
    "wechat_id",
    "province",
    "city",
    "district",
    "street",
    "occupation",
    "education",
    "income_band",
    "marital_status",
    "children_birth_years",
    "interests",
    "lifestyle",
    "source_channel",
    "assigned_consultant_id",
    "lifecycle_stage",
)
_TEXT_FIELDS = (
    "latin_name",
    "contact_person",
    "wechat_id",
    "province",
    "city",
    "district",
    "street",
    "occupation",
)
_CHOICE_FIELDS: dict[
    str, tuple[type[models.TextChoices], bool]
] = {  # field: (choices, may be blank)
    "kind": (CustomerKind, False),
    "gender": (Gender, False),
    "education": (Education, True),
    "income_band": (IncomeBand, True),
    "marital_status": (MaritalStatus, True),
    "source_channel": (SourceChannel, False),
    "lifecycle_stage": (LifecycleStage, False),
}
# Changing one of these changes what the customer is found by.
_SEARCHED_FIELDS = frozenset({"name", "latin_name", "id_number_hash"})
MAX_TAG_LENGTH = 40
MAX_LIST_ITEM_LENGTH = 40


class ConcurrentEdit(ValidationError):  # noqa: N818 — reads as what happened
    """Someone saved the customer after the caller read it; nothing was written."""

    def __init__(
        self,
        message: str,
        *,
        changed_by: str = "",
        changed_at: datetime.datetime | None = None,
        current_version: int | None = None,
    ) -> None:
        super().__init__(message, code="concurrent_edit")
        self.changed_by = changed_by
        self.changed_at = changed_at
        self.current_version = current_version


@dataclass
class CustomerCreateResult:
    """The new customer, and existing customers of the dealer with one of the same phones."""

    customer: Customer
    same_phone_customers: list[Customer] = field(default_factory=list)


@dataclass(frozen=True)
class RevealedContact:
    """Full contact details, for a user allowed to see them (the reveal is audit-logged)."""

    phones: list[str]
    id_number: str
    email: str


# --- validation ------------------------------------------------------------------------------


def _check_keys(profile: Mapping[str, Any]) -> None:
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown customer fields: {', '.join(sorted(unknown))}")


def _string_list(value: Any, name: str, errors: dict[str, list[str]]) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = value.replace("，", ",").split(",")
    if not isinstance(value, list | tuple):
        errors.setdefault(name, []).append(_("Give a list of words."))
        return []
    items: list[str] = []
    for item in value:
        text = str(item).strip()
        if not text or text in items:
            continue
        if len(text) > MAX_LIST_ITEM_LENGTH:
            errors.setdefault(name, []).append(
                _("“%(item)s” is too long (at most %(max)d characters).")
                % {"item": text[:20], "max": MAX_LIST_ITEM_LENGTH}
            )
            continue
        items.append(text)
    return items


def _clean_profile(
    values: Mapping[str, Any], *, dealer_id: int, today: datetime.date
) -> dict[str, Any]:
    """Normalised values, or a ValidationError listing every bad field."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def error(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name, value in values.items():
        if name == "name":
            text = (value or "").strip()
            if not text:
                error(name, _("Enter the customer's name."))
            elif len(text) > 100:
                error(name, _("A name has at most 100 characters."))
            cleaned[name] = text
        elif name in _TEXT_FIELDS:
            text = (value or "").strip()
            max_length = getattr(Customer._meta.get_field(name), "max_length", None)
            if max_length and len(text) > max_length:
                error(
                    name,
                    _("At most %(max)d characters; this has %(count)d.")
                    % {"max": max_length, "count": len(text)},
                )
            cleaned[name] = text
        elif name in _CHOICE_FIELDS:
            choices, blank_ok = _CHOICE_FIELDS[name]
            value = value or ""
            if not (value == "" and blank_ok) and value not in choices.values:
                error(name, _("“%(value)s” is not one of the choices.") % {"value": value})
            cleaned[name] = value
        elif name == "email":
            try:
                cleaned[name] = normalise_email(value or "")
            except ValidationError as exc:
                errors.setdefault(name, []).extend(exc.messages)
        elif name == "birthday":
            if value in (None, ""):
                cleaned[name] = None
            elif not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
                error(name, _("Enter a date."))
            elif value > today:
                error(name, _("A birthday cannot be in the future."))
            elif value.year < 1900:
                error(name, _("A birthday before 1900 is not plausible."))
            else:
                cleaned[name] = value
        elif name in ("lunar_birthday_month", "lunar_birthday_day"):
            upper = 12 if name == "lunar_birthday_month" else 30
            if value in (None, ""):
                cleaned[name] = None
            elif not isinstance(value, int) or not 1 <= value <= upper:
                error(name, _("Enter a number from 1 to %(max)d.") % {"max": upper})
            else:
                cleaned[name] = value
        elif name == "lunar_birthday_leap":
            cleaned[name] = bool(value)
        elif name == "children_birth_years":
            years: list[int] = []
            raw = value or []
            if isinstance(raw, str):
                raw = [part for part in raw.replace("，", ",").split(",") if part.strip()]
            for item in raw:
                try:
                    year = int(str(item).strip())
                except ValueError:
                    error(name, _("“%(value)s” is not a year.") % {"value": item})
                    continue
                if not today.year - 60 <= year <= today.year:
                    error(name, _("%(year)d is not a plausible birth year.") % {"year": year})
                    continue
                years.append(year)
            cleaned[name] = sorted(years)
        elif name in ("interests", "lifestyle"):
            cleaned[name] = _string_list(value, name, errors)
        elif name == "assigned_consultant_id":
            cleaned[name] = value or None
            if value and not _is_dealer_staff(value, dealer_id):
                error(name, _("Choose an active member of this dealer's staff."))

    month, day = cleaned.get("lunar_birthday_month"), cleaned.get("lunar_birthday_day")
    if ("lunar_birthday_month" in cleaned or "lunar_birthday_day" in cleaned) and (
        (month is None) != (day is None)
    ):
        error(
            "lunar_birthday_day" if month else "lunar_birthday_month",
            _("Give both the month and the day of the lunar birthday."),
        )
    if errors:
        raise ValidationError(errors)
    return cleaned


def _is_dealer_staff(user_id: Any, dealer_id: int) -> bool:
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        return False
    return User.objects.filter(
        pk=user_id, dealer_id=dealer_id, is_active=True, role__in=list(DEALER_ROLES)
    ).exists()


def _clean_phones(numbers: Sequence[str]) -> list[str]:
    """E.164 numbers in the given order without repeats, or a ValidationError on "phones"."""
    result: list[str] = []
    messages: list[str] = []
    for raw in numbers:
        if not (raw or "").strip():
            continue
        try:
            number = normalise_phone(raw)
        except ValidationError as exc:
            messages.extend(exc.messages)
            continue
        if number not in result:
            result.append(number)
    if messages:
        raise ValidationError({"phones": messages})
    return result


def _protect_id(raw: str) -> StoredIdNumber:
    try:
        return protect_id_number(raw)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from exc


def _refuse_duplicate_id(*, dealer_id: int, id_hash: str, exclude_id: int | None = None) -> None:
    if not id_hash:
        return
    others = Customer.objects.filter(dealer_id=dealer_id, id_number_hash=id_hash, is_deleted=False)
    if exclude_id is not None:
        others = others.exclude(pk=exclude_id)
    existing = others.values_list("pk", flat=True).first()
    if existing is not None:
        raise ValidationError(
            {
                "id_number": _(
                    "Customer no. %(id)s of this dealer already has this ID number: "
                    "open that record instead of creating a second one."
                )
                % {"id": existing}
            },
            code="duplicate_id_number",
        )


@contextmanager
def _refusing_duplicate_id(*, dealer_id: int, id_hash: str, exclude_id: int | None = None):  # noqa: ANN202
    """Turn the unique index's refusal (another save with the same ID number won the race
    between our check and our write) into the same field error as the check."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        if "customer_unique_id_number" not in str(exc) and "id_number_hash" not in str(exc):
            raise
        _refuse_duplicate_id(dealer_id=dealer_id, id_hash=id_hash, exclude_id=exclude_id)
        raise ValidationError(
            {"id_number": _("Another customer of this dealer was just saved with this ID number.")},
            code="duplicate_id_number",
        ) from exc


def _clean_consents(consents: Mapping[str, bool]) -> dict[str, bool]:
    unknown = [channel for channel in consents if channel not in ConsentChannel.values]
    if unknown:
        raise ValidationError(
            {"consents": _("Unknown consent channel: %(channel)s.") % {"channel": unknown[0]}}
        )
    return {channel: bool(granted) for channel, granted in consents.items()}


def _clean_tag_names(names: Sequence[str]) -> list[str]:
    result: list[str] = []
    for raw in names:
        name = " ".join((raw or "").split())
        if not name or name in result:
            continue
        if len(name) > MAX_TAG_LENGTH:
            raise ValidationError(
                {
                    "tags": _("The tag “%(name)s” is too long (at most %(max)d characters).")
                    % {"name": name[:20], "max": MAX_TAG_LENGTH}
                }
            )
        result.append(name)
    return result


# --- reads the writes need ----------------------------------------------------------------------


def _current_phones(customer: Customer) -> list[str]:
    return list(
        CustomerPhone.objects.filter(dealer_id=customer.dealer_id, customer_id=customer.pk)
        .order_by("-is_primary", "id")
        .values_list("number", flat=True)
    )


def _current_tags(customer: Customer) -> list[str]:
    return list(
        CustomerTag.objects.filter(dealer_id=customer.dealer_id, customer_id=customer.pk)
        .order_by("tag__name")
        .values_list("tag__name", flat=True)
    )


def _current_consents(customer: Customer) -> dict[str, bool]:
    return dict(
        Consent.objects.filter(dealer_id=customer.dealer_id, customer_id=customer.pk).values_list(
            "channel", "granted"
        )
    )


def _customers_with_phones(
    *, dealer_id: int, numbers: Sequence[str], exclude_id: int | None
) -> list[Customer]:
    if not numbers:
        return []
    qs = Customer.objects.filter(
        dealer_id=dealer_id,
        is_deleted=False,
        pk__in=CustomerPhone.objects.filter(dealer_id=dealer_id, number__in=list(numbers)).values(
            "customer_id"
        ),
    )
    if exclude_id is not None:
        qs = qs.exclude(pk=exclude_id)
    return list(qs.order_by("pk")[:10])


def _masked_phones(numbers: Sequence[str]) -> list[str]:
    # The audit log is read by admins who may not see full contact details.
    return [mask_phone(number) for number in numbers]


def _concurrent_edit(customer: Customer) -> ConcurrentEdit:
    """The error for a stale version, naming who saved last and when, as far as known."""
    current = (
        Customer.objects.filter(dealer_id=customer.dealer_id, pk=customer.pk)
        .values("version", "updated_at", "is_deleted")
        .first()
    )
    if current is None or current["is_deleted"]:
        return ConcurrentEdit(
            _("This customer was deleted after you opened it; nothing was saved."),
            current_version=current["version"] if current else None,
        )
    last = (
        AuditEvent.objects.filter(
            target_type=Customer._meta.label_lower,
            target_id=str(customer.pk),
            action__in=[AuditEvent.Action.CHANGE, AuditEvent.Action.CREATE],
        )
        .select_related("actor")
        .order_by("-at", "-id")
        .first()
    )
    who = str(last.actor) if last is not None and last.actor is not None else ""
    when = current["updated_at"]
    when_text = timezone.localtime(when).strftime("%Y-%m-%d %H:%M") if when else ""
    if who:
        message = _(
            "%(who)s saved this customer at %(when)s, after you opened it. Nothing was saved: "
            "reload the page to see their changes, then make yours again."
        ) % {"who": who, "when": when_text}
    else:
        message = _(
            "Someone else saved this customer at %(when)s, after you opened it. Nothing was "
            "saved: reload the page to see their changes, then make yours again."
        ) % {"when": when_text}
    return ConcurrentEdit(
        message, changed_by=who, changed_at=when, current_version=current["version"]
    )


# --- writes that the public services share ------------------------------------------------------


def _bump_version(customer: Customer, *, expected: int | None, now: datetime.datetime, **fields):
    """One UPDATE … WHERE version = expected (or unconditionally when expected is None)."""
    qs = Customer.objects.filter(dealer_id=customer.dealer_id, pk=customer.pk, is_deleted=False)
    if expected is not None:
        qs = qs.filter(version=expected)
    updated = qs.update(version=F("version") + 1, updated_at=now, **fields)
    if updated == 0:
        raise _concurrent_edit(customer)
    for name, value in fields.items():
        setattr(customer, name, value)
    customer.updated_at = now
    if expected is not None:
        customer.version = expected + 1
    else:
        customer.version = (
            Customer.objects.filter(dealer_id=customer.dealer_id, pk=customer.pk)
            .values_list("version", flat=True)
            .get()
        )


def _replace_phones(customer: Customer, numbers: list[str]) -> None:
    existing = {
        phone.number: phone
        for phone in CustomerPhone.objects.filter(
            dealer_id=customer.dealer_id, customer_id=customer.pk
        )
    }
    CustomerPhone.objects.filter(dealer_id=customer.dealer_id, customer_id=customer.pk).exclude(
        number__in=numbers
    ).delete()
    new_rows = []
    for position, number in enumerate(numbers):
        primary = position == 0
        phone = existing.get(number)
        if phone is None:
            new_rows.append(
                CustomerPhone(
                    dealer_id=customer.dealer_id,
                    customer_id=customer.pk,
                    number=number,
                    is_primary=primary,
                )
            )
        elif phone.is_primary != primary:
            phone.is_primary = primary
            phone.save(update_fields=["is_primary"])
    CustomerPhone.objects.bulk_create(new_rows)


def _replace_tags(customer: Customer, names: list[str]) -> None:
    dealer_id = customer.dealer_id
    tags = {tag.name: tag for tag in Tag.objects.filter(dealer_id=dealer_id, name__in=names)}
    missing = [Tag(dealer_id=dealer_id, name=name) for name in names if name not in tags]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        tags = {tag.name: tag for tag in Tag.objects.filter(dealer_id=dealer_id, name__in=names)}
    links = CustomerTag.objects.filter(dealer_id=dealer_id, customer_id=customer.pk)
    links.exclude(tag__name__in=names).delete()
    present = set(links.values_list("tag_id", flat=True))
    CustomerTag.objects.bulk_create(
        [
            CustomerTag(dealer_id=dealer_id, customer_id=customer.pk, tag_id=tags[name].pk)
            for name in names
            if tags[name].pk not in present
        ]
    )


def _write_consents(
    customer: Customer,
    changes: Mapping[str, bool],
    *,
    source: str,
    changed_at: datetime.datetime,
) -> None:
    for channel, granted in changes.items():
        Consent.objects.update_or_create(
            dealer_id=customer.dealer_id,
            customer_id=customer.pk,
            channel=channel,
            defaults={"granted": granted, "source": source[:100], "changed_at": changed_at},
        )


def _consent_diff(before: Mapping[str, bool], wanted: Mapping[str, bool]) -> dict[str, bool]:
    return {
        channel: granted for channel, granted in wanted.items() if before.get(channel) != granted
    }


def _refresh_search(customer: Customer) -> None:
    search_keys_refresh(dealer_id=customer.dealer_id, customer_ids=[customer.pk])


T = TypeVar("T")


class _FieldErrors:
    """Runs several field checks and gathers every error, so the user sees them all at once."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def run(self, check: Callable[..., T], *args: Any, default: Any, **kwargs: Any) -> T:
        """check(*args, **kwargs), or `default` with its errors kept when it raises."""
        try:
            return check(*args, **kwargs)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                self.errors.setdefault(key, []).extend(messages)
            return default

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


# --- public services ----------------------------------------------------------------------------


@transaction.atomic
def customer_create(
    *,
    actor: User | None,
    dealer_id: int,
    name: str,
    phones: Sequence[str] = (),
    id_number: str = "",
    tags: Sequence[str] = (),
    consents: Mapping[str, bool] | None = None,
    consent_source: str = "",
    request: HttpRequest | None = None,
    **profile: Any,
) -> CustomerCreateResult:
    """Create a customer of `dealer_id` with phones (the first is primary), tags and consents.

    Refuses a second customer with the same ID number at the dealer (ValidationError on
    "id_number"); a shared phone is allowed (families share numbers) but reported in the result.
    When no birthday or gender is given they are read from the ID number.
    """
    _check_keys(profile)
    if not require_scope().allows(dealer_id):
        raise PermissionDenied(_("You may not add customers to this dealer."))
    now = timezone.now()
    today = timezone.localdate(now)
    checks = _FieldErrors()
    cleaned = checks.run(
        _clean_profile, {"name": name, **profile}, default={}, dealer_id=dealer_id, today=today
    )
    stored = checks.run(_protect_id, id_number, default=StoredIdNumber.empty())
    numbers = checks.run(_clean_phones, phones, default=[])
    tag_names = checks.run(_clean_tag_names, tags, default=[])
    consent_values = checks.run(_clean_consents, consents or {}, default={})
    checks.raise_if_any()
    _refuse_duplicate_id(dealer_id=dealer_id, id_hash=stored.hash)

    if stored.hash:
        plain = decrypt_id_number(stored.encrypted)
        if cleaned.get("birthday") is None:
            cleaned["birthday"] = id_number_birth_date(plain)
        if (
            cleaned.get("gender", Gender.UNKNOWN) == Gender.UNKNOWN
            and cleaned.get("kind", CustomerKind.PERSON) == CustomerKind.PERSON
        ):
            cleaned["gender"] = id_number_gender(plain)

    customer = Customer(
        dealer_id=dealer_id,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        created_at=now,
        updated_at=now,
        **cleaned,
        **stored.as_fields(),
    )
    with _refusing_duplicate_id(dealer_id=dealer_id, id_hash=stored.hash):
        customer.save(force_insert=True)
    _replace_phones(customer, numbers)
    if tag_names:
        _replace_tags(customer, tag_names)
    if consent_values:
        _write_consents(
            customer, consent_values, source=consent_source or _("customer form"), changed_at=now
        )
    after = {k: v for k, v in cleaned.items() if v not in ("", None, [], False)}
    if stored.masked:
        after["id_number"] = stored.masked
    if numbers:
        after["phones"] = _masked_phones(numbers)
    if tag_names:
        after["tags"] = tag_names
    if consent_values:
        after["consents"] = consent_values
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=customer,
        changes=field_changes({}, after),
        request=request,
    )
    _refresh_search(customer)
    return CustomerCreateResult(
        customer=customer,
        same_phone_customers=_customers_with_phones(
            dealer_id=dealer_id, numbers=numbers, exclude_id=customer.pk
        ),
    )


@transaction.atomic
def customer_update(
    *,
    actor: User | None,
    customer: Customer,
    version: int,
    phones: Sequence[str] | None = None,
    id_number: str | None = None,
    tags: Sequence[str] | None = None,
    consents: Mapping[str, bool] | None = None,
    consent_source: str = "",
    request: HttpRequest | None = None,
    **profile: Any,
) -> Customer:
    """Change the given fields (None/absent = keep) if the customer is still at `version`.

    `version` is the one the caller read. The write is one UPDATE … WHERE version = n, so of two
    people saving the same version only the first succeeds; the second gets ConcurrentEdit
    naming who saved and when, and nothing of theirs is written. `id_number=""` removes it.
    """
    _check_keys(profile)
    now = timezone.now()
    today = timezone.localdate(now)
    checks = _FieldErrors()
    cleaned = checks.run(
        _clean_profile, profile, default={}, dealer_id=customer.dealer_id, today=today
    )
    # None: leave as it is.
    stored = None if id_number is None else checks.run(_protect_id, id_number, default=None)
    numbers = None if phones is None else checks.run(_clean_phones, phones, default=None)
    tag_names = None if tags is None else checks.run(_clean_tag_names, tags, default=None)
    wanted_consents = checks.run(_clean_consents, consents or {}, default={})
    checks.raise_if_any()

    # What differs from the row as it is now (the caller's copy was read in this request).
    db = (
        Customer.objects.filter(dealer_id=customer.dealer_id, pk=customer.pk)
        .values(*cleaned.keys(), "id_number_hash", "id_number_masked")
        .first()
    )
    if db is None:
        raise _concurrent_edit(customer)
    changed = {name: value for name, value in cleaned.items() if db[name] != value}
    audit_changes = field_changes({k: db[k] for k in changed}, changed)
    if stored is not None and stored.hash != db["id_number_hash"]:
        _refuse_duplicate_id(
            dealer_id=customer.dealer_id, id_hash=stored.hash, exclude_id=customer.pk
        )
        changed.update(stored.as_fields())
        audit_changes["id_number"] = [db["id_number_masked"], stored.masked]
    old_phones = _current_phones(customer) if numbers is not None else []
    phones_changed = numbers is not None and numbers != old_phones
    if phones_changed:
        audit_changes["phones"] = [_masked_phones(old_phones), _masked_phones(numbers or [])]
    old_tags = _current_tags(customer) if tag_names is not None else []
    tags_changed = tag_names is not None and sorted(tag_names) != sorted(old_tags)
    if tags_changed:
        audit_changes["tags"] = [old_tags, tag_names]
    consent_changes = _consent_diff(_current_consents(customer), wanted_consents)
    if consent_changes:
        audit_changes["consents"] = [None, consent_changes]

    if not (changed or phones_changed or tags_changed or consent_changes):
        return customer
    with _refusing_duplicate_id(
        dealer_id=customer.dealer_id,
        id_hash=changed.get("id_number_hash", ""),
        exclude_id=customer.pk,
    ):
        _bump_version(customer, expected=version, now=now, **changed)
    if phones_changed:
        _replace_phones(customer, numbers or [])
    if tags_changed:
        _replace_tags(customer, tag_names or [])
    if consent_changes:
        _write_consents(
            customer, consent_changes, source=consent_source or _("customer form"), changed_at=now
        )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=customer,
        changes=audit_changes,
        request=request,
    )
    if phones_changed or _SEARCHED_FIELDS & set(changed):
        _refresh_search(customer)
    return customer


@transaction.atomic
def customer_delete(
    *,
    actor: User | None,
    customer: Customer,
    version: int | None = None,
    request: HttpRequest | None = None,
) -> None:
    """Soft-delete: the row stays (history, audit) but no list, page or search shows it."""
    _bump_version(customer, expected=version, now=timezone.now(), is_deleted=True)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.DELETE,
        target=customer,
        changes={"is_deleted": [False, True]},
        request=request,
    )
    _refresh_search(customer)  # removes its search keys


@transaction.atomic
def customer_phones_set(
    *,
    actor: User | None,
    customer: Customer,
    numbers: Sequence[str],
    request: HttpRequest | None = None,
) -> list[str]:
    """Replace the customer's phones by `numbers` (normalised to E.164; the first is primary)."""
    cleaned = _clean_phones(numbers)
    old = _current_phones(customer)
    if cleaned == old:
        return cleaned
    _bump_version(customer, expected=None, now=timezone.now())
    _replace_phones(customer, cleaned)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=customer,
        changes={"phones": [_masked_phones(old), _masked_phones(cleaned)]},
        request=request,
    )
    _refresh_search(customer)
    return cleaned


@transaction.atomic
def customer_tags_set(
    *,
    actor: User | None,
    customer: Customer,
    names: Sequence[str],
    request: HttpRequest | None = None,
) -> list[str]:
    """Replace the customer's tags by `names`; tags new to the dealer are created."""
    cleaned = _clean_tag_names(names)
    old = _current_tags(customer)
    if sorted(cleaned) == sorted(old):
        return old
    _bump_version(customer, expected=None, now=timezone.now())
    _replace_tags(customer, cleaned)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=customer,
        changes={"tags": [old, cleaned]},
        request=request,
    )
    return cleaned


@transaction.atomic
def consent_set(
    *,
    actor: User | None,
    customer: Customer,
    channel: str,
    granted: bool,
    source: str = "",
    changed_at: datetime.datetime | None = None,
    request: HttpRequest | None = None,
) -> Consent:
    """Record the customer's consent for one channel (when and where given or withdrawn)."""
    if channel not in ConsentChannel.values:
        raise ValidationError(
            {"channel": _("Unknown consent channel: %(channel)s.") % {"channel": channel}}
        )
    now = timezone.now()
    changed_at = changed_at or now
    if changed_at > now:
        raise ValidationError({"changed_at": _("The consent date cannot be in the future.")})
    source = (source or "").strip()
    if len(source) > 100:
        raise ValidationError({"source": _("At most 100 characters.")})
    current = Consent.objects.filter(
        dealer_id=customer.dealer_id, customer_id=customer.pk, channel=channel
    ).first()
    if current is not None and current.granted == granted and not source:
        return current
    _bump_version(customer, expected=None, now=now)
    consent, _created = Consent.objects.update_or_create(
        dealer_id=customer.dealer_id,
        customer_id=customer.pk,
        channel=channel,
        defaults={"granted": granted, "source": source, "changed_at": changed_at},
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CHANGE,
        target=customer,
        changes={
            f"consent_{channel}": [current.granted if current else None, granted],
            "consent_source": [current.source if current else None, source],
        },
        request=request,
    )
    return consent


@transaction.atomic
def interaction_add(
    *,
    actor: User | None,
    customer: Customer,
    kind: str,
    body: str = "",
    subject: str = "",
    direction: str = Interaction.Direction.INTERNAL,
    outcome: str = "",
    duration_seconds: int | None = None,
    occurred_at: datetime.datetime | None = None,
    request: HttpRequest | None = None,
) -> Interaction:
    """Add a note, a logged call (outcome and duration), a visit or a message to the timeline."""
    errors: dict[str, list[str]] = {}
    now = timezone.now()
    body = (body or "").strip()
    subject = (subject or "").strip()
    if kind not in Interaction.Kind.values:
        errors["kind"] = [_("“%(value)s” is not one of the choices.") % {"value": kind}]
    if direction not in Interaction.Direction.values:
        errors["direction"] = [_("“%(value)s” is not one of the choices.") % {"value": direction}]
    if kind == Interaction.Kind.NOTE and not body:
        errors["body"] = [_("Write the note.")]
    if kind == Interaction.Kind.CALL:
        if outcome not in CallOutcome.values:
            errors["outcome"] = [_("Choose how the call ended.")]
        if direction == Interaction.Direction.INTERNAL:
            direction = Interaction.Direction.OUTBOUND
    elif len(outcome) > 100:
        errors["outcome"] = [_("At most 100 characters.")]
    if duration_seconds is not None and not 0 <= duration_seconds <= 24 * 3600:
        errors["duration_seconds"] = [_("A call lasts between 0 seconds and 24 hours.")]
    if len(subject) > 200:
        errors["subject"] = [_("At most 200 characters.")]
    if occurred_at is not None and occurred_at > now + datetime.timedelta(minutes=5):
        errors["occurred_at"] = [_("This cannot be in the future.")]
    if errors:
        raise ValidationError(errors)
    interaction = Interaction.objects.create(
        dealer_id=customer.dealer_id,
        customer_id=customer.pk,
        kind=kind,
        direction=direction,
        occurred_at=occurred_at or now,
        author=actor if actor is not None and actor.is_authenticated else None,
        subject=subject,
        body=body,
        outcome=outcome,
        duration_seconds=duration_seconds,
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.CREATE,
        target=interaction,
        target_repr=f"{customer} · {interaction.get_kind_display()}",
        changes=field_changes(
            {},
            {"customer": customer.pk, "kind": kind, "outcome": outcome or None},
        ),
        request=request,
    )
    return interaction


@transaction.atomic
def customer_contact_reveal(
    *,
    actor: User,
    customer: Customer,
    request: HttpRequest | None = None,
) -> RevealedContact:
    """The full phones and ID number, for a user with VIEW_FULL_CONTACT; audit-logged as unmask."""
    if not actor.has_perm(Perm.VIEW_FULL_CONTACT):
        raise PermissionDenied(_("You may not see full contact details."))
    phones = _current_phones(customer)
    id_number = decrypt_id_number(customer.id_number_encrypted)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.UNMASK,
        target=customer,
        changes={
            "fields": [
                name for name, value in (("phones", phones), ("id_number", id_number)) if value
            ]
        },
        request=request,
    )
    return RevealedContact(phones=phones, id_number=id_number, email=customer.email)
