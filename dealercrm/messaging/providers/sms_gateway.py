"""SMS through an HTTP gateway shaped like the common Chinese ones (Aliyun dysms, RPC style).

Sending is one signed, form-encoded POST per message (each message has its own template
parameters and OutId) over one keep-alive connection per batch:

    AccessKeyId, Action=SendSms, PhoneNumbers (national number), SignName, TemplateCode,
    TemplateParam (JSON of the parameters, string values), OutId (our idempotency key),
    Format=JSON, Version=2017-05-25, RegionId, SignatureMethod=HMAC-SHA1, SignatureVersion=1.0,
    Timestamp (UTC ISO 8601), SignatureNonce (fresh each request), Signature.

Signature = base64(HMAC-SHA1(secret + "&", "POST&%2F&" + percent(sorted, percent-encoded
query))), Aliyun's RPC signature. Options: endpoint, access_key_id, sign_name (else the message's
signature), region_id, timeout (seconds, short: a worker must not hang on a slow gateway),
free_text_template_code (a registered "${content}" template for one-off texts that have no
template code of their own). Secret: the access key secret.

The answer {"Code": "OK", "BizId": …, "RequestId": …} is "sent" with BizId as the provider's id.
Error codes map to outcomes (ERROR_OUTCOMES); every non-OK result carries a readable reason.
A time-out after the request went out leaves its fate unknown; the provider then asks the
gateway (QuerySendDetails by OutId) at once, and only a message the gateway does not have is
"retry" — so a slow answer never becomes a second SMS. When even that question gets no answer,
`send` raises SendInterrupted: the outbox then keeps the batch "sending" and asks again later.

`lookup` is QuerySendDetails with OutId, PhoneNumber and SendDate (today, then yesterday, China
time): the gateway answers SmsSendDetailDTOs with SendStatus 1 waiting / 2 failed / 3 delivered.

Callbacks are JSON POSTs in Aliyun's shapes — SmsReport (delivery reports: a list of
{phone_number, send_time, report_time, success, err_code, err_msg, biz_id, out_id}) and SmsUp
(replies: a list of {phone_number, content, send_time, sequence_id, sign_name, dest_code}) —
signed with X-DealerCRM-Timestamp and X-DealerCRM-Signature = hex HMAC-SHA256(secret,
timestamp + "." + body), refused when wrong or older than five minutes. One URL may take both
kinds: parse_receipts reads the report items, parse_inbound the reply items.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import urllib.parse
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .base import InboundMessage, Outcome, OutgoingMessage, Receipt, SendResult, WebhookRejected
from .configuration import BaseProvider, verify_signed_callback

DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
API_VERSION = "2017-05-25"
# The gateway's clock and its report times are China Standard Time, whatever the dealer's zone.
GATEWAY_TZ = ZoneInfo("Asia/Shanghai")

# Gateway error code → (outcome, what it means, in words for the sender).
ERROR_OUTCOMES: dict[str, tuple[str, Any]] = {
    "isv.MOBILE_NUMBER_ILLEGAL": (
        Outcome.UNDELIVERABLE,
        gettext_lazy("The number cannot receive SMS (not a valid mobile number, or a landline)."),
    ),
    "isv.LANDLINE_NOT_SUPPORTED": (
        Outcome.UNDELIVERABLE,
        gettext_lazy("The number is a landline and cannot receive SMS."),
    ),
    "isv.MOBILE_COUNT_OVER_LIMIT": (
        Outcome.FAILED,
        gettext_lazy("Too many numbers in one request."),
    ),
    "isv.BUSINESS_LIMIT_CONTROL": (
        Outcome.RETRY,
        gettext_lazy("The gateway limits how many texts one number gets; tried again later."),
    ),
    "isv.DAY_LIMIT_CONTROL": (
        Outcome.RETRY,
        gettext_lazy("The account's daily sending limit is reached; tried again later."),
    ),
    "Throttling": (
        Outcome.RETRY,
        gettext_lazy("The gateway is throttling requests; tried again later."),
    ),
    "Throttling.User": (
        Outcome.RETRY,
        gettext_lazy("The gateway is throttling requests; tried again later."),
    ),
    "Throttling.Api": (
        Outcome.RETRY,
        gettext_lazy("The gateway is throttling requests; tried again later."),
    ),
    "ServiceUnavailable": (
        Outcome.RETRY,
        gettext_lazy("The gateway is unavailable; tried again later."),
    ),
    "InternalError": (
        Outcome.RETRY,
        gettext_lazy("The gateway had an internal error; tried again later."),
    ),
    "isp.SYSTEM_ERROR": (
        Outcome.RETRY,
        gettext_lazy("The gateway had an internal error; tried again later."),
    ),
    "SignatureNonceUsed": (
        Outcome.RETRY,
        gettext_lazy("The request was seen as a replay; tried again."),
    ),
    "isv.SMS_SIGNATURE_ILLEGAL": (
        Outcome.FAILED,
        gettext_lazy("The SMS signature is not approved at the gateway."),
    ),
    "isv.SMS_TEMPLATE_ILLEGAL": (
        Outcome.FAILED,
        gettext_lazy("The template code is not approved at the gateway."),
    ),
    "isv.TEMPLATE_MISSING_PARAMETERS": (
        Outcome.FAILED,
        gettext_lazy("The gateway's template needs a parameter that was not given."),
    ),
    "isv.INVALID_JSON_PARAM": (
        Outcome.FAILED,
        gettext_lazy("The template parameters were refused."),
    ),
    "isv.PARAM_LENGTH_LIMIT": (Outcome.FAILED, gettext_lazy("A template parameter is too long.")),
    "isv.BLACK_KEY_CONTROL_LIMIT": (
        Outcome.FAILED,
        gettext_lazy("The text contains words the gateway does not allow."),
    ),
    "isv.AMOUNT_NOT_ENOUGH": (Outcome.FAILED, gettext_lazy("The SMS account has no credit left.")),
    "isv.OUT_OF_SERVICE": (Outcome.FAILED, gettext_lazy("The SMS account is suspended.")),
    "isv.ACCOUNT_NOT_EXISTS": (Outcome.FAILED, gettext_lazy("The SMS account does not exist.")),
    "isv.ACCOUNT_ABNORMAL": (Outcome.FAILED, gettext_lazy("The SMS account is blocked.")),
}

# Errors about our credentials: every message of the batch would get the same answer, so the
# batch stops at the first one instead of repeating a refused request hundreds of times.
AUTH_ERRORS = frozenset(
    {
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidTimeStamp.Expired",
        "isp.RAM_PERMISSION_DENY",
        "Forbidden.RAM",
        "isv.AMOUNT_NOT_ENOUGH",
        "isv.OUT_OF_SERVICE",
        "isv.ACCOUNT_NOT_EXISTS",
        "isv.ACCOUNT_ABNORMAL",
    }
)


def percent_encode(value: str) -> str:
    """Aliyun's POP encoding: RFC 3986 unreserved characters kept, the rest %XX (space → %20)."""
    return urllib.parse.quote(value, safe="-_.~")


