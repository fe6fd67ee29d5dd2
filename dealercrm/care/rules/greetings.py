"""Greetings: birthdays (solar or lunar) and festivals, each text personal."""

from __future__ import annotations

import calendar
import datetime
import zoneinfo
from collections.abc import Sequence
from typing import Any

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .base import Action, Assignee, Candidate, ConfigField, Rule, RuleContext, common_fields
from .lunar import FESTIVAL_LABELS, FESTIVALS, festival_on, lunar_birthday_matches, lunar_day

# Customers who have (or are getting) a car from the dealer: greetings are for relationships.
GREETED_STAGES = ("in_order", "owner", "loyal", "at_risk")


class Birthday(Rule):
    code = "birthday"
    label = _("Birthday greeting")
    description = _(
        "A greeting on the customer's birthday: the solar date, or for customers who celebrate "
        "their lunar birthday (农历生日) the day it falls on this year. A marketing message: sent "
        "only with the customer's consent. Optionally a call as well."
    )
    subject = "customer"
    defaults = {
        "enabled": True,
        "action": Action.MESSAGE,
        "channel": "sms",
        "assignee": Assignee.CONSULTANT,
        "task_kind": "call",
        "purpose": "birthday_greeting",
        "script": _("Wish {salutation} a happy birthday on behalf of {dealer}."),
    }
    config_fields = common_fields()
    title = _("Birthday: {customer}")

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        from dealercrm.customers.models import Customer

        solar: dict[tuple[int, int], datetime.date] = {}
        lunar: dict[tuple[int, int, bool], datetime.date] = {}
        condition = Q(pk__in=[])
        for day in ctx.days:
            solar[(day.month, day.day)] = day
            if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
                solar[(2, 29)] = day  # born on 29 February: the 28th in a common year
            for month, mdays, leap in lunar_birthday_matches(day):
                for mday in mdays:
                    lunar[(month, mday, leap)] = day
                condition |= Q(
                    lunar_birthday_month=month,
                    lunar_birthday_day__in=mdays,
                    lunar_birthday_leap=leap,
                )
        # Solar birthdays as a list of dates (every birth year), so an index on the birthday
        # answers instead of extracting month and day from every customer's row.
        dates = [
            datetime.date(year, month, mday)
            for month, mday in solar
            for year in range(ctx.last.year - 120, ctx.last.year + 1)
            if mday <= calendar.monthrange(year, month)[1]
        ]
        condition |= Q(lunar_birthday_month__isnull=True, birthday__in=dates)
        rows = (
            Customer.objects.filter(
                dealer_id=ctx.dealer_id, is_deleted=False, lifecycle_stage__in=GREETED_STAGES
            )
            .filter(condition)
            .values_list(
                "id",
                "birthday",
                "lunar_birthday_month",
                "lunar_birthday_day",
                "lunar_birthday_leap",
            )
        )
        found = []
        for cid, born, lmonth, lday, leap in rows:
            if lmonth:
                day = lunar.get((lmonth, lday, bool(leap)))
                if day is None:
                    continue
                occasion = f"lunar/{lunar_day(day).year}"
            else:
                day = solar[(born.month, born.day)]
                occasion = f"solar/{day.year}"
            found.append(Candidate(cid, cid, None, occasion, day, {"due": day.isoformat()}))
        return found


def year_summaries(dealer_id: int, customer_ids_query: Any, year: int, tz: str) -> dict[int, str]:
    """What each customer did with the dealer in `year`, in words ("今年您在我店保养了2次"),
    from one grouped query over repair orders and one over deliveries (set-based for the batch
    of customers `customer_ids_query` selects)."""
    from dealercrm.service.models import RepairKind, RepairOrder, RepairOrderStatus
    from dealercrm.vehicles.models import Vehicle

    zone = zoneinfo.ZoneInfo(tz)
    start = datetime.datetime(year, 1, 1, tzinfo=zone)
    end = datetime.datetime(year + 1, 1, 1, tzinfo=zone)
    visits = (
        RepairOrder.objects.filter(
            dealer_id=dealer_id,
            customer_id__in=customer_ids_query,
            opened_at__gte=start,
            opened_at__lt=end,
        )
        .exclude(status=RepairOrderStatus.CANCELLED)
        .values("customer_id")
        .annotate(
            maintenance=Count("id", filter=Q(kind=RepairKind.MAINTENANCE)),
            total=Count("id"),
        )
        .values_list("customer_id", "maintenance", "total")
    )
    bought = dict(
        Vehicle.objects.filter(
            dealer_id=dealer_id,
            owner_id__in=customer_ids_query,
            delivery_date__year=year,
        ).values_list("owner_id", "car_model__name")
    )
    texts: dict[int, list[str]] = {}
    for cid, model in bought.items():
        texts.setdefault(cid, []).append(
            str(_("this year you drove home your new %(model)s from us") % {"model": model or ""})
            if model
            else str(_("this year you bought your car from us"))
        )
    for cid, maintenance, total in visits:
        if maintenance:
            texts.setdefault(cid, []).append(
                ngettext(
                    "this year you had your car maintained with us %(count)d time",
                    "this year you had your car maintained with us %(count)d times",
                    maintenance,
                )
                % {"count": maintenance}
            )
        others = total - maintenance
        if others:
            texts.setdefault(cid, []).append(
                ngettext(
                    "you visited our workshop %(count)d more time",
                    "you visited our workshop %(count)d more times",
                    others,
                )
                % {"count": others}
            )
    return {cid: str(_(", ")).join(parts) for cid, parts in texts.items()}


