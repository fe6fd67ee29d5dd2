"""Message templates: `{{ variable }}` placeholders filled from the customer, the dealer and the
caller, and nothing else.

A regular expression finds the placeholders; no template engine runs, so a template written by
a dealer's staff can neither execute code nor reach attributes it was not given. The names a
template may use are a fixed catalogue (TEMPLATE_VARIABLES), checked when the template is saved.
A text renders completely or not at all: a variable with no value for a customer raises
VariableMissing naming it, so no customer ever gets "尊敬的，您的爱车…".
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .policy import time_zone
from .selectors import CustomerFacts, DealerFacts, customer_facts, dealer_facts

VARIABLE_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Something that looks like a placeholder but is not a valid one ("{{ 姓名 }}", "{{a.b}}").
MALFORMED_RE = re.compile(r"\{\{(?!\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\})[^{}]*\}\}")

# Filled from the customer, the car and the dealer, for every customer.
CUSTOMER_VARIABLES: dict[str, Promise] = {
    "salutation": gettext_lazy(
        "How to address the customer: 张先生 / 李女士 (Mr Zhang / Ms Li), the full name when the "
        "gender is unknown, the contact person or name of a company"
    ),
    "customer_name": gettext_lazy("The customer's full name"),
    "vehicle": gettext_lazy("Model of the customer's current car"),
    "plate": gettext_lazy("Licence plate of the current car"),
    "vin_tail": gettext_lazy("Last 6 characters of the current car's VIN"),
    "mileage": gettext_lazy("Last known mileage of the current car, in km"),
    "insurance_expiry": gettext_lazy("Insurance expiry date of the current car"),
    "warranty_end": gettext_lazy("Warranty end date of the current car"),
    "dealer_name": gettext_lazy("Name of the dealership"),
    "dealer_phone": gettext_lazy("Phone number of the dealership"),
    "dealer_address": gettext_lazy("Address of the dealership"),
    "consultant_name": gettext_lazy("Name of the customer's sales consultant"),
}
# Given by whoever sends (a care rule, a test-drive booking, a campaign form): a template that
# uses one can only be sent by a sender that gives it.
CALLER_VARIABLES: dict[str, Promise] = {
    "advisor_name": gettext_lazy("Name of the service advisor"),
    "date": gettext_lazy("A date the message is about"),
    "time": gettext_lazy("A time the message is about"),
    "due_date": gettext_lazy("When something is due (maintenance, inspection, renewal)"),
    "test_drive_time": gettext_lazy("Date and time of the test drive"),
    "appointment_time": gettext_lazy("Date and time of the service appointment"),
    "delivery_date": gettext_lazy("Date of the car's delivery"),
    "recall_title": gettext_lazy("What the recall is about"),
    "festival": gettext_lazy("Name of the festival"),
    "event_name": gettext_lazy("Name of the event or offer"),
    "link": gettext_lazy("A link (survey, booking page, offer)"),
    "year_summary": gettext_lazy(
        "What the customer did with the dealer this year, in words (festival greetings)"
    ),
    "suggestion": gettext_lazy("The suggested next car (replacement candidates)"),
    "check": gettext_lazy("Name of the seasonal check"),
}
TEMPLATE_VARIABLES: dict[str, Promise] = {**CUSTOMER_VARIABLES, **CALLER_VARIABLES}

# Two-character surnames: 欧阳娜娜 is 欧阳女士, not 欧女士.
_COMPOUND_SURNAME_TEXT = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 闻人 "
    "澹台 南宫 端木 百里 呼延 独孤 西门 申屠 太史 万俟 单于 赫连 第五"
)
COMPOUND_SURNAMES = frozenset(_COMPOUND_SURNAME_TEXT.split())


class VariableMissing(Exception):  # noqa: N818 — reads as what happened
    """A text cannot be rendered: `variable` has no value."""

    def __init__(self, variable: str) -> None:
        super().__init__(variable)
        self.variable = variable


def variables_in(*texts: str) -> list[str]:
    """The placeholder names used in the texts, each once, in order of appearance."""
    seen: dict[str, None] = {}
    for text in texts:
        for name in VARIABLE_RE.findall(text or ""):
            seen.setdefault(name, None)
    return list(seen)


def validate_template(body: str, subject: str = "") -> None:
    """Refuse placeholders outside the catalogue, naming them, keyed by the field they are in."""
    errors: dict[str, list[str]] = {}
    for field_name, text in (("body", body), ("subject", subject)):
        unknown = [name for name in variables_in(text) if name not in TEMPLATE_VARIABLES]
        if unknown:
            errors.setdefault(field_name, []).append(
                _("Unknown variables: %(names)s.")
                % {"names": ", ".join(f"{{{{ {name} }}}}" for name in unknown)}
            )
        malformed = MALFORMED_RE.findall(text or "")
        if malformed:
            errors.setdefault(field_name, []).append(
                _("Not a variable: %(text)s. Variables are written {{ name }}.")
                % {"text": malformed[0]}
            )
    if errors:
        raise ValidationError(errors)


class CompiledText:
    """A text split once into its literal parts and variable names, then filled per customer
    (a campaign renders one text for 100,000 customers)."""

    __slots__ = ("parts",)

    def __init__(self, text: str) -> None:
        # [literal, name, literal, name, …, literal]
        self.parts = VARIABLE_RE.split(text or "")

    @property
    def names(self) -> list[str]:
        return self.parts[1::2]

    def render(self, context: Mapping[str, Any]) -> str:
        parts = self.parts
        if len(parts) == 1:
            return parts[0]
        filled = list(parts)
        for index in range(1, len(filled), 2):
            value = context.get(filled[index])
            text = "" if value is None else str(value)
            if not text.strip():
                raise VariableMissing(filled[index])
            filled[index] = text
        return "".join(filled)


def render(text: str, context: Mapping[str, Any]) -> str:
    """`text` with every `{{ name }}` replaced, or VariableMissing for the first name without a
    value (absent, None or empty). Values are inserted as they are, never interpreted."""
    return CompiledText(text).render(context)


# --- values ----------------------------------------------------------------------------------


def _is_english(language: str) -> bool:
    return language[:2] in ("en", "EN")


def format_value(value: Any, language: str, tz: datetime.tzinfo | None = None) -> str:
    """A value as a message shows it: dates and times in the language's form, in the dealer's
    time zone."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None and tz is not None:
            value = value.astimezone(tz)
        if _is_english(language):
            return f"{value.day} {value:%B %Y}, {value:%H:%M}"
        return f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"
    if isinstance(value, datetime.date):
        if _is_english(language):
            return f"{value.day} {value:%B %Y}"
        return f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, datetime.time):
        return f"{value:%H:%M}"
    return str(value)


