"""Pages and endpoints anyone may reach: provider webhooks and the e-mail unsubscribe page.

No login here, so each checks its caller its own way:
- webhooks: the unguessable `webhook_key` in the URL finds the dealer's provider configuration
  (unknown → 404), then the provider checks the request's signature and freshness
  (`verify_webhook`; refused → 403 with a short reason). Replays are absorbed by inbound.py.
- unsubscribe: a token signed by us (unsubscribe.py); anything else → a clear page, status 400.

The request carries no dealer scope (no user); each view enters the one dealer's scope it has
proved it acts for.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from dealercrm.core.models import Dealer
from dealercrm.core.tenancy import dealer_scope

from .inbound import inbound_receive, receipts_apply
from .models import ProviderConfig, ProviderKind
from .providers.base import Provider, WebhookRejected
from .unsubscribe import read_unsubscribe_token, unsubscribe_apply, unsubscribe_customer

logger = logging.getLogger(__name__)

# What a provider's parser may raise on a body that is not what it should be: a 400, not a 500.
_MALFORMED = (ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError)


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _config_for_key(webhook_key: str) -> ProviderConfig | None:
    # Finding which dealer the call is for is the one read across dealers here: the key is the
    # proof, and nothing but this row is read before the dealer's own scope is entered.
    with dealer_scope(None):
        return ProviderConfig.objects.unscoped().filter(webhook_key=webhook_key).first()


def _acknowledge(config: ProviderConfig) -> HttpResponse:
    """The answer the gateway counts as "received, do not resend"."""
    if config.kind == ProviderKind.WECHAT:
        return _plain(200, "success")  # WeChat wants exactly this (or an empty body)
    return JsonResponse({"code": 0, "msg": "成功"})  # Aliyun-style gateways


def _hook(
    request: HttpRequest,
    webhook_key: str,
    handle: Callable[[ProviderConfig, Provider, HttpRequest], None],
) -> HttpResponse:
    config = _config_for_key(webhook_key)
    if config is None:
        return _plain(404, "unknown webhook")
    from .providers.registry import provider_for_config

    with dealer_scope(config.dealer_id):
        provider = provider_for_config(config)
        try:
            provider.verify_webhook(request)
        except WebhookRejected as exc:
            return _plain(403, f"rejected: {exc}"[:200])
        if request.method == "GET":
            # WeChat checks a server address by GET with `echostr`, signed like every call.
            echo_for = getattr(provider, "verification_echo", None)
            echo = echo_for(request) if echo_for is not None else None
            return _plain(200, echo) if echo else _plain(405, "POST expected")
        try:
            handle(config, provider, request)
        except WebhookRejected as exc:  # a parser refusing the body (not JSON, wrong shape)
            return _plain(403, f"rejected: {exc}"[:200])
        except _MALFORMED as exc:
            logger.warning("Malformed webhook call for provider config %s: %s", config.pk, exc)
            return _plain(400, "malformed request")
    return _acknowledge(config)


def _apply_receipts(config: ProviderConfig, provider: Provider, request: HttpRequest) -> None:
    receipts_apply(config=config, receipts=provider.parse_receipts(request))


def _apply_inbound(config: ProviderConfig, provider: Provider, request: HttpRequest) -> None:
    inbound_receive(config=config, messages=provider.parse_inbound(request))


def _apply_both(config: ProviderConfig, provider: Provider, request: HttpRequest) -> None:
    _apply_receipts(config, provider, request)
    _apply_inbound(config, provider, request)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def receipts_hook(request: HttpRequest, webhook_key: str) -> HttpResponse:
    """Delivery reports of one provider configuration."""
    return _hook(request, webhook_key, _apply_receipts)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def inbound_hook(request: HttpRequest, webhook_key: str) -> HttpResponse:
    """Customers' replies (SMS up-link, e-mail inbound parse, WeChat messages)."""
    return _hook(request, webhook_key, _apply_inbound)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def events_hook(request: HttpRequest, webhook_key: str) -> HttpResponse:
    """Both kinds at one address, for providers with a single callback URL (WeChat)."""
    return _hook(request, webhook_key, _apply_both)


# csrf_exempt: mail clients send the RFC 8058 one-click POST ("List-Unsubscribe=One-Click")
# without any CSRF token; the signed token in the URL is what authorises the request.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: who is unsubscribing from what, and a button; POST (the button, or a mail client's
    one-click unsubscribe): withdraw the consent at once."""
    target = read_unsubscribe_token(token)
    customer = unsubscribe_customer(target) if target is not None else None
    if target is None or customer is None:
        return render(request, "messaging/public/unsubscribe_invalid.html", status=400)
    dealer = Dealer.objects.only("name").get(pk=target.dealer_id)
    context = {"dealer_name": dealer.name, "token": token}
    if request.method == "POST":
        unsubscribe_apply(target=target, request=request)
        return render(request, "messaging/public/unsubscribe_done.html", context)
    return render(request, "messaging/public/unsubscribe_confirm.html", context)
