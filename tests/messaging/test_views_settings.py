"""The messaging settings pages: the dealer's quiet hours, cap and signature, and one provider a
channel with a secret that is never shown back."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.messaging.models import MessagingPolicy, ProviderConfig
from dealercrm.messaging.secrets import decrypt_secret

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-AccessKey-Secret-xyz"


@pytest.fixture
def admin(make_user):
    return make_user(Role.DEALER_ADMIN)


def _policy_form(**overrides):
    data = {
        "quiet_start": "22:00",
        "quiet_end": "07:30",
        "quiet_channels": ["sms", "phone", "wechat"],
        "cap_count": "3",
        "cap_days": "14",
        "sms_signature": "【极光浦东】",
    }
    data.update(overrides)
    return data


def _sms_gateway_form(**overrides):
    data = {
        "channel": "sms",
        "kind": "sms_gateway",
        "sms_gateway__endpoint": "https://dysmsapi.example.com/",
        "sms_gateway__access_key_id": "LTAI-test",
        "sms_gateway__sign_name": "极光浦东",
        "secret": SECRET,
    }
    data.update(overrides)
    return data


def test_only_roles_with_the_permission_open_the_settings(client_for, consultant, admin, manager):
    assert client_for(consultant).get(reverse("messaging:settings")).status_code == 403
    assert client_for(consultant).get(reverse("messaging:provider")).status_code == 403
    assert client_for(admin).get(reverse("messaging:settings")).status_code == 200
    assert client_for(manager).get(reverse("messaging:provider")).status_code == 200


def test_the_page_shows_the_default_policy_and_providers(client_for, admin):
    html = client_for(admin).get(reverse("messaging:settings")).content.decode()

    assert 'value="21:00"' in html and 'value="08:00"' in html
    for channel in ("sms", "email", "wechat", "phone", "mail"):
        assert f'data-channel="{channel}"' in html


def test_saving_the_policy_changes_it_and_audits_it(client_for, admin, dealer):
    response = client_for(admin).post(reverse("messaging:settings"), _policy_form())

    assert response.status_code == 302
    policy = MessagingPolicy.objects.get(dealer=dealer)
    assert (policy.quiet_start, policy.quiet_end) == (datetime.time(22, 0), datetime.time(7, 30))
    assert policy.quiet_channels == "sms,phone,wechat"
    assert (policy.cap_count, policy.cap_days) == (3, 14)
    assert policy.sms_signature == "极光浦东"
    assert AuditEvent.objects.filter(action="change", target_type="messaging.messagingpolicy")


def test_a_bad_policy_is_shown_on_its_fields(client_for, admin, dealer):
    response = client_for(admin).post(reverse("messaging:settings"), _policy_form(cap_days="0"))

    assert response.status_code == 200
    assert "cap_days" in response.context["form"].errors
    assert MessagingPolicy.objects.get(dealer=dealer).cap_days == 30


def test_setting_a_provider_stores_the_secret_encrypted_and_never_shows_it(
    client_for, admin, dealer
):
    client = client_for(admin)

    response = client.post(reverse("messaging:provider"), _sms_gateway_form())

    assert response.status_code == 302
    config = ProviderConfig.objects.get(dealer=dealer, channel="sms")
    assert config.kind == "sms_gateway"
    assert config.options == {
        "endpoint": "https://dysmsapi.example.com/",
        "access_key_id": "LTAI-test",
        "sign_name": "极光浦东",
    }
    assert SECRET not in config.secret_encrypted
    assert decrypt_secret(config.secret_encrypted) == SECRET
    for url in (reverse("messaging:settings"), reverse("messaging:provider") + "?channel=sms"):
        html = client.get(url).content.decode()
        assert SECRET not in html
        assert 'data-secret="set"' in html
    # Nor does the audit log hold it.
    assert all(SECRET not in str(e.changes) for e in AuditEvent.objects.all())


def test_a_blank_secret_keeps_the_stored_one(client_for, admin, dealer):
    client = client_for(admin)
    client.post(reverse("messaging:provider"), _sms_gateway_form())

    client.post(
        reverse("messaging:provider"),
        _sms_gateway_form(secret="", sms_gateway__access_key_id="LTAI-new"),
    )

    config = ProviderConfig.objects.get(dealer=dealer, channel="sms")
    assert config.options["access_key_id"] == "LTAI-new"
    assert decrypt_secret(config.secret_encrypted) == SECRET


def test_the_webhook_addresses_to_give_the_gateway_are_shown(client_for, admin, dealer, settings):
    settings.SITE_URL = "https://crm.example.cn"
    client = client_for(admin)
    client.post(reverse("messaging:provider"), _sms_gateway_form())
    key = ProviderConfig.objects.get(dealer=dealer, channel="sms").webhook_key

    html = client.get(reverse("messaging:settings")).content.decode()

    assert f"https://crm.example.cn/m/hooks/{key}/receipts" in html
    assert f"https://crm.example.cn/m/hooks/{key}/inbound" in html


def test_a_kind_that_cannot_carry_the_channel_is_refused(client_for, admin, dealer):
    response = client_for(admin).post(
        reverse("messaging:provider"), {"channel": "sms", "kind": "smtp"}
    )

    assert response.status_code == 200
    assert "kind" in response.context["form"].errors
    assert not ProviderConfig.objects.exists()


def test_the_form_offers_each_kinds_settings(client_for, admin):
    html = client_for(admin).get(reverse("messaging:provider") + "?channel=email").content.decode()

    assert 'name="smtp__host"' in html and 'name="smtp__port"' in html
    assert 'data-kind="django_email"' in html
    assert 'name="sms_gateway__endpoint"' not in html


def test_a_system_administrator_picks_the_dealer(client_for, make_user, dealer, other_dealer):
    client = client_for(make_user(Role.SYSTEM_ADMIN))

    html = client.get(reverse("messaging:settings"), {"dealer": other_dealer.pk}).content.decode()
    assert other_dealer.name in html
    response = client.post(
        reverse("messaging:settings"), _policy_form(dealer=other_dealer.pk, cap_count="2")
    )

    assert response.status_code == 302
    assert MessagingPolicy.objects.get(dealer=other_dealer).cap_count == 2
    assert not MessagingPolicy.objects.filter(dealer=dealer, cap_count=2).exists()


def test_a_dealer_user_cannot_reach_another_dealers_settings(
    client_for, admin, dealer, other_dealer
):
    client = client_for(admin)

    client.post(reverse("messaging:settings"), _policy_form(dealer=other_dealer.pk, cap_count="2"))

    # The dealer parameter is ignored: a dealer's staff act for their own dealer only.
    assert not MessagingPolicy.objects.filter(dealer=other_dealer).exists()
    assert MessagingPolicy.objects.get(dealer=dealer).cap_count == 2
