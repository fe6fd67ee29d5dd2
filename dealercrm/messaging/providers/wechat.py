"""WeChat official-account template messages.

Options: api_base (default https://api.weixin.qq.com), appid, token (the server-configuration
token WeChat signs its pushes with), url (default link of a message), timeout. Secret: the
AppSecret.

- Access token: GET {base}/cgi-bin/token?grant_type=client_credential&appid&secret, kept in
  Django's cache (keyed by base, appid and a hash of the secret) until shortly before
  expires_in; every worker shares it where the cache is shared. A send answered 40001 / 42001
  (token invalid / expired) drops it, fetches a new one and tries that message once more.
- Send: POST {base}/cgi-bin/message/template/send?access_token=… with
  {touser: openid, template_id, url, data: {first, keyword1…, remark: {"value": …}}} →
  {"errcode": 0, "msgid": …}: "sent", msgid the provider's id. The template slots come from the
  message's params: `wechat_data` (a dict slot → value) if given, else params named first,
  keyword1…, remark (or any slot name ending in a number, for the newer thing1/time2 style);
  missing `first` is the subject (or the text), and the text goes to `remark` when the
  subject took `first`.
- errcodes: 43004 (not following the account) / 40003 (bad openid) / 43101 (user refused) →
  "undeliverable"; 45009 / 45047 / -1 (limits, system busy) → "retry"; others "failed".
  No answer at all → "failed" with a reason saying it may have arrived: WeChat cannot be asked
  afterwards (supports_lookup False), and a second copy is worse than a reported doubt.

Pushes from WeChat (receipts and replies) are XML POSTs to the callback URL with signature,
timestamp and nonce in the query string: signature = sha1 of the sorted, concatenated token,
timestamp and nonce. The TEMPLATESENDJOBFINISH event (Status success / failed:user block /
failed: system failed) is a receipt; a MsgType=text message is an inbound reply. The first GET
with echostr (WeChat's server check) is answered with `verification_echo(request)`.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from typing import Any
from xml.etree import ElementTree

import httpx
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .base import InboundMessage, Outcome, OutgoingMessage, Receipt, SendResult, WebhookRejected
from .configuration import CALLBACK_MAX_AGE_SECONDS, BaseProvider

DEFAULT_API_BASE = "https://api.weixin.qq.com"
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
UNDELIVERABLE_ERRORS = {
    43004: gettext_lazy("The customer does not follow the official account (any more)."),
    40003: gettext_lazy("The WeChat openid is not valid for this account."),
    43101: gettext_lazy("The customer refused messages from the account."),
}
RETRY_ERRORS = frozenset({-1, 45009, 45047, 45011})
# Margin before WeChat's own expiry: a token must not run out between cache read and use.
TOKEN_MARGIN_SECONDS = 300
_SLOT = re.compile(r"^(first|remark|[a-z_]+\d+)$")


class _TokenRefused(Exception):
    """The token endpoint refused our appid/secret (or is unreachable)."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


