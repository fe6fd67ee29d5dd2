"""Care settings: a dealer's switch and settings per rule (validated, audit-logged, only the
changes stored), the pages and the API; the OEM's seasonal checks."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from dealercrm.care.models import CareRuleCode, CareRuleSetting, SeasonalCheck
from dealercrm.care.services.settings import care_rule_setting_update, seasonal_check_save
from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from tests.core.factories import BrandFactory, RegionFactory

pytestmark = pytest.mark.django_db

INSURANCE = CareRuleCode.INSURANCE_RENEWAL


@pytest.fixture
def manager_en(make_user):
    return make_user(Role.DEALER_MANAGER, language="en")


def test_a_rule_is_switched_and_its_changes_stored_and_audited(dealer, manager):
    # When the manager switches insurance renewal off and asks for reminders at 45 and 15 days …
    setting = care_rule_setting_update(
        actor=manager,
        dealer_id=dealer.pk,
        rule=INSURANCE,
        enabled=False,
        config={"offsets": "45, 15", "channel": "sms", "max_attempts": "5"},
    )

    # … then only what differs from the defaults is stored, in its type …
    assert setting.enabled is False
    assert setting.config == {"offsets": [45, 15], "max_attempts": 5}
    # … and the change is in the audit log.
    event = AuditEvent.objects.get(target_type="care.carerulesetting")
    assert event.changes["enabled"] == [True, False]
    assert event.actor == manager


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"offsets": "60, soon"}, "offsets"),
        ({"offsets": ""}, None),  # empty: the default, no error
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 11}, "max_attempts"),
        ({"max_attempts": "three"}, "max_attempts"),
        ({"channel": "pigeon"}, "channel"),
        ({"retry_next_day_at": "25:00"}, "retry_next_day_at"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_settings_are_checked_by_type_and_range(dealer, manager, config, field):
    if field is None:
        care_rule_setting_update(
            actor=manager, dealer_id=dealer.pk, rule=INSURANCE, enabled=True, config=config
        )
        return
    with pytest.raises(ValidationError) as refused:
        care_rule_setting_update(
            actor=manager, dealer_id=dealer.pk, rule=INSURANCE, enabled=True, config=config
        )
    assert field in refused.value.message_dict
    assert not CareRuleSetting.objects.exists()


def test_an_unknown_rule_is_refused(dealer, manager):
    with pytest.raises(ValidationError) as refused:
        care_rule_setting_update(
            actor=manager, dealer_id=dealer.pk, rule="moon_landing", enabled=True, config={}
        )
    assert "rule" in refused.value.message_dict


def test_the_settings_page_lists_the_catalogue_and_switches_a_rule(client_for, manager_en, dealer):
    client = client_for(manager_en)

    page = client.get(reverse("care:settings")).content.decode()
    assert "Insurance renewal" in page
    assert 'id="rule-birthday"' in page

    response = client.post(
        reverse("care:setting_edit", args=[CareRuleCode.BIRTHDAY]),
        {"toggle": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert 'id="rule-birthday"' in response.content.decode()
    assert CareRuleSetting.objects.get(dealer=dealer, rule=CareRuleCode.BIRTHDAY).enabled is False


def test_the_settings_form_saves_or_shows_the_error(client_for, manager_en, dealer):
    client = client_for(manager_en)
    url = reverse("care:setting_edit", args=[INSURANCE])

    form = client.get(url)
    assert form.status_code == 200
    assert 'name="offsets"' in form.content.decode()

    bad = client.post(url, {"enabled": "on", "offsets": "60, x", "max_attempts": "3"})
    assert bad.status_code == 400
    assert "whole numbers separated by commas" in bad.content.decode()

    good = client.post(url, {"enabled": "on", "offsets": "90, 30", "max_attempts": "4"})
    assert good.status_code == 302
    stored = CareRuleSetting.objects.get(dealer=dealer, rule=INSURANCE)
    assert stored.config["offsets"] == [90, 30]
    assert stored.config["max_attempts"] == 4


def test_an_unknown_rule_page_is_404(client_for, manager_en):
    assert client_for(manager_en).get("/care/settings/moon_landing/").status_code == 404


def test_the_rules_api_reads_and_writes_a_rule(client_for, manager_en, dealer):
    client = client_for(manager_en)
    url = f"/api/care/rules/{INSURANCE}"

    read = client.get(url).json()
    assert read["enabled"] is True
    assert read["config"]["max_attempts"] == 3
    assert any(field["name"] == "offsets" for field in read["fields"])

    written = client.put(
        url, {"enabled": False, "config": {"offsets": [30]}}, content_type="application/json"
    )
    assert written.status_code == 200
    assert written.json()["changed"] == {"offsets": [30]}

    refused = client.put(
        url, {"enabled": True, "config": {"offsets": "x"}}, content_type="application/json"
    )
    assert refused.status_code == 422
    assert "offsets" in refused.json()["errors"]


# --- seasonal checks --------------------------------------------------------------------------


@pytest.fixture
def oem_admin(make_user):
    return make_user(Role.OEM_ADMIN, language="en")


def test_a_seasonal_check_month_and_day_are_checked(brand, oem_admin):
    region = RegionFactory(brand=brand)
    with pytest.raises(ValidationError) as refused:
        seasonal_check_save(
            actor=oem_admin,
            brand_id=brand.pk,
            region=region,
            code="winter",
            title="冬季检查",
            season_starts_month=2,
            season_starts_day=30,
        )
    assert "season_starts_day" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        seasonal_check_save(
            actor=oem_admin,
            brand_id=brand.pk,
            region=None,
            code="winter",
            title="冬季检查",
            season_starts_month=13,
            season_starts_day=1,
        )
    assert "season_starts_month" in refused.value.message_dict

    check = seasonal_check_save(
        actor=oem_admin,
        brand_id=brand.pk,
        region=region,
        code="winter",
        title="冬季检查",
        season_starts_month=11,
        season_starts_day=15,
    )
    assert check.region == region


def test_a_region_of_another_brand_is_refused(brand, oem_admin):
    foreign = RegionFactory(brand=BrandFactory(code="other", name="别的品牌"))
    with pytest.raises(ValidationError) as refused:
        seasonal_check_save(
            actor=oem_admin,
            brand_id=brand.pk,
            region=foreign,
            code="rainy",
            title="雨季检查",
            season_starts_month=6,
            season_starts_day=1,
        )
    assert "region" in refused.value.message_dict


def test_the_oem_creates_and_edits_a_brand_wide_check_on_the_pages(client_for, oem_admin, brand):
    client = client_for(oem_admin)

    created = client.post(
        reverse("care:seasonal_check_create"),
        {
            "code": "rainy_season",
            "title": "雨季免费检查",
            "season_starts_month": "6",
            "season_starts_day": "1",
            "remind_days_before": "14",
            "is_active": "on",
        },
    )
    assert created.status_code == 302
    check = SeasonalCheck.objects.get(brand=brand, code="rainy_season")
    assert check.region is None

    bad = client.post(
        reverse("care:seasonal_check_edit", args=[check.pk]),
        {
            "code": "rainy_season",
            "title": "雨季免费检查",
            "season_starts_month": "4",
            "season_starts_day": "31",
            "remind_days_before": "14",
        },
    )
    assert bad.status_code == 400
    assert "Month 4 has no day 31." in bad.content.decode()
    assert "雨季免费检查" in client.get(reverse("care:seasonal_checks")).content.decode()


def test_another_brands_seasonal_check_is_404(client_for, oem_admin):
    theirs = SeasonalCheck.objects.create(
        brand=BrandFactory(code="other", name="别的品牌"),
        code="winter",
        title="冬季",
        season_starts_month=11,
        season_starts_day=1,
    )
    response = client_for(oem_admin).get(reverse("care:seasonal_check_edit", args=[theirs.pk]))
    assert response.status_code == 404
