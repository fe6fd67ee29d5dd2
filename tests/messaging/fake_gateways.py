"""Small REAL servers standing in for the outside world in messaging tests (no mocks).

Each fake is an `http.server.ThreadingHTTPServer` on 127.0.0.1, port 0 (the OS picks a free
one), serving from a daemon thread; the pytest fixtures in tests/messaging/conftest.py start one
per test and stop it afterwards. Fixture API, all plain attributes:

`sms_gateway` — FakeSmsGateway, shaped like Aliyun dysms (RPC style, form-encoded POST):
    gateway.url                   endpoint to put in the provider's options ("endpoint")
    gateway.access_key_id         "AccessKeyId" it accepts (options "access_key_id")
    gateway.secret                access key secret (the provider config's secret)
    gateway.sign_name             signature name it accepts (options "sign_name")
    gateway.options()             {"endpoint", "access_key_id", "sign_name", "timeout"} ready to use
    gateway.fail_numbers          {national_number: error_code}, e.g. {"13800000001":
                                  "isv.BUSINESS_LIMIT_CONTROL"}; numbers that are not 11-digit
                                  mobiles (landlines) answer isv.MOBILE_NUMBER_ILLEGAL anyway
    gateway.http_status           answer every request with this HTTP status (e.g. 503); None = normal
    gateway.query_status          the same for QuerySendDetails only (the lookup is down)
    gateway.send_delay            seconds SendSms waits AFTER taking the message and before
                                  answering (provokes a client time-out where the gateway did take
                                  the message: the case lookup() must recover)
    gateway.drop_sends            True: SendSms waits send_delay WITHOUT taking the message
    gateway.requests              every request: list of dicts of its form fields (all actions)
    gateway.requests_for(out_id)  SendSms requests that carried this OutId (list; len() counts)
    gateway.sent                  {out_id: {"BizId", "PhoneNumbers", "TemplateCode",
                                  "TemplateParam", "SignName"}} — messages it took
    gateway.bad_signatures        how many requests failed the signature check
QuerySendDetails (our lookup): form fields Action=QuerySendDetails, OutId, PhoneNumber,
SendDate (yyyyMMdd) → {"Code":"OK","TotalCount":n,"SmsSendDetailDTOs":{"SmsSendDetailDTO":
[{"OutId","BizId","PhoneNum","SendStatus":3,"ErrCode":"DELIVERED","Content", ...}]}}.

`wechat_api` — FakeWeChatApi, shaped like the official-account API:
    api.url                       base URL (options "api_base")
    api.appid / api.secret        the credentials it accepts (options "appid"; config secret)
    api.options()                 {"api_base", "appid", "timeout"}
    api.token_requests            how many /cgi-bin/token calls it answered with a token
    api.sends                     template messages it took: list of the JSON bodies
    api.blocked_openids           {openid: errcode}, e.g. {"o-gone": 43004}
    api.expire_tokens()           make every token issued so far answer 42001 (expired)
    api.fail_next_sends           list of errcodes to answer for the next sends, one each
                                  (e.g. [45009] for the rate limit), then normal again
    api.expires_in                seconds a new token is said to last (default 7200)

`free_port()`: a port of 127.0.0.1 nothing listens on (for "server unreachable" tests).

Helpers for webhook tests: `sign_callback(secret, body, timestamp=None)` gives the headers
X-DealerCRM-Timestamp / X-DealerCRM-Signature a signed delivery-report call carries;
`wechat_signature(token, timestamp, nonce)` is WeChat's server-check signature.

The signature checks here are written independently of the providers' code on purpose: a
provider that signs wrongly is refused by the fake, as by the real gateway.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # noqa: ANN001
        # A client that gave up (time-out test) leaves a broken pipe behind: not a failure.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a provider's httpx.Client uses
    # Answer in one segment: headers and body written apart meet the client's delayed ACK and
    # cost ~40 ms a request on loopback.
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002, ANN001
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):  # noqa: N802
        self.server.fake.handle(self, "GET", self._body())  # type: ignore[attr-defined]

    def do_POST(self):  # noqa: N802
        self.server.fake.handle(self, "POST", self._body())  # type: ignore[attr-defined]


class FakeServer:
    """A fake HTTP API on 127.0.0.1 in a thread. Subclasses implement `route`."""

    def __init__(self) -> None:
        self._server = _QuietServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._stopping = threading.Event()
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a delay
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def handle(self, handler: _Handler, method: str, body: bytes) -> None:
        parsed = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        try:
            status, payload = self.route(method, parsed.path, query, body, handler)
        except _Abort:
            return
        data = json.dumps(payload, ensure_ascii=False).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            pass  # the client timed out and went away

    def route(
        self, method: str, path: str, query: dict[str, str], body: bytes, handler: _Handler
    ) -> tuple[int, Any]:
        raise NotImplementedError


class _Abort(Exception):
    """Close the exchange without an answer."""


# --- SMS gateway (Aliyun dysms style) ---------------------------------------------------------


def _percent_encode(value: str) -> str:
    # Aliyun's POP encoding: RFC 3986 unreserved characters kept, everything else %XX, space %20.
    return urllib.parse.quote(str(value), safe="-_.~")


def aliyun_signature(params: dict[str, str], secret: str, method: str = "POST") -> str:
    """Aliyun's RPC signature (written here independently of the provider's own code)."""
    canonical = "&".join(
        f"{_percent_encode(k)}={_percent_encode(v)}"
        for k, v in sorted(params.items())
        if k != "Signature"
    )
    string_to_sign = f"{method}&{_percent_encode('/')}&{_percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class FakeSmsGateway(FakeServer):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.access_key_id = "LTAI-test-key"
        self.secret = "test-access-key-secret"
        self.sign_name = "极光汽车"
        self.fail_numbers: dict[str, str] = {}
        self.http_status: int | None = None
        self.query_status: int | None = None
        self.send_delay: float = 0.0
        self.drop_sends = False
        self.requests: list[dict[str, str]] = []
        self.sent: dict[str, dict[str, str]] = {}
        self.bad_signatures = 0
        self.seen_nonces: set[str] = set()

    @property
    def url(self) -> str:
        return f"{self.base_url}/"

    def options(self, **overrides: Any) -> dict[str, Any]:
        return {
            "endpoint": self.url,
            "access_key_id": self.access_key_id,
            "sign_name": self.sign_name,
            "timeout": 2.0,
            **overrides,
        }

    def requests_for(self, out_id: str) -> list[dict[str, str]]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.get("Action") == "SendSms" and r.get("OutId") == out_id
            ]

    def route(self, method, path, query, body, handler):  # noqa: ANN001
        params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        if method == "GET":
            params = query
        with self.lock:
            self.requests.append(params)
        request_id = secrets.token_hex(8).upper()
        if self.http_status is not None:
            return self.http_status, {"Code": "ServiceUnavailable", "Message": "fake outage"}
        error = self._check_request(params, method)
        if error:
            return error[0], {"RequestId": request_id, "Code": error[1], "Message": error[2]}
        action = params.get("Action")
        if action == "SendSms":
            return self._send_sms(params, request_id)
        if action == "QuerySendDetails":
            if self.query_status is not None:
                return self.query_status, {"Code": "ServiceUnavailable", "Message": "fake outage"}
            return self._query(params, request_id)
        return 400, {"RequestId": request_id, "Code": "InvalidAction", "Message": "no such action"}

    def _check_request(self, params: dict[str, str], method: str) -> tuple[int, str, str] | None:
        for name in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp", "Action"):
            if not params.get(name):
                return 400, "MissingParameter", f"{name} is mandatory for this action."
        if params["AccessKeyId"] != self.access_key_id:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        if params.get("SignatureMethod") != "HMAC-SHA1" or params.get("SignatureVersion") != "1.0":
            return 400, "InvalidSignatureMethod", "Specified signature method is not supported."
        expected = aliyun_signature(params, self.secret, method)
        if not hmac.compare_digest(expected, params["Signature"]):
            with self.lock:
                self.bad_signatures += 1
            return 400, "SignatureDoesNotMatch", "Specified signature is not matched."
        with self.lock:
            if params["SignatureNonce"] in self.seen_nonces:
                return 400, "SignatureNonceUsed", "Specified signature nonce was used already."
            self.seen_nonces.add(params["SignatureNonce"])
        return None

    def _send_sms(self, params: dict[str, str], request_id: str) -> tuple[int, Any]:
        if self.drop_sends:
            self.sleep(self.send_delay)
            raise _Abort
        if params.get("SignName") != self.sign_name:
            return 200, {
                "RequestId": request_id,
                "Code": "isv.SMS_SIGNATURE_ILLEGAL",
                "Message": "签名不合法(不存在或被拉黑)",
            }
        if not params.get("TemplateCode"):
            return 200, {
                "RequestId": request_id,
                "Code": "isv.SMS_TEMPLATE_ILLEGAL",
                "Message": "模板不合法(不存在或被拉黑)",
            }
        try:
            json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return 200, {
                "RequestId": request_id,
                "Code": "isv.INVALID_JSON_PARAM",
                "Message": "JSON参数不合法，只接受字符串值",
            }
        number = params.get("PhoneNumbers", "")
        code = self.fail_numbers.get(number)
        if code is None and not (len(number) == 11 and number.startswith("1") and number.isdigit()):
            code = "isv.MOBILE_NUMBER_ILLEGAL"
        if code:
            return 200, {
                "RequestId": request_id,
                "Code": code,
                "Message": _ALIYUN_MESSAGES.get(code, "fake error"),
            }
        biz_id = f"{secrets.randbelow(10**12):012d}^0"
        with self.lock:
            self.sent[params.get("OutId", "")] = {
                "BizId": biz_id,
                "PhoneNumbers": number,
                "TemplateCode": params.get("TemplateCode", ""),
                "TemplateParam": params.get("TemplateParam", ""),
                "SignName": params.get("SignName", ""),
            }
        if self.send_delay:
            self.sleep(self.send_delay)
        return 200, {"RequestId": request_id, "Code": "OK", "Message": "OK", "BizId": biz_id}

    def _query(self, params: dict[str, str], request_id: str) -> tuple[int, Any]:
        out_id = params.get("OutId", "")
        with self.lock:
            taken = self.sent.get(out_id)
        details = []
        if taken:
            details.append(
                {
                    "OutId": out_id,
                    "BizId": taken["BizId"],
                    "PhoneNum": taken["PhoneNumbers"],
                    "SendStatus": 3,
                    "ErrCode": "DELIVERED",
                    "TemplateCode": taken["TemplateCode"],
                    "Content": "",
                    "SendDate": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "ReceiveDate": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
        return 200, {
            "RequestId": request_id,
            "Code": "OK",
            "Message": "OK",
            "TotalCount": len(details),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": details},
        }


_ALIYUN_MESSAGES = {
    "isv.MOBILE_NUMBER_ILLEGAL": "非法手机号",
    "isv.BUSINESS_LIMIT_CONTROL": "触发号码天级流控Permits:10",
    "Throttling.User": "Request was denied due to user flow control.",
    "isv.AMOUNT_NOT_ENOUGH": "账户余额不足",
    "isv.BLACK_KEY_CONTROL_LIMIT": "变量中传入疑似违规信息",
    "isv.DAY_LIMIT_CONTROL": "触发日发送限额",
}


def sign_callback(secret: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """Headers of a signed delivery-report / up-link call (for Django's test client: pass
    `headers=sign_callback(...)`)."""
    if isinstance(body, str):
        body = body.encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-DealerCRM-Timestamp": ts, "X-DealerCRM-Signature": signature}


# --- WeChat official-account API -------------------------------------------------------------


def wechat_signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's server-check signature: sha1 of the sorted, concatenated token/timestamp/nonce."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()  # noqa: S324


class FakeWeChatApi(FakeServer):
    """See the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        self.appid = "wx-test-appid"
        self.secret = "wx-test-secret"
        self.expires_in = 7200
        self.token_requests = 0
        self.sends: list[dict[str, Any]] = []
        self.blocked_openids: dict[str, int] = {}
        self.fail_next_sends: list[int] = []
        self._valid_tokens: set[str] = set()
        self._expired_tokens: set[str] = set()
        self._next_msgid = 200_000_000

    @property
    def url(self) -> str:
        return self.base_url

    def options(self, **overrides: Any) -> dict[str, Any]:
        return {"api_base": self.url, "appid": self.appid, "timeout": 2.0, **overrides}

    def expire_tokens(self) -> None:
        with self.lock:
            self._expired_tokens |= self._valid_tokens
            self._valid_tokens = set()

    def route(self, method, path, query, body, handler):  # noqa: ANN001
        if path == "/cgi-bin/token" and method == "GET":
            return 200, self._token(query)
        if path == "/cgi-bin/message/template/send" and method == "POST":
            return 200, self._template_send(query, body)
        return 404, {"errcode": 404, "errmsg": "not found"}

    def _token(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("grant_type") != "client_credential":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        if query.get("appid") != self.appid:
            return {"errcode": 40013, "errmsg": "invalid appid"}
        if query.get("secret") != self.secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.token_requests += 1
            self._valid_tokens.add(token)
        return {"access_token": token, "expires_in": self.expires_in}

    def _template_send(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        token = query.get("access_token", "")
        with self.lock:
            if token in self._expired_tokens:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if token not in self._valid_tokens:
                return {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            if self.fail_next_sends:
                code = self.fail_next_sends.pop(0)
                return {"errcode": code, "errmsg": f"fake error {code}"}
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return {"errcode": 47001, "errmsg": "data format error"}
        openid = data.get("touser", "")
        if not openid:
            return {"errcode": 40003, "errmsg": "invalid openid"}
        if openid in self.blocked_openids:
            code = self.blocked_openids[openid]
            return {
                "errcode": code,
                "errmsg": "require subscribe" if code == 43004 else "invalid openid",
            }
        if not data.get("template_id"):
            return {"errcode": 40037, "errmsg": "invalid template_id"}
        with self.lock:
            self._next_msgid += 1
            msgid = self._next_msgid
            self.sends.append(data)
        return {"errcode": 0, "errmsg": "ok", "msgid": msgid}
