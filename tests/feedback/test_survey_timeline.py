"""Surveys on the customer 360 timeline: sent, answered with NPS and CSI, a low score marked."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import time_machine
from django.urls import reverse

from dealercrm.feedback.models import InvitationStatus, SurveyChannel, SurveyResponse
from dealercrm.feedback.survey_timeline import survey_timeline
from tests.customers.factories import CustomerFactory
from tests.feedback.factories import make_invitation, make_questionnaire

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime.datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI)


def _respond(invitation, *, at, nps, csi, low):
    return SurveyResponse.objects.create(
        dealer_id=invitation.dealer_id,
        invitation=invitation,
        version_id=invitation.version_id,
        kind=invitation.kind,
        customer_id=invitation.customer_id,
        channel="web",
        answered_at=at,
        nps=nps,
        csi=csi,
        is_low=low,
    )


def test_sent_and_answered_surveys_are_on_the_timeline_in_one_query(
    dealer, english, django_assert_num_queries
):
    # Given a customer with one answered survey (low), one answered (good) and one only sent,
    # and a scheduled one that has not gone out yet
    questionnaire = make_questionnaire(brand=dealer.brand, title="售后满意度回访")
    customer = CustomerFactory(dealer=dealer)
    low, _t = make_invitation(
        questionnaire=questionnaire, customer=customer, sent_at=T0, source_id="a"
    )
    _respond(low, at=T0 + datetime.timedelta(hours=1), nps=2, csi=25.0, low=True)
    good, _t = make_invitation(
        questionnaire=questionnaire,
        customer=customer,
        sent_at=T0 + datetime.timedelta(days=1),
        source_id="b",
    )
    _respond(good, at=T0 + datetime.timedelta(days=1, hours=2), nps=10, csi=91.7, low=False)
    make_invitation(
        questionnaire=questionnaire,
        customer=customer,
        sent_at=T0 + datetime.timedelta(days=2),
        channel=SurveyChannel.WECHAT,
        source_id="c",
    )
    make_invitation(
        questionnaire=questionnaire,
        customer=customer,
        sent_at=None,
        status=InvitationStatus.SCHEDULED,
        source_id="d",
    )

    # When the timeline asks
    with django_assert_num_queries(1):
        entries = survey_timeline(customer, limit=20, before=None)

    # Then five entries, newest first; the low one marked, the scores shown
    assert [e.kind for e in entries] == [
        "survey_sent",
        "survey_answered",
        "survey_sent",
        "survey_low",
        "survey_sent",
    ]
    assert entries[0].title == "Survey sent by WeChat: After service"
    assert entries[1].body == "售后满意度回访 · recommendation 10/10, satisfaction 92/100"
    assert entries[3].title == "Survey answered — low score: After service"
    assert entries[3].url == reverse("surveys:response", kwargs={"response_id": low.response.pk})

    # And paging: before the second day's answer, only the first day's two entries
    older = survey_timeline(customer, limit=20, before=T0 + datetime.timedelta(days=1, hours=1))
    assert [e.kind for e in older] == ["survey_sent", "survey_low", "survey_sent"]
    assert survey_timeline(customer, limit=2, before=None)[1].kind == "survey_answered"


def test_a_phone_survey_shows_who_entered_it(dealer, english, make_user):
    questionnaire = make_questionnaire(brand=dealer.brand)
    customer = CustomerFactory(dealer=dealer)
    invitation, _t = make_invitation(
        questionnaire=questionnaire,
        customer=customer,
        channel=SurveyChannel.PHONE,
        sent_at=None,
        status=InvitationStatus.ANSWERED,
    )
    specialist = make_user(display_name="林静")
    response = _respond(invitation, at=T0, nps=8, csi=None, low=False)
    response.entered_by = specialist
    response.channel = "phone"
    response.save()

    (entry,) = survey_timeline(customer, limit=20, before=None)
    assert entry.kind == "survey_answered"
    assert entry.actor == "林静"
    assert entry.body.endswith("recommendation 8/10")


def test_the_360_page_shows_the_survey(client_for, manager, dealer, english):
    manager.language = "en"  # the page read in English
    manager.save(update_fields=["language"])
    questionnaire = make_questionnaire(brand=dealer.brand)
    customer = CustomerFactory(dealer=dealer)
    with time_machine.travel(T0, tick=False):
        invitation, _t = make_invitation(questionnaire=questionnaire, customer=customer)
        _respond(invitation, at=T0, nps=3, csi=20.0, low=True)
    page = client_for(manager).get(reverse("customers:detail", args=[customer.pk]))
    assert page.status_code == 200
    assert "Survey answered — low score: After service" in page.content.decode()
