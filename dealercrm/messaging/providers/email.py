"""E-mail through Django's e-mail backends: a dealer's own SMTP server, or the server's setting.

- kind "smtp": options host, port, username, use_tls / use_ssl, from_email, from_name, reply_to,
  timeout; the secret is the SMTP password. Sent through
  `django.core.mail.backends.smtp.EmailBackend`, one connection per batch.
- kind "django_email": whatever EMAIL_BACKEND the server has (`get_connection()`), sender
  DEFAULT_FROM_EMAIL unless options say otherwise.

Each message is an EmailMultiAlternatives (text, plus a simple HTML part) with:
- Message-ID derived from the idempotency key (`message_id_for`), so the same message always
  has the same id and a customer's reply (In-Reply-To) leads back to it;
- List-Unsubscribe (the message's unsubscribe link) and List-Unsubscribe-Post (RFC 8058
  one-click), and the same link in the footer.

How SMTP answers map to outcomes: a refused recipient or any 5xx about the message →
"undeliverable" with the server's words; 4xx and connection trouble → "retry" (SMTP's own rule:
4xx means "not now", and every mail server retries it); a refused login or sender → "failed"
(ours to fix). A batch stops at the first connection-level problem: the rest is "retry",
untried. E-mail cannot be asked later whether it was taken, so supports_lookup is False.

Customers' replies come back as a JSON webhook shaped like the common inbound-parse services
(`from`, `to`, `subject`, `text`, `html`, `headers` with In-Reply-To), signed like every other
callback (configuration.verify_signed_callback) with the configuration's webhook key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import smtplib
from email.utils import formataddr, getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend
from django.http import HttpRequest
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _

from .base import InboundMessage, Outcome, OutgoingMessage, Receipt, SendResult, WebhookRejected
from .configuration import BaseProvider, verify_signed_callback


def message_id_for(idempotency_key: str, domain: str = "dealercrm") -> str:
    """The Message-ID of the message with this key: stable, and no personal data in it."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