def surname_of(name: str) -> str:
    name = name.strip()
    if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES:
        return name[:2]
    return name[:1]


def _has_han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _latin_surname(facts: CustomerFacts) -> str:
    """The surname in Latin letters: pinyin of the Chinese surname, else the last word of the
    Latin name (foreign customers write their family name last)."""
    if _has_han(facts.name):
        from pypinyin import lazy_pinyin

        return "".join(lazy_pinyin(surname_of(facts.name))).capitalize()
    words = (facts.latin_name or facts.name).split()
    return words[-1] if words else ""


def salutation(facts: CustomerFacts, language: str) -> str:
    """张先生 / 李女士 (Mr Zhang / Ms Li) for a person of known gender; the full name when the
    gender is unknown (guessing 先生 wrongly offends more than a name does); for a company its
    contact person when there is one (the person who reads the message), else its name."""
    if facts.kind == "company":
        return facts.contact_person or facts.name
    english = _is_english(language)
    if facts.gender in ("male", "female") and facts.name:
        if english:
            surname = _latin_surname(facts)
            if surname:
                return f"{'Mr' if facts.gender == 'male' else 'Ms'} {surname}"
        else:
            return surname_of(facts.name) + ("先生" if facts.gender == "male" else "女士")
    if english and facts.latin_name:
        return facts.latin_name
    return facts.name


def context_for(
    facts: CustomerFacts,
    dealer: DealerFacts,
    language: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Every catalogue variable that has a value for this customer, with the caller's `extra`
    (formatted, and taking precedence) on top."""
    tz = time_zone(dealer.time_zone)
    vehicle = facts.vehicle
    context: dict[str, str] = {
        "salutation": salutation(facts, language),
        "customer_name": facts.name,
        "dealer_name": dealer.name,
        "dealer_phone": dealer.phone,
        "dealer_address": dealer.address,
        "consultant_name": facts.consultant_name,
    }
    if vehicle is not None:
        context.update(
            vehicle=vehicle.model_name,
            plate=vehicle.plate,
            vin_tail=vehicle.vin[-6:],
            mileage=format_value(vehicle.mileage_km, language),
            insurance_expiry=format_value(vehicle.insurance_expiry, language),
            warranty_end=format_value(vehicle.warranty_end, language),
        )
    for name, value in (extra or {}).items():
        context[name] = format_value(value, language, tz)
    return context


def customer_contexts(
    dealer_id: int,
    customer_ids: Sequence[int] | Iterable[int],
    language: str,
    *,
    extra_by_customer: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[int, dict[str, str]]:
    """{customer id: variables} for the dealer's customers, in four queries however many
    (customers with consultant, primary phones, current cars, the dealer). Customers of another
    dealer or deleted ones are left out."""
    facts = customer_facts(dealer_id, list(customer_ids))
    dealer = dealer_facts(dealer_id)
    extras = extra_by_customer or {}
    return {
        cid: context_for(item, dealer, language, extras.get(cid)) for cid, item in facts.items()
    }