class Festival(Rule):
    code = "festival"
    label = _("Festival greeting")
    description = _(
        "A personal greeting for the chosen festivals (Spring Festival, Mid-Autumn … from the "
        "lunar calendar; New Year's Day, National Day): the customer's name, car, consultant and "
        "what they did with us this year. A marketing message: sent only with consent."
    )
    subject = "customer"
    defaults = {
        "enabled": True,
        "festivals": [code for code, *_rest in FESTIVALS],
        "days_before": 0,
        "action": Action.MESSAGE,
        "channel": "sms",
        "assignee": Assignee.CONSULTANT,
        "task_kind": "call",
        "purpose": "holiday_greeting",
        "script": _(
            "{festival}: greet {salutation} on behalf of {dealer} and {consultant}; {year_summary}."
        ),
    }
    config_fields = (
        ConfigField(
            "festivals",
            "multichoice",
            _("Festivals"),
            choices=tuple((code, label) for code, label, *_rest in FESTIVALS),
        ),
        ConfigField(
            "days_before",
            "int",
            _("Days before the festival"),
            _("0: on the day."),
            min_value=0,
            max_value=7,
        ),
        *common_fields(),
    )
    title = _("{festival} greeting: {customer}")

    def _hits(self, ctx: RuleContext) -> list[tuple[datetime.date, str, datetime.date]]:
        chosen = ctx.config["festivals"] or ()
        if isinstance(chosen, str):  # "spring_festival, mid_autumn" from a text field
            chosen = [part.strip() for part in chosen.split(",")]
        chosen = set(chosen)
        before = datetime.timedelta(days=int(ctx.config["days_before"]))
        hits = []
        for day in ctx.days:
            code = festival_on(day + before)
            if code in chosen:
                hits.append((day, code, day + before))
        return hits

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        from dealercrm.customers.models import Customer

        found = []
        for day, code, festival_day in self._hits(ctx):
            ids = Customer.objects.filter(
                dealer_id=ctx.dealer_id,
                is_deleted=False,
                lifecycle_stage__in=GREETED_STAGES,
            ).values_list("id", flat=True)
            found.extend(
                Candidate(
                    cid,
                    cid,
                    None,
                    f"{code}/{festival_day.year}",
                    day,
                    {"festival": code, "date": festival_day.isoformat()},
                )
                for cid in ids
            )
        return found

    def variables(
        self, ctx: RuleContext, run_id: int, rows: Sequence[tuple[int, int, str, dict[str, Any]]]
    ) -> dict[int, dict[str, Any]]:
        from dealercrm.care.models import CareOccurrence

        by_year: dict[int, str] = {}
        for _oid, _cid, _occasion, detail in rows:
            by_year[int(detail["date"][:4])] = detail["festival"]
        summaries: dict[int, dict[int, str]] = {}
        for year in by_year:
            customers = CareOccurrence.objects.filter(
                dealer_id=ctx.dealer_id, run_id=run_id, rule=self.code
            ).values("customer_id")
            summaries[year] = year_summaries(ctx.dealer_id, customers, year, ctx.time_zone)
        default = str(_("thank you for your trust this year"))
        return {
            oid: {
                "festival": str(FESTIVAL_LABELS[detail["festival"]]),
                "year_summary": summaries[int(detail["date"][:4])].get(cid, default),
            }
            for oid, cid, _occasion, detail in rows
        }


RULES = (Birthday(), Festival())
