"""Reminders before a date of the car: insurance expiry, annual inspection, warranty end."""

from __future__ import annotations

import datetime

from django.utils.translation import gettext_lazy as _

from .base import (
    Action,
    Assignee,
    Candidate,
    ConfigField,
    Rule,
    RuleContext,
    common_fields,
    dates_years_before,
    int_list,
    shifted,
)


def _owned(ctx: RuleContext, **filters):
    from dealercrm.vehicles.models import Vehicle

    return Vehicle.objects.filter(
        dealer_id=ctx.dealer_id, owner__isnull=False, owner__is_deleted=False, **filters
    )


class InsuranceRenewal(Rule):
    code = "insurance_renewal"
    label = _("Insurance renewal")
    description = _(
        "Before the car's insurance expires (by default 60, 30 and 7 days before): a message "
        "and a call offering the renewal, once per offset."
    )
    defaults = {
        "enabled": True,
        "offsets": [60, 30, 7],
        "action": Action.BOTH,
        "channel": "sms",
        "assignee": Assignee.CARE_SPECIALIST,
        "task_kind": "call",
        "purpose": "insurance_renewal",
        "script": _(
            "Call {salutation}: the insurance of the {vehicle} ({plate}) expires on {due_date}. "
            "Offer the renewal quote."
        ),
    }
    config_fields = (
        ConfigField(
            "offsets",
            "int_list",
            _("Days before expiry"),
            _("Comma-separated, e.g. 60, 30, 7: one reminder for each."),
        ),
        *common_fields(),
    )
    title = _("Insurance renewal: {customer} ({plate}), expires {due_date}")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        offsets = sorted(set(int_list(ctx.config["offsets"])), reverse=True)
        wanted: dict[datetime.date, list[tuple[datetime.date, int]]] = {}
        for offset in offsets:
            for day in ctx.days:
                wanted.setdefault(day + datetime.timedelta(days=offset), []).append((day, offset))
        if not wanted:
            return []
        rows = _owned(ctx, insurance_expiry__in=list(wanted)).values_list(
            "id", "owner_id", "insurance_expiry"
        )
        return [
            Candidate(
                vid, owner, vid, f"{expiry.isoformat()}/{offset}", day, {"due": expiry.isoformat()}
            )
            for vid, owner, expiry in rows
            for day, offset in wanted[expiry]
        ]


def inspection_years(config: dict) -> list[int]:
    """The years after registration in which a private car is inspected (see AnnualInspection)."""
    years = set(int_list(config["years"]))
    yearly_from = int(config["yearly_from"])
    if yearly_from:
        years.update(range(yearly_from, 41))
    return sorted(years)


class AnnualInspection(Rule):
    """Private small passenger cars (非营运小微型载客汽车, not vans) in China, after the reform of
    公安部 and 国家市场监督管理总局 《关于深化机动车检验制度改革优化车检服务工作的意见》 in
    force since 1 October 2022: within 10 years an inspection at a station only in the 6th and
    10th year; in the 2nd, 4th and 8th year the owner applies for the inspection label without
    one (免检申领标志); from the 11th year once a year (cars over 15 years old, inspected twice a
    year before the reform, also once a year). The defaults remind of the 6th, 8th and 10th
    year and every year from the 11th; a dealer adds 2 and 4 to remind of the early labels. Vans, commercial
    and other vehicles keep 《道路交通安全法实施条例》 art. 16's schedule: dealers change
    the years here. The anniversary is taken from the delivery date (the registration date is
    rarely known to a dealer and is usually within days of delivery)."""

    code = "annual_inspection"
    label = _("Annual inspection")
    description = _(
        "Before the anniversary of the delivery in a year the car must be inspected or get its "
        "inspection label (private cars in China: the 6th, 8th and 10th year, then every year "
        "from the 11th): a reminder and a call offering the inspection service."
    )
    defaults = {
        "enabled": True,
        "days_before": 30,
        "years": [6, 8, 10],
        "yearly_from": 11,
        "action": Action.BOTH,
        "channel": "sms",
        "assignee": Assignee.CARE_SPECIALIST,
        "task_kind": "call",
        "purpose": "inspection_reminder",
        "script": _(
            "Call {salutation}: the {vehicle} ({plate}) is due for its annual inspection by "
            "{due_date}. Offer to handle it with a check-up."
        ),
    }
    config_fields = (
        ConfigField(
            "days_before", "int", _("Days before the anniversary"), min_value=0, max_value=90
        ),
        ConfigField(
            "years",
            "int_list",
            _("Years with an inspection"),
            _("Years after registration, comma-separated (private cars: 6, 8, 10)."),
        ),
        ConfigField(
            "yearly_from",
            "int",
            _("Every year from year"),
            _("0: never yearly."),
            min_value=0,
            max_value=40,
        ),
        *common_fields(),
    )
    title = _("Annual inspection due: {customer} ({plate}) by {due_date}")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        before = int(ctx.config["days_before"])
        years = inspection_years(ctx.config)
        wanted: dict[datetime.date, tuple[datetime.date, datetime.date, int]] = {}
        for day in ctx.days:
            anniversary = day + datetime.timedelta(days=before)
            for year in years:
                for delivered in dates_years_before(anniversary, year):
                    wanted[delivered] = (day, anniversary, year)
        if not wanted:
            return []
        rows = _owned(ctx, delivery_date__in=list(wanted)).values_list(
            "id", "owner_id", "delivery_date"
        )
        found = []
        for vid, owner, delivered in rows:
            day, anniversary, year = wanted[delivered]
            found.append(
                Candidate(
                    vid,
                    owner,
                    vid,
                    f"inspection/{anniversary.isoformat()}",
                    day,
                    {"due": anniversary.isoformat(), "year": year},
                )
            )
        return found


class WarrantyEnding(Rule):
    code = "warranty_ending"
    label = _("Warranty about to end")
    description = _(
        "Before the car's warranty ends: a reminder to have it checked while repairs are still "
        "covered, and an offer of an extended warranty."
    )
    defaults = {
        "enabled": True,
        "days_before": 30,
        "action": Action.BOTH,
        "channel": "sms",
        "assignee": Assignee.ADVISOR,
        "task_kind": "call",
        "purpose": "warranty_expiry",
        "script": _(
            "Call {salutation}: the warranty of the {vehicle} ({plate}) ends on {due_date}. "
            "Offer a check while repairs are covered, and the extended warranty."
        ),
    }
    config_fields = (
        ConfigField("days_before", "int", _("Days before the end"), min_value=0, max_value=180),
        *common_fields(),
    )
    title = _("Warranty ends {due_date}: {customer} ({plate})")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        before = int(ctx.config["days_before"])
        delta = datetime.timedelta(days=before)
        rows = _owned(ctx, warranty_end__in=shifted(ctx.days, before)).values_list(
            "id", "owner_id", "warranty_end"
        )
        return [
            Candidate(
                vid,
                owner,
                vid,
                f"warranty/{end.isoformat()}",
                end - delta,
                {"due": end.isoformat()},
            )
            for vid, owner, end in rows
        ]


RULES = (InsuranceRenewal(), AnnualInspection(), WarrantyEnding())
