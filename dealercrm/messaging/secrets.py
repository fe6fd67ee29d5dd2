"""Provider secrets at rest (SMTP password, SMS access key secret, WeChat app secret).

They are Fernet-encrypted with the very keys that protect resident ID numbers
(settings.FIELD_ENCRYPTION_KEY, several comma-separated for rotation): one key to keep, rotate
and back up, and one piece of crypto code (customers.id_numbers) instead of two.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.core.exceptions import ImproperlyConfigured

from dealercrm.customers.id_numbers import field_fernet


def encrypt_secret(secret: str) -> str:
    """The Fernet token of `secret`; "" stays "" (a provider without a secret)."""
    if not secret:
        return ""
    return field_fernet().encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str:
    """The secret in clear; "" for an empty column. Raises ImproperlyConfigured on a wrong key."""
    if not token:
        return ""
    try:
        return field_fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A message provider's secret could not be decrypted: FIELD_ENCRYPTION_KEY is not the "
            "key it was encrypted with (keep old keys after the new one while rotating)."
        ) from exc
