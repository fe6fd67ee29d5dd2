"""VIN and licence plate rules: normalise what was typed, say precisely what is wrong.

VIN: ISO 3779, 17 characters of A–Z (never I, O, Q) and 0–9. Position 9 is the check digit
(North American rule, mandatory in China by GB 16735): each character is transliterated to a
number, multiplied by its position's weight, the sum taken modulo 11; a remainder of 10 is
written 'X'. Manufacturer and model year are decoded with vininfo.

Plates (GA 36): a province abbreviation, the city letter, then
  - ordinary: 5 letters or digits (7 characters in all);
  - special: 4 letters or digits and a suffix 学 (driving school), 警 (police), 挂 (trailer),
    领 (consulate), 港 / 澳 (Hong Kong / Macao cross-border) — 7 characters;
  - new energy (8 characters): small vehicles an energy letter (D, F, or the newer A B C E / G H J K),
    a letter or digit and 4 digits; large vehicles 5 digits and D or F.
Letters I and O never appear (they would be read as 1 and 0).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# --- VIN ---------------------------------------------------------------------------------------

VIN_LENGTH = 17
VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_TRANSLITERATION: dict[str, int] = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
VIN_ALPHABET = "".join(sorted(VIN_TRANSLITERATION))  # 0-9 and A-Z without I, O, Q
_VIN_SEPARATORS = re.compile(r"[\s\-_.·•]+")


def _normalise(value: str, separators: re.Pattern[str]) -> str:
    """NFKC (full-width to half-width), separators removed, upper-case — repeated until stable,
    since upper-casing or removing a separator can make a new composable sequence (A + ´)."""
    text = value or ""
    for _attempt in range(4):
        result = unicodedata.normalize(
            "NFKC", separators.sub("", unicodedata.normalize("NFKC", text)).upper()
        )
        if result == text:
            break
        text = result
    return text


def normalise_vin(value: str) -> str:
    """Full-width to half-width, upper-case, without spaces or separators."""
    return _normalise(value, _VIN_SEPARATORS)


def vin_check_digit(vin: str) -> str:
    """The ISO 3779 check digit of a 17-character VIN ('0'–'9' or 'X'); position 9 is ignored."""
    total = sum(VIN_TRANSLITERATION[ch] * w for ch, w in zip(vin, VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def with_check_digit(vin: str) -> str:
    """The VIN with its 9th character replaced by the right check digit (for generators)."""
    return vin[:8] + vin_check_digit(vin) + vin[9:]


def validate_vin(value: str) -> str:
    """The normalised VIN, or a ValidationError that says what is wrong with it."""
    vin = normalise_vin(value)
    if not vin:
        raise ValidationError(_("Enter the VIN (17 characters)."), code="required")
    if len(vin) != VIN_LENGTH:
        raise ValidationError(
            _("A VIN has 17 characters; this one has %(count)d.") % {"count": len(vin)},
            code="vin_length",
        )
    forbidden = sorted({ch for ch in vin if ch in "IOQ"})
    if forbidden:
        raise ValidationError(
            _(
                "A VIN never contains the letters I, O or Q (found %(letters)s); "
                "they are usually 1 or 0."
            )
            % {"letters": ", ".join(forbidden)},
            code="vin_letters",
        )
    invalid = sorted({ch for ch in vin if ch not in VIN_TRANSLITERATION})
    if invalid:
        raise ValidationError(
            _("A VIN contains only the letters A–Z and the digits 0–9 (found %(chars)s).")
            % {"chars": " ".join(invalid)},
            code="vin_chars",
        )
    expected = vin_check_digit(vin)
    if vin[8] != expected:
        raise ValidationError(
            _(
                "The check digit (9th character) is %(found)s but should be %(expected)s for this "
                "VIN: a character is probably mistyped."
            )
            % {"found": vin[8], "expected": expected},
            code="vin_check_digit",
        )
    return vin


@dataclass(frozen=True)
class VinInfo:
    """What the VIN itself tells: manufacturer (from the WMI), country and model year."""

    manufacturer: str
    country: str
    model_year: int | None


def decode_vin(vin: str, *, today: date | None = None) -> VinInfo:
    """Decode a valid VIN with vininfo. Unknown manufacturers give an empty string.

    The year code repeats every 30 years; the latest year not after next year is taken
    (a car can carry next year's model year).
    """
    from vininfo import Vin
    from vininfo.exceptions import ValidationError as VininfoError

    try:
        info = Vin(vin)
    except VininfoError:
        return VinInfo(manufacturer="", country="", model_year=None)
    manufacturer = info.manufacturer or ""
    if manufacturer == "UnsupportedBrand":
        manufacturer = ""
    limit = (today or date.today()).year + 1
    years = [y for y in info.years if y <= limit]
    return VinInfo(
        manufacturer=manufacturer[:80],
        country=info.country or "",
        model_year=max(years) if years else None,
    )


# --- Licence plates ----------------------------------------------------------------------------

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
SPECIAL_SUFFIXES = "学警挂领港澳"
# Small new-energy plates: D / A B C E pure electric, F / G H J K other new energy.
NEV_LETTERS = "DABCEFGHJK"
LARGE_NEV_LETTERS = "DF"
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, O
_PLATE_SEPARATORS = re.compile(r"[\s\-_.·•・]+")
_SERIAL = re.compile(r"^[A-HJ-NP-Z0-9]+$")


@dataclass(frozen=True)
class PlateInfo:
    """A parsed plate: province abbreviation, city letter, kind (ordinary / new_energy / special)."""

    plate: str
    province: str
    city_letter: str
    kind: str
    suffix: str = ""

    @property
    def is_new_energy(self) -> bool:
        return self.kind == "new_energy"


def normalise_plate(value: str) -> str:
    """Full-width to half-width, upper-case, without spaces, dots or the middle dot '·'."""
    return _normalise(value, _PLATE_SEPARATORS)


def parse_plate(value: str) -> PlateInfo:
    """Parse a plate, or raise a ValidationError that names what is wrong."""
    plate = normalise_plate(value)
    if not plate:
        raise ValidationError(_("Enter the licence plate."), code="required")
    if plate[0] not in PROVINCES:
        raise ValidationError(
            _(
                "A plate starts with a province abbreviation such as 京, 沪 or 粤 "
                "(found “%(char)s”)."
            )
            % {"char": plate[0]},
            code="plate_province",
        )
    if len(plate) not in (7, 8):
        raise ValidationError(
            _("A plate has 7 characters, or 8 for a new-energy vehicle; this one has %(count)d.")
            % {"count": len(plate)},
            code="plate_length",
        )
    city = plate[1]
    if city in "IO":
        raise ValidationError(
            _("Plates never use the letters I or O; did you mean 1 or 0?"), code="plate_letters"
        )
    if city not in PLATE_LETTERS:
        raise ValidationError(
            _("The second character of a plate is the city letter A–Z (found “%(char)s”).")
            % {"char": city},
            code="plate_city",
        )
    serial = plate[2:]
    suffix = serial[-1] if serial[-1] in SPECIAL_SUFFIXES else ""
    core = serial[:-1] if suffix else serial
    if any(ch in "IO" for ch in core):
        raise ValidationError(
            _("Plates never use the letters I or O; did you mean 1 or 0?"), code="plate_letters"
        )
    if not _SERIAL.match(core):
        bad = sorted({ch for ch in core if not re.match(r"[A-Z0-9]", ch)})
        raise ValidationError(
            _(
                "After the province and city letter a plate has only letters and digits "
                "(found %(chars)s)."
            )
            % {"chars": " ".join(bad) or core},
            code="plate_chars",
        )
    if suffix:
        if len(plate) != 7:
            raise ValidationError(
                _("A plate ending in %(suffix)s has 7 characters; this one has %(count)d.")
                % {"suffix": suffix, "count": len(plate)},
                code="plate_length",
            )
        return PlateInfo(plate, plate[0], city, "special", suffix)
    if len(plate) == 7:
        return PlateInfo(plate, plate[0], city, "ordinary")
    # 8 characters: new energy, small (energy letter first) or large (energy letter last).
    if core[0] in NEV_LETTERS and core[2:].isdigit():
        return PlateInfo(plate, plate[0], city, "new_energy")
    if core[:5].isdigit() and core[5] in LARGE_NEV_LETTERS:
        return PlateInfo(plate, plate[0], city, "new_energy")
    raise ValidationError(
        _(
            "An 8-character new-energy plate has D or F (or A, B, C, E, G, H, J, K) after the city "
            "letter, then a letter or digit and 4 digits — or 5 digits followed by D or F."
        ),
        code="plate_new_energy",
    )


def validate_plate(value: str) -> str:
    """The normalised plate, or a ValidationError that says what is wrong with it."""
    return parse_plate(value).plate
