"""How personal data is shown to someone who may not see it in full."""

from __future__ import annotations


def mask_phone(e164: str) -> str:
    """+8613812341234 → 138****1234; other numbers keep their first 3 and last 4 digits."""
    digits = e164[3:] if e164.startswith("+86") else e164.lstrip("+")
    if len(digits) <= 7:
        return digits[:2] + "*" * max(len(digits) - 4, 0) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_id_number(id_number: str) -> str:
    """110101199003071234 → 110101********1234 (region kept, birth date and sequence hidden)."""
    if len(id_number) < 10:
        return "*" * len(id_number)
    return id_number[:6] + "*" * (len(id_number) - 10) + id_number[-4:]


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    if not domain:
        return mask_phone(email)
    return (local[:1] + "***@" + domain) if local else email
