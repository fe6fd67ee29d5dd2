"""The complaint SLA settings: the page and the API, their checks, the audit log, and each
dealer's own terms only."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from dealercrm.core.models import AuditEvent
from dealercrm.core.permissions import Role
from dealercrm.feedback.models import ComplaintSlaPolicy
from dealercrm.feedback.services.sla import DEFAULTS, sla_settings_save, sla_terms

pytestmark = pytest.mark.django_db

URL = "/complaints/sla/"
API = "/api/feedback/sla"


def post_data(**changes: str) -> dict[str, str]:
    """The form as the page shows it (the documents' figures), with `changes` ("high-…")."""
    data = {}
    for severity in ("low", "medium", "high"):
        data.update(
            {
                f"{severity}-response_minutes": "30",
                f"{severity}-solution_minutes": "1440",
                f"{severity}-response_warn_minutes": "10",
                f"{severity}-solution_warn_minutes": "120",
                f"{severity}-oem_after_minutes": "1440",
            }
        )
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def manager_en(make_user):  # noqa: ANN001, ANN201
    return make_user(Role.DEALER_MANAGER, language="en")


def test_the_page_shows_the_documents_figures_and_how_they_count(client_for, manager_en):
    page = client_for(manager_en).get(URL)

    assert page.status_code == 200
    body = page.content.decode()
    assert body.count('data-severity="') == 3
    assert 'name="high-response_minutes"' in body and 'value="30"' in body
    assert 'value="1440"' in body
    assert "first response within 30 minutes and a solution within 24 hours" in body
    assert "08:30–17:30" in body


def test_saving_stores_all_three_severities_and_audits_the_change(client_for, manager_en, dealer):
    answer = client_for(manager_en).post(
        URL,
        post_data(**{"high-response_minutes": "15", "high-business_hours_only": "on"}),
    )

    assert answer.status_code == 302
    high = sla_terms(dealer.pk, "high")
    assert (high.response_minutes, high.business_hours_only) == (15, True)
    assert sla_terms(dealer.pk, "low") == DEFAULTS
    assert ComplaintSlaPolicy.objects.filter(dealer=dealer).count() == 3
    audited = AuditEvent.objects.get(target_type="feedback.complaintslapolicy")
    assert audited.changes == {"response_minutes": [30, 15], "business_hours_only": [False, True]}
    assert audited.actor == manager_en and audited.dealer_id == dealer.pk


def test_mistakes_show_on_their_fields_and_nothing_is_saved(client_for, manager_en, dealer):
    answer = client_for(manager_en).post(
        URL,
        post_data(
            **{
                "low-response_minutes": "15",  # valid alone, but the others are not
                "medium-solution_minutes": "20",  # shorter than the first response
                "high-response_minutes": "0",
                "high-oem_after_minutes": "soon",
                "high-solution_warn_minutes": "",
            }
        ),
    )

    assert answer.status_code == 400
    body = answer.content.decode()
    assert "The solution time must be longer than the first-response time." in body
    assert "Enter a positive number of minutes." in body
    assert "Enter a whole number of minutes." in body
    assert "Enter a number of minutes." in body
    assert 'name="medium-solution_minutes"' in body
    assert not ComplaintSlaPolicy.objects.exists()
    assert not AuditEvent.objects.filter(target_type="feedback.complaintslapolicy").exists()


def test_a_warning_must_come_before_its_deadline(english, dealer):
    values = {name: getattr(DEFAULTS, name) for name in DEFAULTS.__dataclass_fields__}

    with pytest.raises(ValidationError) as refused:
        sla_settings_save(
            actor=None,
            dealer_id=dealer.pk,
            rows={"high": {**values, "response_warn_minutes": 30}, "low": values},
        )

    assert list(refused.value.message_dict) == ["high-response_warn_minutes"]
    assert not ComplaintSlaPolicy.objects.exists()


def test_a_dealer_changes_only_its_own_terms(client_for, manager_en, dealer, other_dealer):
    ComplaintSlaPolicy.objects.create(dealer=other_dealer, severity="high", response_minutes=5)

    client_for(manager_en).post(URL, post_data(**{"high-response_minutes": "20"}))
    # A dealer parameter means nothing to dealer staff.
    client_for(manager_en).post(
        URL, {**post_data(**{"high-response_minutes": "25"}), "dealer": other_dealer.pk}
    )

    assert sla_terms(other_dealer.pk, "high").response_minutes == 5
    assert sla_terms(dealer.pk, "high").response_minutes == 25


def test_the_brands_people_may_not_change_a_dealers_sla(client_for, make_user):
    assert client_for(make_user(Role.OEM_ADMIN)).get(URL).status_code == 403
    assert client_for(make_user(Role.CARE_SPECIALIST)).get(URL).status_code == 403


def test_the_menu_links_the_page_for_managers(client_for, manager_en):
    body = client_for(manager_en).get(reverse("feedback:complaint_list")).content.decode()
    assert URL in body


# --- API ------------------------------------------------------------------------------------


def test_the_api_reads_the_defaults_and_writes_a_severity(client_for, manager_en, dealer):
    client = client_for(manager_en)

    read = client.get(API).json()
    assert read["dealer_id"] == dealer.pk
    assert [s["severity"] for s in read["severities"]] == ["low", "medium", "high"]
    assert read["severities"][1]["response_minutes"] == 30
    assert read["severities"][1]["customised"] is False

    high = {
        "response_minutes": 10,
        "solution_minutes": 480,
        "response_warn_minutes": 5,
        "solution_warn_minutes": 60,
        "oem_after_minutes": 240,
        "business_hours_only": True,
    }
    written = client.put(API, {"severities": {"high": high}}, content_type="application/json")

    assert written.status_code == 200
    answer = {s["severity"]: s for s in written.json()["severities"]}
    assert answer["high"]["solution_minutes"] == 480 and answer["high"]["customised"] is True
    assert answer["low"]["customised"] is False
    assert sla_terms(dealer.pk, "high").oem_after_minutes == 240


def test_the_api_refuses_bad_terms_naming_the_field(client_for, manager_en, dealer):
    client = client_for(manager_en)
    good = {
        "response_minutes": 30,
        "solution_minutes": 1440,
        "response_warn_minutes": 10,
        "solution_warn_minutes": 120,
        "oem_after_minutes": 1440,
    }

    refused = client.put(
        API,
        {"severities": {"low": good, "high": {**good, "solution_minutes": 25}}},
        content_type="application/json",
    )
    unknown = client.put(API, {"severities": {"urgent": good}}, content_type="application/json")

    assert refused.status_code == 422
    errors = refused.json()["errors"]
    # 25 minutes: shorter than the first response, and the 120-minute warning cannot fit.
    assert set(errors) == {"high-solution_minutes", "high-solution_warn_minutes"}
    assert errors["high-solution_minutes"] == [
        "The solution time must be longer than the first-response time."
    ]
    assert unknown.status_code == 422 and "urgent" in unknown.json()["errors"]
    assert not ComplaintSlaPolicy.objects.exists()
