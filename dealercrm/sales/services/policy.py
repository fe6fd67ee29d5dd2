"""The dealer's sales policy. CONTRACT:
- `sales_policy_update(*, actor, dealer_id, **fields) -> SalesPolicy`
(the read, `selectors.policy.sales_policy_for(dealer_id)`, makes the row with defaults)
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.core.tenancy import require_scope

from ..models import AssignmentMode, SalesPolicy
from ..selectors.policy import sales_policy_for

POLICY_FIELDS = (
    "assignment_mode",
    "first_response_minutes",
    "opens_at",
    "closes_at",
    "open_weekdays",
    "auto_reassign",
    "dispatch_release_days",
    "test_drive_minutes",
)


def _clean(fields: dict[str, Any], policy: SalesPolicy) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def error(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name, value in fields.items():
        if name == "assignment_mode":
            if value not in AssignmentMode.values:
                error(name, _("“%(value)s” is not one of the choices.") % {"value": value})
            cleaned[name] = value
        elif name in ("first_response_minutes", "dispatch_release_days", "test_drive_minutes"):
            limits = {
                "first_response_minutes": (1, 24 * 60),
                "dispatch_release_days": (0, 14),
                "test_drive_minutes": (15, 240),
            }[name]
            try:
                number = int(value)
            except (TypeError, ValueError):
                error(name, _("Enter a whole number."))
                continue
            if not limits[0] <= number <= limits[1]:
                error(
                    name,
                    _("Enter a number from %(low)d to %(high)d.")
                    % {"low": limits[0], "high": limits[1]},
                )
            cleaned[name] = number
        elif name in ("opens_at", "closes_at"):
            if not isinstance(value, datetime.time):
                error(name, _("Enter a time of day."))
            cleaned[name] = value
        elif name == "open_weekdays":
            digits = "".join(sorted({c for c in str(value or "") if c in "1234567"}))
            if not digits:
                error(name, _("Choose at least one day the showroom is open."))
            cleaned[name] = digits
        elif name == "auto_reassign":
            cleaned[name] = bool(value)
        else:
            raise TypeError(f"Unknown sales policy field: {name}")
    opens = cleaned.get("opens_at", policy.opens_at)
    closes = cleaned.get("closes_at", policy.closes_at)
    if (
        isinstance(opens, datetime.time)
        and isinstance(closes, datetime.time)
        and opens >= closes
        and "closes_at" not in errors
    ):
        error("closes_at", _("The showroom must close after it opens."))
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def sales_policy_update(*, actor: User, dealer_id: int, **fields: Any) -> SalesPolicy:
    """Change the dealer's sales rules (managers)."""
    if not actor.has_perm(Perm.MANAGE_LEADS) or not require_scope().allows(dealer_id):
        raise PermissionDenied(_("You may not change this dealer's sales settings."))
    policy = sales_policy_for(dealer_id, for_update=True)
    cleaned = _clean(fields, policy)
    for name, value in cleaned.items():
        setattr(policy, name, value)
    policy.updated_at = timezone.now()
    policy.save(update_fields=[*cleaned.keys(), "updated_at"])
    return policy
