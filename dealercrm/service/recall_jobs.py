"""Huey jobs of recalls: launching a big campaign (the page shows its progress)."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from dealercrm.core.tenancy import DealerScope, dealer_scope

__all__ = ["recall_launch_job"]


@db_task()
def recall_launch_job(campaign_id: int, actor_id: int | None = None) -> dict[str, int]:
    """Launch the campaign across the brand's dealers (services.recalls.recall_launch). Runs in
    the network scope; running it again adds and sends nothing twice."""
    from dealercrm.core.models import User

    from .models import RecallCampaign
    from .services.recalls import recall_launch

    with dealer_scope(DealerScope.everything()):
        campaign = RecallCampaign.objects.get(pk=campaign_id)
        actor = User.objects.filter(pk=actor_id).first() if actor_id else None
        return recall_launch(actor=actor, campaign=campaign).as_dict()
