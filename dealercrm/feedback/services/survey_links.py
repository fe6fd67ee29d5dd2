"""The personal survey link. The token is 32 random bytes (url-safe base64); the database keeps
only its SHA-256, so neither a guess nor a copy of the table opens a survey."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """(token for the link, hash to store)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, token_hash(token)
