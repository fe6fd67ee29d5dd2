"""Declaring a lead lost (战败): the consultant asks, the manager decides. CONTRACT:
- `lead_loss_request(*, actor, lead, reason, competitor="", note="") -> Lead`
- `lead_loss_approve(*, actor, lead) -> Lead`  (MANAGE_LEADS) → stage lost
- `lead_loss_return(*, actor, lead, note="", reassign_to=None) -> Lead`  back to work
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dealercrm.core.models import User
from dealercrm.core.permissions import Perm
from dealercrm.worklist.services import notice_create

from ..models import Lead, LeadEvent, LeadStage, LossReason
from .assignment import NOTICE_SOURCE, _manager_ids, lead_assign, lead_url
from .leads import _event


def _locked(lead: Lead) -> Lead:
    """Re-read the lead locked: two managers deciding at once decide once."""
    current = Lead.objects.select_for_update().get(dealer_id=lead.dealer_id, pk=lead.pk)
    lead.stage = current.stage
    lead.loss_requested_at = current.loss_requested_at
    return lead


@transaction.atomic
def lead_loss_request(
    *, actor: User, lead: Lead, reason: str, competitor: str = "", note: str = ""
) -> Lead:
    """Ask the manager to declare the lead lost, with the reason (and the competitor)."""
    _locked(lead)
    competitor = (competitor or "").strip()
    errors: dict[str, list[str]] = {}
    if not lead.is_open:
        errors["reason"] = [_("This lead is already closed.")]
    elif lead.loss_requested_at is not None:
        errors["reason"] = [_("A loss request for this lead already awaits the manager.")]
    if reason not in LossReason.values:
        errors["reason"] = [_("Choose why the lead is lost.")]
    if reason == LossReason.COMPETITOR and not competitor:
        errors["competitor"] = [_("Name the competitor's model the customer bought.")]
    if len(competitor) > 100:
        errors["competitor"] = [_("At most 100 characters.")]
    if reason == LossReason.OTHER and not (note or "").strip():
        errors["note"] = [_("Say what the reason is.")]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    lead.loss_reason = reason
    lead.loss_competitor = competitor
    lead.loss_note = (note or "").strip()
    lead.loss_requested_at = now
    lead.loss_requested_by = actor
    lead.loss_decided_by = None
    lead.updated_at = now
    lead.save(
        update_fields=[
            "loss_reason",
            "loss_competitor",
            "loss_note",
            "loss_requested_at",
            "loss_requested_by",
            "loss_decided_by",
            "updated_at",
        ]
    )
    _event(
        lead,
        LeadEvent.Kind.LOSS_REQUESTED,
        actor=actor,
        at=now,
        to_value=reason,
        note=lead.loss_note,
    )
    notice_create(
        dealer_id=lead.dealer_id,
        recipient_ids=_manager_ids([lead.dealer_id]).get(lead.dealer_id, []),
        title=_("Loss to approve: %(name)s (%(reason)s)")
        % {"name": lead.customer.name, "reason": LossReason(reason).label},
        body=lead.loss_note,
        link=lead_url(lead.pk),
        source_kind=NOTICE_SOURCE,
        source_id=str(lead.pk),
        reason=f"loss:{int(now.timestamp())}",
    )
    return lead


def _require_pending(actor: User, lead: Lead) -> None:
    if not actor.has_perm(Perm.MANAGE_LEADS):
        raise PermissionDenied(_("Only a manager decides on a loss."))
    _locked(lead)
    if not lead.loss_pending:
        raise ValidationError({"decision": _("No loss request of this lead awaits a decision.")})


@transaction.atomic
def lead_loss_approve(*, actor: User, lead: Lead) -> Lead:
    """The manager agrees: the lead is lost, with the requested reason."""
    _require_pending(actor, lead)
    now = timezone.now()
    previous = lead.stage
    lead.stage = LeadStage.LOST
    lead.lost_at = now
    lead.loss_decided_by = actor
    lead.next_action = ""
    lead.next_action_due = None
    lead.updated_at = now
    lead.save(
        update_fields=[
            "stage",
            "lost_at",
            "loss_decided_by",
            "next_action",
            "next_action_due",
            "updated_at",
        ]
    )
    _event(lead, LeadEvent.Kind.LOSS_APPROVED, actor=actor, at=now, from_value=previous)
    if lead.loss_requested_by_id and lead.loss_requested_by_id != actor.pk:
        notice_create(
            dealer_id=lead.dealer_id,
            recipient_ids=[lead.loss_requested_by_id],
            title=_("Loss approved: %(name)s") % {"name": lead.customer.name},
            link=lead_url(lead.pk),
            source_kind=NOTICE_SOURCE,
            source_id=str(lead.pk),
            reason="loss_approved",
        )
    return lead


@transaction.atomic
def lead_loss_return(
    *, actor: User, lead: Lead, note: str = "", reassign_to: User | None = None
) -> Lead:
    """The manager sends the lead back for more follow-up (optionally to someone else).

    The next action becomes the manager's note, due today, so it heads the follow-up list.
    """
    _require_pending(actor, lead)
    now = timezone.now()
    note = (note or "").strip()
    lead.loss_requested_at = None
    lead.loss_decided_by = actor
    lead.next_action = (note or _("Follow up again (loss not approved)"))[:200]
    lead.next_action_due = timezone.localdate(now)
    lead.updated_at = now
    lead.save(
        update_fields=[
            "loss_requested_at",
            "loss_decided_by",
            "next_action",
            "next_action_due",
            "updated_at",
        ]
    )
    _event(lead, LeadEvent.Kind.LOSS_RETURNED, actor=actor, at=now, note=note)
    if reassign_to is not None and reassign_to.pk != lead.consultant_id:
        lead_assign(actor=actor, lead=lead, consultant=reassign_to, note=note)
    elif lead.consultant_id and lead.consultant_id != actor.pk:
        notice_create(
            dealer_id=lead.dealer_id,
            recipient_ids=[lead.consultant_id],
            title=_("Loss not approved, follow up again: %(name)s") % {"name": lead.customer.name},
            body=note,
            link=lead_url(lead.pk),
            source_kind=NOTICE_SOURCE,
            source_id=str(lead.pk),
            reason=f"loss_returned:{int(now.timestamp())}",
        )
    return lead
