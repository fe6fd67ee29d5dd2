"""Checking and normalising what people type: resident ID numbers, phone numbers, e-mail.

Each function returns the normal form or raises a ValidationError whose message says what is
wrong, so a form or the API can show it on the field.
"""

from __future__ import annotations

import datetime
import unicodedata

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

ID_NUMBER_LENGTH = 18
# GB 11643: weight of position i is 2^(17 - i) mod 11.
ID_NUMBER_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARACTERS = "10X98765432"  # indexed by (weighted sum mod 11)

# The first two digits of the administrative division code (GB/T 2260): the provinces,
# Taiwan (71), the residence permits of Hong Kong, Macao and Taiwan residents (81–83) and the
# 2023 foreigners' permanent residence ID card (9x).
ID_PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82", "83", "91", "92", "93",
    }
)  # fmt: skip
EARLIEST_BIRTH_YEAR = 1900


def _plain(text: str) -> str:
    """Full-width characters to half-width, spaces removed."""
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def id_number_check_character(body: str) -> str:
    """The GB 11643 check character (0–9 or X) of the first 17 digits (ISO 7064 MOD 11-2)."""
    if len(body) != ID_NUMBER_LENGTH - 1 or not body.isdigit():
        raise ValueError("The body of an ID number is 17 digits.")
    total = sum(int(digit) * weight for digit, weight in zip(body, ID_NUMBER_WEIGHTS, strict=True))
    return ID_CHECK_CHARACTERS[total % 11]


def id_number_birth_date(id_number: str) -> datetime.date | None:
    """The birth date written in an ID number, or None when it is not a real date."""
    digits = id_number[6:14]
    try:
        return datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def id_number_gender(id_number: str) -> str:
    """'male' or 'female': the 17th digit is odd for men, even for women."""
    return "male" if int(id_number[16]) % 2 else "female"


def normalise_id_number(raw: str, *, today: datetime.date | None = None) -> str:
    """A valid 18-character resident ID number (upper-case X), or a ValidationError saying why not."""
    value = _plain(raw).upper()
    if len(value) != ID_NUMBER_LENGTH:
        raise ValidationError(
            _("An ID number has 18 characters; this one has %(count)d."),
            code="id_length",
            params={"count": len(value)},
        )
    body, check = value[:17], value[17]
    if not body.isdigit() or not (check.isdigit() or check == "X"):
        raise ValidationError(
            _("An ID number is 17 digits followed by a digit or X."), code="id_characters"
        )
    if body[:2] not in ID_PROVINCE_CODES:
        raise ValidationError(
            _("The ID number starts with %(code)s, which is not a Chinese region code."),
            code="id_region",
            params={"code": body[:2]},
        )
    birth = id_number_birth_date(value)
    today = today or datetime.date.today()
    if birth is None or birth.year < EARLIEST_BIRTH_YEAR or birth > today:
        raise ValidationError(
            _("The birth date in this ID number (%(digits)s) is impossible."),
            code="id_birth_date",
            params={"digits": body[6:14]},
        )
    if id_number_check_character(body) != check:
        raise ValidationError(
            _(
                "The check digit (the last character) does not match the other 17: "
                "a character is probably mistyped."
            ),
            code="id_check_digit",
        )
    return value


def normalise_phone(raw: str, *, region: str | None = None) -> str:
    """A phone number in E.164 (+8613812341234); numbers without a country code are Chinese."""
    value = _plain(raw)
    if not value:
        raise ValidationError(_("Enter a phone number."), code="phone_empty")
    region = region or getattr(settings, "PHONENUMBER_DEFAULT_REGION", "CN")
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("“%(value)s” is not a phone number."), code="phone_unparsable", params={"value": raw}
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _(
                "“%(value)s” is not a valid phone number: a Chinese mobile number has 11 digits "
                "starting with 1, a landline its area code first."
            ),
            code="phone_invalid",
            params={"value": raw},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str) -> str:
    """A valid e-mail address with a lower-case domain; empty stays empty."""
    value = _plain(raw)
    if not value:
        return ""
    validate_email(value)
    local, _at, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"
