"""What a care rule is: code, words for the settings page, defaults, editable settings, and one
SQL query that finds the day's candidates.

A rule never loops over vehicles: `candidates(ctx)` runs one query over the dealer's whole table
(`values_list`) for every day of the engine's window at once (the days since the previous run),
and returns plain tuples; the engine writes occurrences, tasks and messages from them in bulk.
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Action:
    """What a rule produces for each occurrence."""

    TASK = "task"
    MESSAGE = "message"
    BOTH = "both"
    NONE = "none"  # only recorded (and whatever the rule changes, e.g. a lifecycle stage)

    CHOICES = (
        (TASK, _("Task")),
        (MESSAGE, _("Message")),
        (BOTH, _("Task and message")),
        (NONE, _("Record only")),
    )

    @staticmethod
    def has_task(action: str) -> bool:
        return action in (Action.TASK, Action.BOTH)

    @staticmethod
    def has_message(action: str) -> bool:
        return action in (Action.MESSAGE, Action.BOTH)


class Assignee:
    """Who gets a rule's task."""

    CONSULTANT = "consultant"
    ADVISOR = "advisor"
    CARE_SPECIALIST = "care_specialist"

    CHOICES = (
        (CONSULTANT, _("The customer's sales consultant")),
        (ADVISOR, _("The service advisor of the latest visit")),
        (CARE_SPECIALIST, _("A care specialist (in turn)")),
    )


CHANNEL_CHOICES = (
    ("phone", _("Phone call")),
    ("sms", _("SMS")),
    ("wechat", _("WeChat")),
    ("email", _("E-mail")),
)
TASK_KIND_CHOICES = (
    ("call", _("Phone call")),
    ("follow_up", _("Follow-up")),
    ("other", _("Other")),
)


@dataclass(frozen=True)
class ConfigField:
    """One setting a dealer may change, described so that a generic form can edit it.

    `type`: "int", "bool", "choice", "multichoice" (a list of choice values), "text" or
    "int_list" (comma-separated whole numbers).
    """

    name: str
    type: str
    label: Promise | str
    help: Promise | str = ""
    choices: tuple[tuple[str, Promise | str], ...] = ()
    min_value: int | None = None
    max_value: int | None = None


class Candidate(NamedTuple):
    """One firing of a rule: for `subject_id` on `occasion`, due on `due_on`."""

    subject_id: int
    customer_id: int
    vehicle_id: int | None
    occasion: str
    due_on: datetime.date
    detail: dict[str, Any] | None = None


@dataclass
class RuleContext:
    """What a rule's query needs: the dealer, the days to look at, its merged settings."""

    dealer_id: int
    days: tuple[datetime.date, ...]  # ascending, at least one; the last is the run's day
    config: dict[str, Any]
    brand_id: int | None = None
    region_id: int | None = None
    time_zone: str = "Asia/Shanghai"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def first_run(self) -> bool:
        """The dealer's first run (or a back-fill): state rules look at the whole table, not
        only at what crossed their threshold on the window's days."""
        return bool(self.extra.get("first_run", True))

    @property
    def first(self) -> datetime.date:
        return self.days[0]

    @property
    def last(self) -> datetime.date:
        return self.days[-1]


def common_fields(*, message: bool = True) -> tuple[ConfigField, ...]:
    """The settings every rule has: what it produces, how, for whom, and the script."""
    fields = [
        ConfigField("action", "choice", _("Produces"), choices=Action.CHOICES),
        ConfigField(
            "channel",
            "choice",
            _("Suggested channel"),
            _("The channel the task suggests and, for messages, the template's channel."),
            choices=CHANNEL_CHOICES,
        ),
        ConfigField("assignee", "choice", _("Task goes to"), choices=Assignee.CHOICES),
        ConfigField("task_kind", "choice", _("Task kind"), choices=TASK_KIND_CHOICES),
        ConfigField(
            "script",
            "text",
            _("Script"),
            _(
                "What to say. Placeholders: {salutation} {customer} {vehicle} {plate} "
                "{due_date} {dealer} {consultant} and the rule's own ({suggestion}, {festival}, "
                "{year_summary}, {check})."
            ),
        ),
    ]
    if not message:
        fields = [f for f in fields if f.name != "channel"]
    return tuple(fields)


class Rule:
    """A rule of the catalogue. Subclasses set the class attributes and `candidates`."""

    code: str = ""
    label: Promise | str = ""
    description: Promise | str = ""
    # "vehicle": subject_id is a vehicle id; "customer": a customer id.
    subject: str = "vehicle"
    defaults: dict[str, Any] = {}
    config_fields: tuple[ConfigField, ...] = ()
    # Task title, with the script's placeholders.
    title: Promise | str = ""
    # Tell the assignee with a worklist Notice as well (replacement, service-to-sales).
    notifies: bool = False

    def candidates(self, ctx: RuleContext) -> list[Candidate]:
        raise NotImplementedError

    def after_insert(self, ctx: RuleContext, run_id: int) -> int:
        """Set-based changes for this run's new occurrences (a lifecycle stage …); rows changed."""
        return 0

    def variables(
        self, ctx: RuleContext, run_id: int, rows: Sequence[tuple[int, int, str, dict[str, Any]]]
    ) -> dict[int, dict[str, Any]]:
        """The rule's own placeholders for scripts and messages, for this run's new occurrences
        `rows` = (occurrence id, customer id, occasion, detail), computed set-based (a grouped
        query for all of them, never one per row); occurrence id → {name: value}."""
        return {}

    def __repr__(self) -> str:
        return f"<Rule {self.code}>"


# --- dates ---------------------------------------------------------------------------------


def shifted(days: Iterable[datetime.date], offset: int) -> list[datetime.date]:
    """Each day moved by `offset` days."""
    delta = datetime.timedelta(days=offset)
    return [day + delta for day in days]


def add_years(day: datetime.date, years: int) -> datetime.date:
    """The same day `years` later (earlier when negative); 29 February → 28 February."""
    year = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return datetime.date(year, 2, 28)
    return day.replace(year=year)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later (earlier when negative), clipped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return datetime.date(year, month + 1, min(day.day, last))


def dates_years_before(anniversary: datetime.date, years: int) -> list[datetime.date]:
    """The dates whose `years`-th anniversary falls on `anniversary`: usually one; on 28
    February of a common year also 29 February of a leap year (celebrated on the 28th)."""
    year = anniversary.year - years
    if anniversary.month == 2 and anniversary.day == 29:
        return [datetime.date(year, 2, 29)] if calendar.isleap(year) else []
    found = [datetime.date(year, anniversary.month, anniversary.day)]
    if (
        anniversary.month == 2
        and anniversary.day == 28
        and not calendar.isleap(anniversary.year)
        and calendar.isleap(year)
    ):
        found.append(datetime.date(year, 2, 29))
    return found


def int_list(value: Any) -> list[int]:
    """[60, 30, 7] from a list or from "60, 30, 7" (the settings form's text)."""
    if isinstance(value, str):
        value = [part for part in value.replace("，", ",").split(",") if part.strip()]
    return [int(v) for v in value or []]
