"""Seasonal checks the OEM sets per region (before the rainy season, before winter)."""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Sequence
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from .base import Action, Assignee, Candidate, Rule, RuleContext, common_fields

OWNER_STAGES = ("owner", "loyal", "at_risk")


def checks_for(brand_id: int | None, region_id: int | None) -> list[Any]:
    """The brand's active checks for the region: a row of the region wins over the brand's
    default row (no region) of the same code."""
    from dealercrm.care.models import SeasonalCheck

    if brand_id is None:
        return []
    rows = SeasonalCheck.objects.filter(brand_id=brand_id).filter(
        Q(region_id=region_id) | Q(region__isnull=True)
    )
    chosen: dict[str, Any] = {}
    for row in sorted(rows, key=lambda r: r.region_id is not None):
        chosen[row.code] = row  # the region's row comes last and wins
    return [row for row in chosen.values() if row.is_active]


def _season_start(check: Any, year: int) -> datetime.date:
    last = calendar.monthrange(year, check.season_starts_month)[1]
    return datetime.date(year, check.season_starts_month, min(check.season_starts_day, last))


class SeasonalCheckRule(Rule):
    code = "seasonal_check"
    label = _("Seasonal check")
    description = _(
        "The seasonal checks the brand sets for the dealer's region (before the rainy season, "
        "before winter …): owners are invited the set number of days before the season starts."
    )
    subject = "customer"
    defaults = {
        "enabled": True,
        "action": Action.MESSAGE,
        "channel": "sms",
        "assignee": Assignee.CARE_SPECIALIST,
        "task_kind": "call",
        "purpose": "maintenance_reminder",
        "script": _(
            "Invite {salutation} to the {check} for the {vehicle} ({plate}) before {due_date}."
        ),
    }
    config_fields = common_fields()
    title = _("{check}: {customer}")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        from dealercrm.customers.models import Customer
        from dealercrm.vehicles.models import Vehicle

        hits = []
        for check in checks_for(ctx.brand_id, ctx.region_id):
            for day in ctx.days:
                for year in (day.year, day.year + 1):
                    start = _season_start(check, year)
                    if start - datetime.timedelta(days=check.remind_days_before) == day:
                        hits.append((check, day, start))
        found: list[Candidate] = []
        for check, day, start in hits:
            owns = Vehicle.objects.filter(dealer_id=ctx.dealer_id, owner_id=OuterRef("pk"))
            ids = (
                Customer.objects.filter(
                    dealer_id=ctx.dealer_id,
                    is_deleted=False,
                    lifecycle_stage__in=OWNER_STAGES,
                )
                .filter(Exists(owns))
                .values_list("id", flat=True)
            )
            detail = {"check": check.code, "title": check.title, "due": start.isoformat()}
            found.extend(
                Candidate(cid, cid, None, f"{check.code}/{start.year}", day, detail) for cid in ids
            )
        return found

    def variables(
        self, ctx: RuleContext, run_id: int, rows: Sequence[tuple[int, int, str, dict[str, Any]]]
    ) -> dict[int, dict[str, Any]]:
        return {oid: {"check": detail.get("title", "")} for oid, _c, _o, detail in rows}


RULES = (SeasonalCheckRule(),)
