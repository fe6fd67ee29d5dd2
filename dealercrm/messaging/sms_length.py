"""SMS length as the Chinese gateways count it, for the editor's counter and the outbox's segments.

The gateways (Aliyun, Tencent Cloud, the carriers' platforms) count every character as one,
Chinese or Latin, punctuation and spaces alike. The 【signature】 they put in front counts, and so
does the " 回T退订" a marketing SMS must end with. Up to 70 characters is one SMS; a longer text
is split into parts of 67 (each part carries a small header that joins them again on the phone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

SINGLE_SEGMENT_CHARS = 70
MULTI_SEGMENT_CHARS = 67
# What a marketing SMS must end with by the carriers' rules: how to unsubscribe.
UNSUBSCRIBE_SUFFIX = " 回T退订"


def sms_text(body: str, *, signature: str = "", marketing: bool = False) -> str:
    """The full text as the phone shows it: 【signature】 + body (+ " 回T退订" for marketing)."""
    signature = signature.strip().strip("【】[]")
    prefix = f"【{signature}】" if signature else ""
    # A template that already ends with the suffix does not get it twice.
    needs_suffix = marketing and not body.rstrip().endswith(UNSUBSCRIBE_SUFFIX.strip())
    suffix = UNSUBSCRIBE_SUFFIX if needs_suffix else ""
    return f"{prefix}{body}{suffix}"


def segments_for(chars: int) -> int:
    """How many SMS a text of `chars` characters is sent as."""
    if chars <= 0:
        return 0
    if chars <= SINGLE_SEGMENT_CHARS:
        return 1
    return math.ceil(chars / MULTI_SEGMENT_CHARS)


@dataclass(frozen=True)
class SmsLength:
    """Characters of the full text, the SMS it takes, and the most it could hold in as many."""

    chars: int
    segments: int

    @property
    def limit(self) -> int:
        """Characters that fit in this many segments: 70 for one, 67 a segment when split."""
        if self.segments <= 1:
            return SINGLE_SEGMENT_CHARS
        return self.segments * MULTI_SEGMENT_CHARS

    @property
    def label(self) -> str:
        """ "45/70" for one SMS, "2 segments (134)" for a split one."""
        if self.segments <= 1:
            return _("%(chars)d/%(limit)d") % {"chars": self.chars, "limit": self.limit}
        return ngettext(
            "%(segments)d segment (%(chars)d)",
            "%(segments)d segments (%(chars)d)",
            self.segments,
        ) % {"segments": self.segments, "chars": self.chars}


def sms_length(body: str, *, signature: str = "", marketing: bool = False) -> SmsLength:
    """Count `body` as the gateway will: with the signature and, for marketing, the suffix."""
    chars = len(sms_text(body, signature=signature, marketing=marketing))
    return SmsLength(chars=chars, segments=segments_for(chars))
