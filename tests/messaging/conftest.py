"""Fixtures of the messaging tests: real local servers for the providers to talk to.

- `sms_gateway`: a FakeSmsGateway (tests/messaging/fake_gateways.py, whose docstring lists its
  attributes): `sms_gateway.url`, `.secret`, `.options()`, `.fail_numbers = {...}`,
  `.requests_for(out_id)`, `.sent`, `.send_delay`, `.http_status`.
- `wechat_api`: a FakeWeChatApi: `.url`, `.appid`, `.secret`, `.options()`, `.token_requests`,
  `.sends`, `.blocked_openids`, `.expire_tokens()`, `.fail_next_sends`.
- `smtp_server`: an aiosmtpd server on 127.0.0.1 (a real SMTP conversation): `.host`, `.port`,
  `.options()` (provider options), `.messages` (list of ArrivedMail: envelope sender,
  recipients, parsed `email.message.EmailMessage`), `.refuse(address, reply="550 …")` to refuse
  a recipient at RCPT TO, `.username` / `.password` it accepts for AUTH (optional: a client
  that does not log in is served too), `.logins` (successful AUTHs).
- `make_outgoing(**fields)`: an OutgoingMessage (what the outbox hands a provider) with
  sensible defaults; every call a fresh message id and idempotency key.
- `sms_config` / `wechat_config` / `smtp_config`: a ProviderConfig of `dealer` pointing at the
  fake, with its secret stored encrypted, as an admin would set it.
"""

from __future__ import annotations

import email
import email.policy
import itertools
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from django.core.cache import cache

from dealercrm.messaging.providers.base import OutgoingMessage
from dealercrm.messaging.secrets import encrypt_secret
from tests.messaging.factories import ProviderConfigFactory
from tests.messaging.fake_gateways import FakeSmsGateway, FakeWeChatApi, free_port


@pytest.fixture
def sms_gateway():
    gateway = FakeSmsGateway().start()
    yield gateway
    gateway.stop()


@pytest.fixture
def wechat_api():
    api = FakeWeChatApi().start()
    # Access tokens are cached in Django's cache: a token of another test's fake is no use here.
    cache.clear()
    yield api
    api.stop()
    cache.clear()


_outgoing_ids = itertools.count(1)


@pytest.fixture
def make_outgoing():
    def _make(**fields: Any) -> OutgoingMessage:
        n = next(_outgoing_ids)
        values: dict[str, Any] = {
            "message_id": n,
            "dealer_id": 1,
            "idempotency_key": f"manual:test-{n}:1:sms",
            "channel": "sms",
            "to_address": "+8613812345678",
            "subject": "",
            "body": "【极光汽车】张先生您好，您的爱车该保养了。",
            "params": {"salutation": "张先生"},
            "template_code": "SMS_270001",
            "customer_name": "张三",
        }
        values.update(fields)
        return OutgoingMessage(**values)

    return _make


@dataclass
class ArrivedMail:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class _SmtpHandler:
    messages: list[ArrivedMail] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802, ANN001
        reply = self.refused.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        self.messages.append(
            ArrivedMail(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                message=parsed,  # type: ignore[arg-type]
                raw=raw,
            )
        )
        return "250 Message accepted for delivery"


class LocalSmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what arrives."""

    username = "crm-mailer"
    password = "smtp-Pass-123"

    def __init__(self) -> None:
        self.handler = _SmtpHandler()
        self.logins = 0
        self.host = "127.0.0.1"
        # aiosmtpd's Controller checks readiness by connecting to its port: it needs a real one.
        self.port = free_port()
        self.controller = Controller(
            self.handler,
            hostname=self.host,
            port=self.port,
            auth_required=False,
            auth_require_tls=False,
            authenticator=self._authenticate,
        )

    def _authenticate(self, server, session, envelope, mechanism, auth_data):  # noqa: ANN001
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        if ok:
            self.logins += 1
        # handled=False: aiosmtpd answers 535 itself for a failed login.
        return AuthResult(success=ok, handled=False)

    @property
    def messages(self) -> list[ArrivedMail]:
        return self.handler.messages

    def refuse(
        self, address: str, reply: str = "550 5.1.1 <{}>: Recipient address rejected: User unknown"
    ) -> None:
        self.handler.refused[address.lower()] = reply.format(address)

    def options(self, **overrides: Any) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "use_tls": False,
            "use_ssl": False,
            "from_email": "service@aurora-pudong.example.cn",
            "from_name": "极光汽车浦东店",
            "timeout": 5,
            **overrides,
        }


@pytest.fixture
def smtp_server():
    server = LocalSmtpServer()
    server.controller.start()
    yield server
    server.controller.stop()


@pytest.fixture
def sms_config(dealer, sms_gateway):
    return ProviderConfigFactory(
        dealer=dealer,
        channel="sms",
        kind="sms_gateway",
        options=sms_gateway.options(),
        secret_encrypted=encrypt_secret(sms_gateway.secret),
    )


@pytest.fixture
def wechat_config(dealer, wechat_api):
    return ProviderConfigFactory(
        dealer=dealer,
        channel="wechat",
        kind="wechat",
        options={**wechat_api.options(), "token": "wx-callback-token"},
        secret_encrypted=encrypt_secret(wechat_api.secret),
    )


@pytest.fixture
def smtp_config(dealer, smtp_server):
    return ProviderConfigFactory(
        dealer=dealer,
        channel="email",
        kind="smtp",
        options=smtp_server.options(username=smtp_server.username),
        secret_encrypted=encrypt_secret(smtp_server.password),
    )