class _BatchStopped(Exception):
    """The connection is unusable: the messages not yet tried get this result."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


class DjangoEmailProvider(BaseProvider):
    kind = "django_email"
    supports_lookup = False

    # --- sending ------------------------------------------------------------------------------

    def connection(self) -> BaseEmailBackend:
        return get_connection(fail_silently=False)

    @property
    def from_address(self) -> str:
        address = self.settings.option("from_email", settings.DEFAULT_FROM_EMAIL)
        name = self.settings.option("from_name", "")
        return formataddr((name, address)) if name else address

    @property
    def message_id_domain(self) -> str:
        address = parseaddr(self.settings.option("from_email", settings.DEFAULT_FROM_EMAIL))[1]
        return address.rpartition("@")[2] or "dealercrm"

    def build(
        self, message: OutgoingMessage, connection: BaseEmailBackend
    ) -> EmailMultiAlternatives:
        headers = {"Message-ID": message_id_for(message.idempotency_key, self.message_id_domain)}
        if message.unsubscribe_url:
            headers["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        reply_to = self.settings.option("reply_to")
        mail = EmailMultiAlternatives(
            subject=message.subject or _subject_from_body(message.body),
            body=self._text(message),
            from_email=self.from_address,
            to=[message.to_address],
            headers=headers,
            reply_to=[reply_to] if reply_to else None,
            connection=connection,
        )
        mail.attach_alternative(self._html(message), "text/html")
        return mail

    @staticmethod
    def _text(message: OutgoingMessage) -> str:
        if not message.unsubscribe_url:
            return message.body
        footer = _("To stop receiving these e-mails, open: %(url)s") % {
            "url": message.unsubscribe_url
        }
        return f"{message.body}\n\n-- \n{footer}\n"

    @staticmethod
    def _html(message: OutgoingMessage) -> str:
        footer = ""
        if message.unsubscribe_url:
            footer = (
                '<hr style="border:none;border-top:1px solid #ddd;margin:24px 0 8px">'
                '<p style="font-size:12px;color:#888">{text} <a href="{url}">{link}</a></p>'
            ).format(
                text=escape(_("Don't want these e-mails?")),
                url=escape(message.unsubscribe_url),
                link=escape(_("Unsubscribe")),
            )
        title = escape(message.subject)
        return (
            '<!DOCTYPE html><html><head><meta charset="utf-8">'
            f"<title>{title}</title></head>"
            '<body style="font-family:sans-serif;font-size:15px;line-height:1.6;color:#222">'
            f"{linebreaks(message.body, autoescape=True)}{footer}</body></html>"
        )

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        if not messages:
            return []
        results: list[SendResult] = []
        try:
            connection = self.connection()
            connection.open()
        except ValueError as exc:  # e.g. use_tls and use_ssl both set
            return _all(
                messages, Outcome.FAILED, _("E-mail is misconfigured: %(error)s") % {"error": exc}
            )
        except smtplib.SMTPAuthenticationError as exc:
            return _all(
                messages,
                Outcome.FAILED,
                _("The mail server refused the login: %(reply)s")
                % {"reply": _smtp_reply(exc.smtp_code, exc.smtp_error)},
            )
        except (smtplib.SMTPException, OSError) as exc:
            return _all(
                messages,
                Outcome.RETRY,
                _("Could not reach the mail server: %(error)s") % {"error": _describe(exc)},
            )
        try:
            for index, message in enumerate(messages):
                try:
                    results.append(self._send_one(message, connection))
                except _BatchStopped as stop:
                    results.extend(_all(messages[index:], stop.outcome, stop.reason))
                    break
        finally:
            # A connection that broke mid-batch has nothing left to close politely.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.close()
        return results

    def _send_one(self, message: OutgoingMessage, connection: BaseEmailBackend) -> SendResult:
        ok = SendResult(
            message_id=message.message_id,
            outcome=Outcome.SENT,
            provider_message_id=message_id_for(message.idempotency_key, self.message_id_domain),
        )
        try:
            mail = self.build(message, connection)
            sent = connection.send_messages([mail])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (550, b""))
            outcome = Outcome.UNDELIVERABLE if code >= 500 else Outcome.RETRY
            return _result(
                message,
                outcome,
                _("The mail server refused the address: %(reply)s")
                % {"reply": _smtp_reply(code, reply)},
            )
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code >= 500:
                # Our own sender address is refused: every message would be, so stop here.
                raise _BatchStopped(
                    Outcome.FAILED,
                    _("The mail server refused the sender address: %(reply)s")
                    % {"reply": _smtp_reply(exc.smtp_code, exc.smtp_error)},
                ) from exc
            return _result(message, Outcome.RETRY, _smtp_reply(exc.smtp_code, exc.smtp_error))
        except smtplib.SMTPResponseException as exc:
            outcome = Outcome.UNDELIVERABLE if exc.smtp_code >= 500 else Outcome.RETRY
            return _result(
                message,
                outcome,
                _("The mail server did not take it: %(reply)s")
                % {"reply": _smtp_reply(exc.smtp_code, exc.smtp_error)},
            )
        except ValueError as exc:  # an address Django cannot even encode
            return _result(
                message,
                Outcome.UNDELIVERABLE,
                _("Not a valid e-mail address: %(error)s") % {"error": exc},
            )
        except (smtplib.SMTPException, OSError) as exc:
            raise _BatchStopped(
                Outcome.RETRY,
                _("The connection to the mail server broke: %(error)s") % {"error": _describe(exc)},
            ) from exc
        if not sent:
            return _result(message, Outcome.UNDELIVERABLE, _("No valid recipient address."))
        return ok

    # --- inbound replies ----------------------------------------------------------------------

    def verify_webhook(self, request: HttpRequest) -> None:
        verify_signed_callback(request, self.settings.webhook_key)

    def parse_inbound(self, request: HttpRequest) -> list[InboundMessage]:
        payload = _payload(request)
        if not payload:
            return []
        items = payload if isinstance(payload, list) else [payload]
        return [parsed for item in items if (parsed := _parse_reply(item)) is not None]

    def parse_receipts(self, request: HttpRequest) -> list[Receipt]:
        """Bounces that arrive after the SMTP server took the message (a DSN returned later),
        as mail relays' event webhooks post them: {"event": "bounce" | "delivered",
        "message_id": "<our Message-ID>", "reason": "550 5.1.1 …", "id": "<event id>"}."""
        payload = _payload(request)
        if not payload:
            return []
        items = payload if isinstance(payload, list) else [payload]
        return [parsed for item in items if (parsed := _parse_event(item)) is not None]


class SmtpProvider(DjangoEmailProvider):
    kind = "smtp"

    def connection(self) -> BaseEmailBackend:
        option = self.settings.option
        return EmailBackend(
            host=option("host", settings.EMAIL_HOST),
            port=int(option("port", settings.EMAIL_PORT)),
            username=option("username", ""),
            password=self.settings.secret,
            use_tls=bool(option("use_tls", False)),
            use_ssl=bool(option("use_ssl", False)),
            timeout=float(option("timeout", 20)),
            fail_silently=False,
        )


# --- helpers ------------------------------------------------------------------------------------


def _result(message: OutgoingMessage, outcome: str, reason: str) -> SendResult:
    return SendResult(message_id=message.message_id, outcome=outcome, reason=reason[:300])


def _all(messages: list[OutgoingMessage], outcome: str, reason: str) -> list[SendResult]:
    return [_result(m, outcome, reason) for m in messages]


def _smtp_reply(code: int, reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return f"{code} {' '.join(text.split())}".strip()


def _describe(exc: BaseException) -> str:
    return str(exc) or exc.__class__.__name__


def _subject_from_body(body: str) -> str:
    first_line = next((line.strip() for line in body.splitlines() if line.strip()), "")
    return first_line[:60]


def _payload(request: HttpRequest) -> Any:
    if request.content_type == "application/json":
        try:
            return json.loads(request.body or b"null")
        except ValueError:
            raise WebhookRejected(_("The callback's body is not JSON.")) from None
    # Some inbound-parse services post a form with the same field names.
    return {key: request.POST.get(key) for key in request.POST}


def _headers(raw: Any) -> dict[str, str]:
    """Headers given as a dict, a list of [name, value] pairs, or the raw header block."""
    if isinstance(raw, dict):
        return {str(k).lower(): str(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return {str(pair[0]).lower(): str(pair[1]) for pair in raw if len(pair) == 2}
    if isinstance(raw, str):
        headers: dict[str, str] = {}
        for line in re.sub(r"\r?\n[ \t]+", " ", raw).splitlines():
            name, sep, value = line.partition(":")
            if sep:
                headers.setdefault(name.strip().lower(), value.strip())
        return headers
    return {}


# Where the quoted original starts in a reply: "> …" lines, Outlook's and Chinese clients' markers.
_QUOTE_START = re.compile(
    r"^(>|-{2,}\s*(Original Message|原始邮件)|On .+ wrote:$|在.+写道[:：]$|发件人[:：])",
    re.IGNORECASE,
)


def _strip_quoted(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if _QUOTE_START.match(line.strip()):
            break
        lines.append(line)
    return "\n".join(lines).strip() or text.strip()


def _parse_reply(item: Any) -> InboundMessage | None:
    if not isinstance(item, dict):
        return None
    headers = _headers(item.get("headers"))
    sender = parseaddr(str(item.get("from") or headers.get("from", "")))[1].lower()
    if not sender:
        return None
    text = str(item.get("text") or "")
    if not text and item.get("html"):
        text = re.sub(r"<[^>]+>", " ", str(item["html"]))
    subject = str(item.get("subject") or headers.get("subject", ""))
    in_reply_to = headers.get("in-reply-to", "").strip()
    if not in_reply_to and headers.get("references"):
        in_reply_to = headers["references"].split()[-1]
    own_id = headers.get("message-id", "").strip()
    event_key = "mail:" + (
        own_id or hashlib.sha256(f"{sender}\n{subject}\n{text}".encode()).hexdigest()
    )
    at = None
    if headers.get("date"):
        try:
            at = parsedate_to_datetime(headers["date"])
        except (TypeError, ValueError):
            at = None
    recipients = [addr for _name, addr in getaddresses([str(item.get("to") or "")]) if addr]
    return InboundMessage(
        event_key=event_key[:200],
        channel="email",
        from_address=sender,
        body=_strip_quoted(text),
        subject=subject[:200],
        in_reply_to=in_reply_to,
        at=at,
        extra={"to": recipients, "message_id": own_id},
    )


# Event names mail relays use for a message that will never arrive, and for one that did.
_BOUNCE_EVENTS = frozenset({"bounce", "bounced", "dropped", "failed", "rejected"})
_DELIVERED_EVENTS = frozenset({"delivered", "delivery"})


def _parse_event(item: Any) -> Receipt | None:
    if not isinstance(item, dict):
        return None
    event = str(item.get("event") or "").lower()
    message_id = str(item.get("message_id") or "").strip()
    if event not in _BOUNCE_EVENTS | _DELIVERED_EVENTS or not message_id:
        return None
    if not message_id.startswith("<"):
        message_id = f"<{message_id}>"
    delivered = event in _DELIVERED_EVENTS
    reason = "" if delivered else str(item.get("reason") or _("The recipient's server bounced it."))
    event_id = str(item.get("id") or f"{message_id}:{event}")
    return Receipt(
        event_key=f"mail-event:{event_id}"[:200],
        provider_message_id=message_id,
        delivered=delivered,
        reason=reason[:300],
    )
