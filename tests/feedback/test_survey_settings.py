"""The dealer's survey settings: the service (validation, audit), the page and the API."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.feedback.models import LowScoreAction, SurveyChannel, SurveySettings
from dealercrm.feedback.services.survey_settings import (
    settings_for_dealer,
    survey_settings_update,
)


def test_a_dealer_without_settings_gets_the_defaults(dealer):
    row = settings_for_dealer(dealer.pk)
    assert row.pk is None
    assert (row.service_delay_hours, row.link_valid_days, row.low_nps) == (3, 7, 6)


def test_an_update_saves_only_what_is_given_and_is_audit_logged(dealer, manager):
    # When the manager changes the service delay and the action on a low score
    row = survey_settings_update(
        actor=manager,
        dealer_id=dealer.pk,
        data={"service_delay_hours": 2, "low_action": LowScoreAction.RECOVERY_TASK},
    )

    # Then the rest keeps its defaults, and the change is in the audit log
    row.refresh_from_db()
    assert row.service_delay_hours == 2
    assert row.low_action == LowScoreAction.RECOVERY_TASK
    assert row.delivery_delay_hours == 24
    event = AuditEvent.objects.get(target_type="feedback.surveysettings")
    assert event.actor_id == manager.pk
    assert event.changes["service_delay_hours"] == [3, 2]

    # And saving the same values again logs nothing new
    survey_settings_update(actor=manager, dealer_id=dealer.pk, data={"service_delay_hours": 2})
    assert AuditEvent.objects.filter(target_type="feedback.surveysettings").count() == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"link_valid_days": 0}, "link_valid_days"),
        ({"low_rating5": 5}, "low_rating5"),  # every answer would be low
        ({"low_nps": 10}, "low_nps"),
        ({"service_delay_hours": -1}, "service_delay_hours"),
        ({"service_delay_hours": "soon"}, "service_delay_hours"),
        ({"channel": "pigeon"}, "channel"),
        ({"low_action": "shout"}, "low_action"),
        ({"after_service": "maybe"}, "after_service"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_values_are_refused_naming_the_field_and_nothing_is_saved(dealer, manager, data, field):
    with pytest.raises(ValidationError) as error:
        survey_settings_update(
            actor=manager, dealer_id=dealer.pk, data={"link_valid_days": 10, **data}
        )
    assert field in error.value.message_dict
    assert not SurveySettings.objects.exists()


def _post(**overrides):
    data = {
        "after_delivery": "on",
        "delivery_delay_hours": "24",
        "after_service": "on",
        "service_delay_hours": "4",
        "complaint_delay_hours": "24",
        "channel": SurveyChannel.WECHAT,
        "link_valid_days": "5",
        "low_rating5": "2",
        "low_rating10": "4",
        "low_nps": "6",
        "low_action": LowScoreAction.BOTH,
    }
    data.update(overrides)
    return data


def test_the_settings_page_saves_and_switches_a_trigger_off(client_for, manager, dealer, english):
    manager.language = "en"  # the page read in English
    manager.save(update_fields=["language"])
    client = client_for(manager)
    page = client.get(reverse("surveys:settings"))
    assert page.status_code == 200
    assert "Hours after the repair order closes" in page.content.decode()

    # When the manager saves with "after a complaint" unticked
    answer = client.post(reverse("surveys:settings"), _post())

    # Then saved, the unticked trigger off
    assert answer.status_code == 302
    row = SurveySettings.objects.get(dealer=dealer)
    assert (row.service_delay_hours, row.channel, row.link_valid_days) == (4, "wechat", 5)
    assert row.after_complaint is False


def test_the_settings_page_shows_the_services_error_on_the_field(client_for, manager, english):
    manager.language = "en"  # the page read in English
    manager.save(update_fields=["language"])
    client = client_for(manager)
    answer = client.post(reverse("surveys:settings"), _post(low_rating5="5"))
    assert answer.status_code == 200
    body = answer.content.decode()
    assert "Nothing was saved" in body
    assert "Enter a number from 1 to 4." in body
    assert not SurveySettings.objects.exists()


def test_a_consultant_may_not_change_the_settings(client_for, make_user):
    client = client_for(make_user(Role.SALES_CONSULTANT))
    assert client.get(reverse("surveys:settings")).status_code == 403


def test_the_api_reads_and_changes_the_settings(client_for, manager, dealer, english):
    client = client_for(manager)
    got = client.get("/api/feedback/survey-settings")
    assert got.status_code == 200
    assert got.json()["service_delay_hours"] == 3

    put = client.put(
        "/api/feedback/survey-settings",
        data=json.dumps({"service_delay_hours": 6, "low_nps": 5}),
        content_type="application/json",
    )
    assert put.status_code == 200
    assert (put.json()["service_delay_hours"], put.json()["low_nps"]) == (6, 5)

    bad = client.put(
        "/api/feedback/survey-settings",
        data=json.dumps({"link_valid_days": 400}),
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert "link_valid_days" in json.dumps(bad.json())
    assert SurveySettings.objects.get(dealer=dealer).link_valid_days == 7
