"""The unsubscribe link of e-mails: a signed token naming (dealer, customer, channel).

The token is made with django.core.signing under its own salt, so it cannot be forged or reused
for anything else, and it carries no personal data in clear beyond two ids. It does not expire:
an unsubscribe link must keep working for as long as the e-mail sits in a mailbox (RFC 8058).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from dealercrm.core.tenancy import dealer_scope
from dealercrm.customers.models import Consent, ConsentChannel, Customer
from dealercrm.customers.services import consent_set

_SALT = "dealercrm.messaging.unsubscribe"
# The source written on the consent row, so anyone reading it knows how it was withdrawn.
UNSUBSCRIBE_SOURCE = "e-mail unsubscribe link"


@dataclass(frozen=True)
class UnsubscribeTarget:
    """Whose consent an unsubscribe token withdraws."""

    dealer_id: int
    customer_id: int
    channel: str


def unsubscribe_token(
    *, dealer_id: int, customer_id: int, channel: str = ConsentChannel.EMAIL
) -> str:
    # A compact list rather than a dict keeps the link short.
    return signing.dumps([dealer_id, customer_id, str(channel)], salt=_SALT, compress=True)


def unsubscribe_url(
    *, dealer_id: int, customer_id: int, channel: str = ConsentChannel.EMAIL
) -> str:
    """The absolute link put in an e-mail's footer and List-Unsubscribe header."""
    token = unsubscribe_token(dealer_id=dealer_id, customer_id=customer_id, channel=channel)
    path = reverse("messaging_public:unsubscribe", kwargs={"token": token})
    return settings.SITE_URL.rstrip("/") + path


def read_unsubscribe_token(token: str) -> UnsubscribeTarget | None:
    """The target of a genuine token, None for anything else (tampered, truncated, made up)."""
    try:
        dealer_id, customer_id, channel = signing.loads(token, salt=_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if channel not in ConsentChannel.values:
        return None
    return UnsubscribeTarget(
        dealer_id=int(dealer_id), customer_id=int(customer_id), channel=channel
    )


def unsubscribe_customer(target: UnsubscribeTarget) -> Customer | None:
    """The customer a token names, read in that dealer's scope (None once deleted)."""
    with dealer_scope(target.dealer_id):
        return Customer.objects.filter(
            pk=target.customer_id, dealer_id=target.dealer_id, is_deleted=False
        ).first()


@transaction.atomic
def unsubscribe_apply(
    *, target: UnsubscribeTarget, request: HttpRequest | None = None
) -> Consent | None:
    """Withdraw the channel's consent at once, recorded with its source. Clicking twice is
    harmless: the second click finds consent already withdrawn and changes nothing."""
    with dealer_scope(target.dealer_id):
        customer = unsubscribe_customer(target)
        if customer is None:
            return None
        current = Consent.objects.filter(
            dealer_id=target.dealer_id, customer_id=customer.pk, channel=target.channel
        ).first()
        if current is not None and not current.granted and current.source == UNSUBSCRIBE_SOURCE:
            return current
        return consent_set(
            actor=None,
            customer=customer,
            channel=target.channel,
            granted=False,
            source=UNSUBSCRIBE_SOURCE,
            request=request,
        )
