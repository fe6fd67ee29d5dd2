"""Follow-ups. CONTRACT:
- `activity_log(*, actor, lead, kind, result, note="", next_action="", next_action_due=None,
   occurred_at=None) -> Activity`  a reached contact marks the lead contacted (first response);
  the next step becomes the lead's next action.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User

from ..models import Activity, ActivityKind, ActivityResult, Lead, LeadStage
from ..models.leads import CLOSED_STAGES
from .leads import lead_stage_advance

# Results after which no next step is needed: the customer said no (a loss request follows).
CLOSING_RESULTS = frozenset({ActivityResult.NOT_INTERESTED})
# Results that mean nobody was reached: the lead is not "contacted" by them.
UNREACHED_RESULTS = frozenset({ActivityResult.NO_ANSWER})
# Logging a follow-up up to this far ahead of the clock is allowed (clock skew, a typo of a minute).
FUTURE_TOLERANCE = datetime.timedelta(minutes=5)


@transaction.atomic
def activity_log(
    *,
    actor: User | None,
    lead: Lead,
    kind: str,
    result: str,
    note: str = "",
    next_action: str = "",
    next_action_due: datetime.date | None = None,
    occurred_at: datetime.datetime | None = None,
) -> Activity:
    """Record a follow-up; it moves the lead's next action and may mark it contacted.

    Every open lead keeps a next step with a date: one is required unless the result closes
    things (not interested). A contact that reached the customer is the first response.
    """
    now = timezone.now()
    occurred_at = occurred_at or now
    next_action = (next_action or "").strip()
    errors: dict[str, list[str]] = {}
    if lead.stage in CLOSED_STAGES:
        errors["lead"] = [_("This lead is closed; follow-ups are no longer logged on it.")]
    if kind not in ActivityKind.values:
        errors["kind"] = [_("“%(value)s” is not one of the choices.") % {"value": kind}]
    if result not in ActivityResult.values:
        errors["result"] = [_("“%(value)s” is not one of the choices.") % {"value": result}]
    if occurred_at > now + FUTURE_TOLERANCE:
        errors["occurred_at"] = [_("A follow-up cannot be logged in the future.")]
    if len(next_action) > 200:
        errors["next_action"] = [_("At most 200 characters for the next step.")]
    if result not in CLOSING_RESULTS:
        if not next_action:
            errors["next_action"] = [_("Say what the next step is.")]
        if next_action_due is None:
            errors["next_action_due"] = [_("Give the date of the next step.")]
    if next_action_due is not None and next_action_due < timezone.localdate(now):
        errors["next_action_due"] = [_("The next step cannot be in the past.")]
    if errors:
        raise ValidationError(errors)

    activity = Activity.objects.create(
        dealer_id=lead.dealer_id,
        lead=lead,
        customer_id=lead.customer_id,
        kind=kind,
        result=result,
        note=(note or "").strip(),
        next_action=next_action,
        next_action_due=next_action_due,
        occurred_at=occurred_at,
        author=actor if actor is not None and actor.is_authenticated else None,
    )
    if result not in UNREACHED_RESULTS and lead.stage == LeadStage.NEW:
        lead_stage_advance(actor=actor, lead=lead, stage=LeadStage.CONTACTED, at=occurred_at)
    lead.next_action = next_action
    lead.next_action_due = next_action_due
    lead.updated_at = now
    lead.save(update_fields=["next_action", "next_action_due", "updated_at"])
    return activity
