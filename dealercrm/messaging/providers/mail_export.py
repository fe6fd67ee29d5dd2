"""Direct mail: letters leave as an address list someone exports and takes to the post.

The outbox never dispatches the "mail" channel: its messages stay "queued" until the address-list
export takes them, and the export service marks them sent (it knows when the list was made, the
outbox does not). This provider exists so that the channel has a provider like every other (an
admin sees "Direct mail address list" as its setting); calling `send` is a programming error and
says so, rather than quietly pretending letters went out.
"""

from __future__ import annotations

from .base import OutgoingMessage, SendResult
from .configuration import BaseProvider


class MailNotDispatched(RuntimeError):  # noqa: N818 — reads as what happened
    """Raised when something tries to send direct mail through the outbox."""


class MailExportProvider(BaseProvider):
    kind = "mail_export"
    supports_lookup = False
    # The outbox skips channels whose provider says False here.
    dispatched_by_outbox = False

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        raise MailNotDispatched(
            "Direct mail is not sent by the outbox: its messages wait, queued, for the "
            "address-list export, which marks them sent. Do not claim 'mail' messages."
        )