class WeChatProvider(BaseProvider):
    kind = "wechat"
    supports_lookup = False

    @property
    def api_base(self) -> str:
        return str(self.settings.option("api_base", DEFAULT_API_BASE)).rstrip("/")

    @property
    def timeout(self) -> float:
        return float(self.settings.option("timeout", 5.0))

    # --- access token -------------------------------------------------------------------------

    @property
    def _token_cache_key(self) -> str:
        secret_hash = hashlib.sha256(self.settings.secret.encode()).hexdigest()[:16]
        return f"messaging:wechat-token:{self.api_base}:{self.settings.option('appid', '')}:{secret_hash}"

    def access_token(self, client: httpx.Client, *, refresh: bool = False) -> str:
        if not refresh:
            cached = cache.get(self._token_cache_key)
            if cached:
                return cached
        try:
            response = client.get(
                f"{self.api_base}/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self.settings.option("appid", ""),
                    "secret": self.settings.secret,
                },
            )
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise _TokenRefused(
                Outcome.RETRY,
                _("Could not get a WeChat access token (%(error)s); tried again later.")
                % {"error": str(exc) or exc.__class__.__name__},
            ) from exc
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not token:
            code = answer.get("errcode") if isinstance(answer, dict) else None
            outcome = Outcome.RETRY if code in RETRY_ERRORS else Outcome.FAILED
            raise _TokenRefused(
                outcome,
                _("WeChat refused the account's credentials: %(code)s %(message)s")
                % {"code": code, "message": (answer or {}).get("errmsg", "")},
            )
        expires_in = int(answer.get("expires_in") or 7200)
        cache.set(self._token_cache_key, token, max(expires_in - TOKEN_MARGIN_SECONDS, 60))
        return token

    # --- sending ------------------------------------------------------------------------------

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        if not messages:
            return []
        if not self.settings.option("appid") or not self.settings.secret:
            reason = _("WeChat is not configured: appid and app secret are needed.")
            return [_result(m, Outcome.FAILED, reason) for m in messages]
        results: list[SendResult] = []
        with httpx.Client(
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 3.0))
        ) as client:
            for index, message in enumerate(messages):
                try:
                    results.append(self._send_one(client, message))
                except _TokenRefused as refused:
                    results.extend(
                        _result(m, refused.outcome, refused.reason) for m in messages[index:]
                    )
                    break
        return results

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        params = message.params or {}
        explicit = params.get("wechat_data")
        if isinstance(explicit, dict):
            slots = {str(k): v for k, v in explicit.items()}
        else:
            slots = {k: v for k, v in params.items() if _SLOT.match(str(k))}
        if "first" not in slots and not explicit:
            slots["first"] = message.subject or message.body
            if message.subject and "remark" not in slots:
                slots["remark"] = message.body
        data = {
            slot: value
            if isinstance(value, dict)
            else {"value": "" if value is None else str(value)}
            for slot, value in slots.items()
        }
        payload: dict[str, Any] = {
            "touser": message.to_address,
            "template_id": message.template_code or self.settings.option("template_id", ""),
            "data": data,
        }
        url = params.get("url") or self.settings.option("url")
        if url:
            payload["url"] = str(url)
        return payload

    def _send_one(self, client: httpx.Client, message: OutgoingMessage) -> SendResult:
        payload = self.payload(message)
        if not payload["template_id"]:
            return _result(message, Outcome.FAILED, _("No WeChat template id for this message."))
        for attempt in range(2):
            token = self.access_token(client, refresh=attempt > 0)
            try:
                response = client.post(
                    f"{self.api_base}/cgi-bin/message/template/send",
                    params={"access_token": token},
                    json=payload,
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise _TokenRefused(
                    Outcome.RETRY,
                    _("Could not reach WeChat (%(error)s); tried again later.")
                    % {"error": str(exc) or exc.__class__.__name__},
                ) from exc
            except httpx.TransportError as exc:
                return _result(
                    message,
                    Outcome.FAILED,
                    _(
                        "WeChat did not answer (%(error)s): the message may or may not have "
                        "arrived, so it is not sent again."
                    )
                    % {"error": str(exc) or exc.__class__.__name__},
                )
            if response.status_code >= 500:
                raise _TokenRefused(
                    Outcome.RETRY,
                    _("WeChat answered HTTP %(status)s; tried again later.")
                    % {"status": response.status_code},
                )
            try:
                answer = response.json()
            except ValueError:
                answer = {}
            code = answer.get("errcode", -2) if isinstance(answer, dict) else -2
            if code == 0:
                return SendResult(
                    message.message_id,
                    Outcome.SENT,
                    provider_message_id=str(answer.get("msgid", "")),
                )
            if code in TOKEN_ERRORS and attempt == 0:
                cache.delete(self._token_cache_key)
                continue  # a fresh token, then this message once more
            return _result(message, *_outcome_for(code, answer))
        raise AssertionError("unreachable")  # pragma: no cover

    # --- pushes from WeChat -------------------------------------------------------------------

    @property
    def callback_token(self) -> str:
        return str(self.settings.option("token", "") or self.settings.webhook_key)

    def verify_webhook(self, request: HttpRequest) -> None:
        signature = request.GET.get("signature", "")
        timestamp = request.GET.get("timestamp", "")
        nonce = request.GET.get("nonce", "")
        if not (signature and timestamp and nonce):
            raise WebhookRejected(_("The WeChat push is not signed."))
        expected = wechat_signature(self.callback_token, timestamp, nonce)
        if not hmac.compare_digest(expected, signature.lower()):
            raise WebhookRejected(_("The WeChat push's signature is wrong."))
        try:
            age = timezone.now().timestamp() - int(timestamp)
        except ValueError:
            raise WebhookRejected(_("The WeChat push's timestamp is not a number.")) from None
        if abs(age) > CALLBACK_MAX_AGE_SECONDS:
            raise WebhookRejected(_("The WeChat push is too old (or from the future)."))

    def verification_echo(self, request: HttpRequest) -> str | None:
        """WeChat's server check (GET with echostr): answer echostr once verify_webhook passed."""
        return request.GET.get("echostr") if request.method == "GET" else None

    def parse_receipts(self, request: HttpRequest) -> list[Receipt]:
        fields = _xml_fields(request.body)
        if fields.get("MsgType") != "event" or fields.get("Event") != "TEMPLATESENDJOBFINISH":
            return []
        msg_id = fields.get("MsgID") or fields.get("MsgId") or ""
        status = fields.get("Status", "")
        delivered = status == "success"
        reason = ""
        if not delivered:
            reason = {
                "failed:user block": _("The customer blocked messages from the account."),
                "failed: system failed": _("WeChat failed to deliver it (system failure)."),
            }.get(status, _("WeChat could not deliver it: %(status)s") % {"status": status})
        return [
            Receipt(
                event_key=f"tpl:{msg_id}:{status}"[:200],
                provider_message_id=msg_id,
                delivered=delivered,
                reason=reason,
                at=_from_epoch(fields.get("CreateTime")),
            )
        ]

    def parse_inbound(self, request: HttpRequest) -> list[InboundMessage]:
        fields = _xml_fields(request.body)
        if fields.get("MsgType") != "text" or not fields.get("FromUserName"):
            return []
        msg_id = (
            fields.get("MsgId")
            or hashlib.sha256(
                f"{fields['FromUserName']}|{fields.get('CreateTime')}|{fields.get('Content')}".encode()
            ).hexdigest()
        )
        return [
            InboundMessage(
                event_key=f"msg:{msg_id}",
                channel="wechat",
                from_address=fields["FromUserName"],
                body=fields.get("Content", ""),
                at=_from_epoch(fields.get("CreateTime")),
                extra={"to_account": fields.get("ToUserName", "")},
            )
        ]


def wechat_signature(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()  # noqa: S324 — WeChat's protocol


def _outcome_for(code: int, answer: dict[str, Any]) -> tuple[str, str]:
    detail = f"{code} {answer.get('errmsg', '')}".strip()
    if code in UNDELIVERABLE_ERRORS:
        return Outcome.UNDELIVERABLE, f"{UNDELIVERABLE_ERRORS[code]} ({detail})"
    if code in RETRY_ERRORS:
        return Outcome.RETRY, _(
            "WeChat is busy or limiting requests (%(detail)s); tried again later."
        ) % {"detail": detail}
    if code in TOKEN_ERRORS:
        return Outcome.FAILED, _("WeChat refused a fresh access token (%(detail)s).") % {
            "detail": detail
        }
    return Outcome.FAILED, _("WeChat refused the message (%(detail)s).") % {"detail": detail}


def _result(message: OutgoingMessage, outcome: str, reason: str) -> SendResult:
    return SendResult(message_id=message.message_id, outcome=outcome, reason=reason[:300])


def _xml_fields(body: bytes) -> dict[str, str]:
    """The child elements of WeChat's flat <xml> document, as text.

    Documents with a DOCTYPE are refused before parsing: WeChat never sends one, and entity
    declarations are how XML bombs and external-entity reads get in.
    """
    if not body:
        return {}
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise WebhookRejected(_("The push contains a DOCTYPE."))
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 — DOCTYPE refused above
    except ElementTree.ParseError:
        raise WebhookRejected(_("The push is not valid XML.")) from None
    return {child.tag: (child.text or "").strip() for child in root}


def _from_epoch(value: str | None) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromtimestamp(int(value or ""), tz=datetime.UTC)
    except ValueError:
        return None
