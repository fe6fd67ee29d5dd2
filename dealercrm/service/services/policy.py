"""The workshop's booking rules (ServicePolicy). CONTRACT:
- `policy_for_dealer(dealer_id) -> ServicePolicy`  the row, or unsaved defaults when none
- `policy_locked(dealer_id) -> ServicePolicy`  the row locked FOR UPDATE (made when missing);
  appointment writers take it so two bookings cannot both take the day's last place
- `service_policy_update(*, actor, dealer_id, **fields) -> ServicePolicy`  (MANAGE_SERVICE)
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.tenancy import require_scope

from ..models import ServicePolicy

POLICY_FIELDS = ("opens_at", "closes_at", "open_weekdays", "slot_minutes", "daily_capacity")
SLOT_MINUTES_RANGE = (15, 480)
DAILY_CAPACITY_RANGE = (1, 1000)


def _as_time(value: Any) -> datetime.time:
    """A model default is a "08:30" string until the row is read back; compare times."""
    if isinstance(value, datetime.time):
        return value
    return datetime.time.fromisoformat(str(value))


def normalised(policy: ServicePolicy) -> ServicePolicy:
    policy.opens_at = _as_time(policy.opens_at)
    policy.closes_at = _as_time(policy.closes_at)
    policy.open_weekdays = sorted({int(d) for d in policy.open_weekdays or []})
    return policy


def policy_for_dealer(dealer_id: int) -> ServicePolicy:
    """The dealer's rules; the defaults (unsaved) when the dealer has set none."""
    policy = ServicePolicy.objects.filter(dealer_id=dealer_id).first()
    if policy is None:
        policy = ServicePolicy(dealer_id=dealer_id)
    return normalised(policy)


def policy_locked(dealer_id: int) -> ServicePolicy:
    """The dealer's row locked until the transaction ends (made with the defaults first)."""
    qs = ServicePolicy.objects.select_for_update().filter(dealer_id=dealer_id)
    policy = qs.first()
    if policy is None:
        try:
            with transaction.atomic():
                ServicePolicy.objects.create(dealer_id=dealer_id)
        except IntegrityError:
            pass  # made meanwhile by a concurrent writer: lock theirs
        policy = qs.get()
    return normalised(policy)


def _clean(fields: dict[str, Any], policy: ServicePolicy) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def error(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name, value in fields.items():
        if name in ("opens_at", "closes_at"):
            try:
                cleaned[name] = _as_time(value)
            except (TypeError, ValueError):
                error(name, _("Enter a time of day, such as 08:30."))
        elif name == "open_weekdays":
            try:
                days = sorted({int(d) for d in value or []})
            except (TypeError, ValueError):
                days = [-1]
            if any(d < 0 or d > 6 for d in days):
                error(name, _("Choose days of the week."))
            elif not days:
                error(name, _("Choose at least one day the workshop is open."))
            cleaned[name] = days
        elif name in ("slot_minutes", "daily_capacity"):
            low, high = SLOT_MINUTES_RANGE if name == "slot_minutes" else DAILY_CAPACITY_RANGE
            try:
                number = int(value)
            except (TypeError, ValueError):
                error(name, _("Enter a whole number."))
                continue
            if not low <= number <= high:
                error(
                    name, _("Enter a number from %(low)d to %(high)d.") % {"low": low, "high": high}
                )
            cleaned[name] = number
        else:
            raise TypeError(f"Unknown service policy field: {name}")
    opens = cleaned.get("opens_at", policy.opens_at)
    closes = cleaned.get("closes_at", policy.closes_at)
    if "opens_at" not in errors and "closes_at" not in errors and opens >= closes:
        error("closes_at", _("The workshop must close after it opens."))
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def service_policy_update(*, actor: User, dealer_id: int, **fields: Any) -> ServicePolicy:
    """Change the workshop's opening hours, slot length and daily capacity (managers)."""
    if not actor.has_perm(Perm.MANAGE_SERVICE) or not require_scope().allows(dealer_id):
        raise PermissionDenied(_("You may not change this dealer's workshop settings."))
    policy = policy_locked(dealer_id)
    cleaned = _clean(fields, policy)
    for name, value in cleaned.items():
        setattr(policy, name, value)
    policy.updated_at = timezone.now()
    policy.save(update_fields=[*cleaned.keys(), "updated_at"])
    return policy
