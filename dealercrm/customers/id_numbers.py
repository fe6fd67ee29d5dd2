"""Resident ID numbers at rest: encrypted, with a keyed hash for look-ups and a masked form.

- `Customer.id_number_encrypted`: Fernet token (settings.FIELD_ENCRYPTION_KEY). Several keys
  may be given, comma-separated: the first encrypts, all decrypt, so keys can be rotated.
- `Customer.id_number_hash`: HMAC-SHA256 with settings.SEARCH_HASH_KEY, hex. Equal numbers give
  equal hashes, so exact search and the duplicate check work without decrypting anything; a
  plain hash would not do, since 18-digit ID numbers are few enough to enumerate.
- `Customer.id_number_masked`: 110101********1234, what every screen shows.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError

from .contact_masking import mask_id_number
from .validators import normalise_id_number


@dataclass(frozen=True)
class StoredIdNumber:
    """The three columns that hold one ID number."""

    encrypted: str
    hash: str
    masked: str

    @classmethod
    def empty(cls) -> StoredIdNumber:
        return cls(encrypted="", hash="", masked="")

    def as_fields(self) -> dict[str, str]:
        return {
            "id_number_encrypted": self.encrypted,
            "id_number_hash": self.hash,
            "id_number_masked": self.masked,
        }


@lru_cache(maxsize=4)
def _fernet_for(keys: str) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.strip()) for key in keys.split(",") if key.strip()])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be one or more comma-separated Fernet keys "
            "(Fernet.generate_key())."
        ) from exc


def field_fernet() -> MultiFernet:
    """The Fernet keys of FIELD_ENCRYPTION_KEY: for ID numbers here, and for other secrets kept
    in the database (message providers' passwords), so one key setting and one rotation."""
    return _fernet_for(settings.FIELD_ENCRYPTION_KEY)


def encrypt_id_number(id_number: str) -> str:
    return field_fernet().encrypt(id_number.encode()).decode()


def decrypt_id_number(token: str) -> str:
    """The ID number in clear; "" for an empty column. Raises ImproperlyConfigured on a wrong key."""
    if not token:
        return ""
    try:
        return field_fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "An ID number could not be decrypted: FIELD_ENCRYPTION_KEY is not the key it was "
            "encrypted with (keep old keys after the new one while rotating)."
        ) from exc


def hash_id_number(id_number: str) -> str:
    """The keyed hash of a normalised ID number (64 hex characters)."""
    return hmac.new(
        settings.SEARCH_HASH_KEY.encode(), id_number.upper().encode(), hashlib.sha256
    ).hexdigest()


def lookup_hash(raw: str) -> str | None:
    """The hash to look an ID number up by, or None when what was typed is not a valid ID."""
    try:
        return hash_id_number(normalise_id_number(raw))
    except ValidationError:
        return None


def protect_id_number(raw: str) -> StoredIdNumber:
    """Validate and normalise an ID number, then encrypt, hash and mask it.

    An empty value gives empty columns; an invalid one raises ValidationError (see validators).
    """
    if not (raw or "").strip():
        return StoredIdNumber.empty()
    id_number = normalise_id_number(raw)
    return StoredIdNumber(
        encrypted=encrypt_id_number(id_number),
        hash=hash_id_number(id_number),
        masked=mask_id_number(id_number),
    )