def sign(params: dict[str, str], secret: str, method: str = "POST") -> str:
    """Aliyun's RPC request signature over every parameter but Signature itself."""
    canonical = "&".join(
        f"{percent_encode(key)}={percent_encode(params[key])}"
        for key in sorted(params)
        if key != "Signature"
    )
    string_to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def national_number(e164: str) -> str:
    """What the gateway takes in PhoneNumbers: 13812345678 for China, 00<cc><n> abroad."""
    number = e164.strip().replace(" ", "")
    if number.startswith("+86"):
        return number[3:]
    if number.startswith("+"):
        return "00" + number[1:]
    return number


def e164_from_gateway(number: str) -> str:
    number = number.strip()
    if number.startswith("+"):
        return number
    if number.startswith("00"):
        return "+" + number[2:]
    if number.startswith("86") and len(number) == 13:
        return "+" + number
    return "+86" + number


class SendInterrupted(RuntimeError):  # noqa: N818 — reads as what happened
    """A message's fate is unknown and the gateway cannot be asked: the batch stops, unknown."""


class _GatewayDown(Exception):
    """The gateway cannot be reached or did not answer: stop the batch here."""


class SmsGatewayProvider(BaseProvider):
    kind = "sms_gateway"
    supports_lookup = True

    # --- requests -----------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self.settings.option("endpoint", DEFAULT_ENDPOINT)

    @property
    def timeout(self) -> float:
        return float(self.settings.option("timeout", 5.0))

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 3.0)))

    def _signed(self, action: str, fields: dict[str, str]) -> dict[str, str]:
        params = {
            "AccessKeyId": str(self.settings.option("access_key_id", "")),
            "Action": action,
            "Format": "JSON",
            "Version": API_VERSION,
            "RegionId": str(self.settings.option("region_id", "cn-hangzhou")),
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": uuid.uuid4().hex,
            "Timestamp": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **fields,
        }
        params["Signature"] = sign(params, self.settings.secret)
        return params

    def _post(self, client: httpx.Client, action: str, fields: dict[str, str]) -> tuple[int, dict]:
        response = client.post(self.endpoint, data=self._signed(action, fields))
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        return response.status_code, answer

    def _missing_settings(self, messages: list[OutgoingMessage]) -> str:
        missing = [name for name in ("access_key_id",) if not self.settings.option(name)]
        if not self.settings.secret:
            missing.append("secret")
        if not self.settings.option("sign_name") and not all(m.signature for m in messages):
            missing.append("sign_name")
        if missing:
            return _("The SMS gateway is not configured: %(missing)s missing.") % {
                "missing": ", ".join(missing)
            }
        return ""

    # --- sending ------------------------------------------------------------------------------

    def send(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        if not messages:
            return []
        problem = self._missing_settings(messages)
        if problem:
            return [_result(m, Outcome.FAILED, problem) for m in messages]
        results: list[SendResult] = []
        with self._client() as client:
            for index, message in enumerate(messages):
                try:
                    result = self._send_one(client, message)
                except _GatewayDown as down:
                    results.extend(_result(m, Outcome.RETRY, str(down)) for m in messages[index:])
                    break
                except _AuthError as refused:
                    results.append(_result(message, Outcome.FAILED, str(refused)))
                    results.extend(
                        _result(m, Outcome.FAILED, str(refused)) for m in messages[index + 1 :]
                    )
                    break
                results.append(result)
        return results

    def _send_fields(self, message: OutgoingMessage) -> dict[str, str] | str:
        template_code = message.template_code
        params = dict(message.params)
        if not template_code:
            template_code = self.settings.option("free_text_template_code", "")
            params = {"content": message.body}
        if not template_code:
            return _(
                "No gateway template code for this text: give the template its code, or set a "
                "free-text template code for the SMS provider."
            )
        return {
            "PhoneNumbers": national_number(message.to_address),
            "SignName": self.settings.option("sign_name", message.signature),
            "TemplateCode": template_code,
            # The gateway accepts string values only.
            "TemplateParam": json.dumps(
                {k: "" if v is None else str(v) for k, v in params.items()},
                ensure_ascii=False,
                separators=(",", ":"),
            ),
            "OutId": message.idempotency_key,
        }

    def _send_one(self, client: httpx.Client, message: OutgoingMessage) -> SendResult:
        fields = self._send_fields(message)
        if isinstance(fields, str):
            return _result(message, Outcome.FAILED, fields)
        try:
            status, answer = self._post(client, "SendSms", fields)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Nothing reached the gateway: safe to try again later.
            raise _GatewayDown(
                _("Could not reach the SMS gateway (%(error)s); tried again later.")
                % {"error": _describe(exc)}
            ) from exc
        except httpx.TransportError as exc:
            # The request may have been taken; ask before calling it anything.
            return self._after_unknown_fate(client, message, exc)
        code = str(answer.get("Code", ""))
        if status >= 500:
            raise _GatewayDown(
                _("The SMS gateway answered HTTP %(status)s (%(code)s); tried again later.")
                % {"status": status, "code": code or "-"}
            )
        if code == "OK":
            return SendResult(
                message_id=message.message_id,
                outcome=Outcome.SENT,
                provider_message_id=str(answer.get("BizId", "")),
            )
        if not code:
            return self._after_unknown_fate(client, message, None, status=status)
        reason = _reason(code, str(answer.get("Message", "")))
        if code in AUTH_ERRORS:
            raise _AuthError(reason)
        outcome = ERROR_OUTCOMES.get(code, (Outcome.FAILED, None))[0]
        if code.startswith("Throttling"):
            outcome = Outcome.RETRY
        return _result(message, outcome, reason)

    def _after_unknown_fate(
        self,
        client: httpx.Client,
        message: OutgoingMessage,
        exc: Exception | None,
        *,
        status: int | None = None,
    ) -> SendResult:
        what = (
            _("no answer from the SMS gateway (%(error)s)") % {"error": _describe(exc)}
            if exc is not None
            else _("an answer the SMS gateway should not give (HTTP %(status)s)")
            % {"status": status}
        )
        try:
            known = self._query(client, message)
        except (httpx.HTTPError, _GatewayDown) as lookup_error:
            # Neither "sent" nor "retry" would be true. Raising tells the outbox the batch's
            # fate is unknown: it keeps the rows "sending" and asks (lookup) before any resend.
            raise SendInterrupted(
                _(
                    "After %(what)s, the gateway could not be asked whether it took the message; "
                    "it is asked again before any new attempt."
                )
                % {"what": what}
            ) from lookup_error
        if known is not None:
            return known
        raise _GatewayDown(
            _("After %(what)s, the gateway says it does not have the message; tried again later.")
            % {"what": what}
        )

    # --- lookup -------------------------------------------------------------------------------

    def lookup(self, message: OutgoingMessage) -> SendResult | None:
        """What the gateway knows of the message (by OutId); None when it never got it.

        Raises httpx.HTTPError (or RuntimeError) when the gateway cannot be asked: "unknown" is
        not "never got it", and the caller must not send again on that.
        """
        with self._client() as client:
            try:
                return self._query(client, message)
            except _GatewayDown as down:
                raise RuntimeError(str(down)) from down

    def _query(self, client: httpx.Client, message: OutgoingMessage) -> SendResult | None:
        today = timezone.now().astimezone(GATEWAY_TZ).date()
        for day in (today, today - datetime.timedelta(days=1)):
            status, answer = self._post(
                client,
                "QuerySendDetails",
                {
                    "OutId": message.idempotency_key,
                    "PhoneNumber": national_number(message.to_address),
                    "SendDate": day.strftime("%Y%m%d"),
                    "PageSize": "10",
                    "CurrentPage": "1",
                },
            )
            if status >= 500 or answer.get("Code") != "OK":
                raise _GatewayDown(
                    _reason(str(answer.get("Code", status)), str(answer.get("Message", "")))
                )
            details = (answer.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
            for detail in details:
                if detail.get("OutId") == message.idempotency_key:
                    return _from_detail(message, detail)
        return None

    # --- callbacks ----------------------------------------------------------------------------

    def verify_webhook(self, request: HttpRequest) -> None:
        verify_signed_callback(request, self.settings.secret)

    def parse_receipts(self, request: HttpRequest) -> list[Receipt]:
        receipts = []
        for item in _items(request):
            if "biz_id" not in item and "out_id" not in item:
                continue
            delivered = _truthy(item.get("success"))
            err_code = str(item.get("err_code") or "")
            biz_id = str(item.get("biz_id") or "")
            out_id = str(item.get("out_id") or "")
            reason = ""
            if not delivered:
                reason = _("Not delivered: %(code)s %(message)s") % {
                    "code": err_code,
                    "message": item.get("err_msg") or "",
                }
            receipts.append(
                Receipt(
                    event_key=f"report:{biz_id or out_id}:{'ok' if delivered else err_code or 'failed'}",
                    provider_message_id=biz_id,
                    idempotency_key=out_id,
                    delivered=delivered,
                    reason=reason.strip()[:300],
                    at=_gateway_time(item.get("report_time") or item.get("send_time")),
                )
            )
        return receipts

    def parse_inbound(self, request: HttpRequest) -> list[InboundMessage]:
        replies = []
        for item in _items(request):
            if "content" not in item or not item.get("phone_number"):
                continue
            phone = e164_from_gateway(str(item["phone_number"]))
            sequence = str(item.get("sequence_id") or "")
            at = _gateway_time(item.get("send_time"))
            key = (
                sequence
                or hashlib.sha256(
                    f"{phone}|{item.get('send_time')}|{item.get('content')}".encode()
                ).hexdigest()
            )
            replies.append(
                InboundMessage(
                    event_key=f"up:{key}",
                    channel="sms",
                    from_address=phone,
                    body=str(item.get("content") or ""),
                    at=at,
                    extra={
                        "sign_name": item.get("sign_name", ""),
                        "dest_code": item.get("dest_code", ""),
                    },
                )
            )
        return replies


class _AuthError(Exception):
    """The gateway refused our credentials or account."""


def _result(message: OutgoingMessage, outcome: str, reason: str) -> SendResult:
    return SendResult(message_id=message.message_id, outcome=outcome, reason=reason[:300])


def _reason(code: str, gateway_message: str) -> str:
    known = ERROR_OUTCOMES.get(code)
    meaning = str(known[1]) if known else _("The SMS gateway refused the message.")
    detail = f"{code}: {gateway_message}" if gateway_message else code
    return f"{meaning} ({detail})"


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    return str(exc) or exc.__class__.__name__


def _from_detail(message: OutgoingMessage, detail: dict[str, Any]) -> SendResult:
    biz_id = str(detail.get("BizId", ""))
    status = int(detail.get("SendStatus") or 1)
    if status == 3:
        return SendResult(message.message_id, Outcome.DELIVERED, provider_message_id=biz_id)
    if status == 2:
        return SendResult(
            message.message_id,
            Outcome.UNDELIVERABLE,
            provider_message_id=biz_id,
            reason=(_("Not delivered: %(code)s") % {"code": detail.get("ErrCode", "")})[:300],
        )
    return SendResult(message.message_id, Outcome.SENT, provider_message_id=biz_id)


def _items(request: HttpRequest) -> list[dict[str, Any]]:
    try:
        payload = json.loads(request.body or b"[]")
    except ValueError:
        raise WebhookRejected(_("The callback's body is not JSON.")) from None
    if isinstance(payload, dict):
        payload = [payload]
    if not isinstance(payload, list):
        return []
    return [item for item in payload if isinstance(item, dict)]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _gateway_time(value: Any) -> datetime.datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return parsed.replace(tzinfo=GATEWAY_TZ)
