"""Recording survey responses: validation as a whole, scores, one answer per link, expiry, the
listeners told on commit, phone surveys and the response page."""

from __future__ import annotations

import datetime
import threading

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import dealer_scope
from dealercrm.feedback import survey_events
from dealercrm.feedback.models import (
    Question,
    SurveyAnswer,
    SurveyInvitation,
    SurveyResponse,
    SurveySettings,
)
from dealercrm.feedback.services.answering import (
    ALREADY_ANSWERED,
    CLOSED,
    EXPIRED,
    survey_response_submit,
)
from tests.customers.factories import CustomerFactory
from tests.feedback.factories import make_invitation, make_questionnaire

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: real concurrent connections"
)

NOW = datetime.datetime(2026, 6, 10, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def questionnaire(brand):
    return make_questionnaire(brand=brand)


@pytest.fixture
def questions(questionnaire):
    """By role: nps, expect, service, waiting, single, text."""
    rows = list(
        Question.objects.filter(version_id=questionnaire.current_version_id).order_by("position")
    )
    return dict(zip(["nps", "expect", "service", "waiting", "single", "text"], rows, strict=True))


@pytest.fixture
def invitation(questionnaire, dealer):
    customer = CustomerFactory(dealer=dealer)
    return make_invitation(questionnaire=questionnaire, customer=customer)[0]


@pytest.fixture
def heard():
    calls: list[tuple[int, int]] = []

    def listener(response_id: int, dealer_id: int) -> None:
        calls.append((response_id, dealer_id))

    survey_events.register_response_listener(listener)
    yield calls
    survey_events.unregister_response_listener(listener)


def good_answers(q, **overrides):
    answers = {
        f"q{q['nps'].pk}": "9",
        f"q{q['expect'].pk}": "4",
        f"q{q['service'].pk}": "5",
        f"q{q['waiting'].pk}": "3",
        f"q{q['single'].pk}": "微信",
        f"q{q['text'].pk}": "很好",
    }
    for role, value in overrides.items():
        answers[f"q{q[role].pk}"] = value
    return answers


def submit(invitation, answers, channel="web", **kwargs):
    with dealer_scope(invitation.dealer_id):
        return survey_response_submit(
            invitation=invitation, answers=answers, channel=channel, **kwargs
        )


@pytest.mark.django_db
def test_a_full_answer_records_response_answers_scores_and_tells_listeners(
    invitation, questions, django_capture_on_commit_callbacks, heard
):
    # When the customer answers every question
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(invitation, good_answers(questions))
    # Then the response holds the NPS, the CSI of the experience ratings (5 → 100, 3 → 50)
    assert response.nps == 9
    assert response.csi == pytest.approx(75.0)
    assert response.is_low is False
    assert response.customer_id == invitation.customer_id
    assert response.kind == invitation.kind
    # and one answer per question with the question's dimension, aspect and kind
    answers = {a.question_id: a for a in SurveyAnswer.objects.filter(response=response)}
    assert len(answers) == 6
    assert answers[questions["expect"].pk].aspect == "expectation"
    assert answers[questions["expect"].pk].dimension == "service_quality"
    assert answers[questions["single"].pk].choices == ["微信"]
    assert answers[questions["text"].pk].text == "很好"
    # and the invitation is answered, and the listeners heard of it once, after commit
    invitation.refresh_from_db()
    assert invitation.status == "answered"
    assert invitation.answered_at is not None
    assert heard == [(response.pk, invitation.dealer_id)]


@pytest.mark.django_db
def test_a_low_rating_or_low_nps_marks_the_response_low(invitation, questions, dealer):
    SurveySettings.objects.create(dealer=dealer, low_rating5=2, low_nps=6)
    response = submit(invitation, good_answers(questions, waiting="2"))
    assert response.is_low is True


@pytest.mark.django_db
def test_a_low_expectation_alone_is_not_low(invitation, questions):
    response = submit(invitation, good_answers(questions, expect="1"))
    assert response.is_low is False


@pytest.mark.django_db
def test_nps_at_the_threshold_is_low(invitation, questions):
    response = submit(invitation, good_answers(questions, nps="6"))
    assert response.is_low is True
    assert response.nps == 6


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "value", "message"),
    [
        ("nps", "11", "from 0 to 10"),
        ("nps", "-1", "from 0 to 10"),
        ("service", "0", "from 1 to 5"),
        ("service", "6", "from 1 to 5"),
        ("service", "abc", "from 1 to 5"),
        ("service", "4.5", "from 1 to 5"),
        ("single", "传真", "among the options"),
        ("single", ["微信", "电话"], "choose one option"),
        ("text", "好" * 2001, "at most 2000 characters"),
        ("nps", "", "please answer"),
    ],
)
def test_a_bad_answer_is_refused_naming_the_question_and_nothing_is_saved(
    invitation, questions, english, role, value, message
):
    # When one answer does not fit its question
    with pytest.raises(ValidationError) as error:
        submit(invitation, good_answers(questions, **{role: value}))
    # Then the error is keyed by that question, names it, and nothing is saved
    key = f"q{questions[role].pk}"
    assert list(error.value.message_dict) == [key]
    text = error.value.message_dict[key][0]
    assert message in text
    assert questions[role].text in text
    assert SurveyResponse.objects.count() == 0
    assert SurveyAnswer.objects.count() == 0
    invitation.refresh_from_db()
    assert invitation.status == "sent"


@pytest.mark.django_db
def test_every_problem_is_reported_at_once(invitation, questions, english):
    answers = good_answers(questions, nps="12", service="9")
    del answers[f"q{questions['waiting'].pk}"]
    with pytest.raises(ValidationError) as error:
        submit(invitation, answers)
    assert set(error.value.message_dict) == {
        f"q{questions['nps'].pk}",
        f"q{questions['service'].pk}",
        f"q{questions['waiting'].pk}",
    }


@pytest.mark.django_db
def test_an_optional_question_may_be_left_out(invitation, questions):
    answers = good_answers(questions)
    del answers[f"q{questions['text'].pk}"]
    response = submit(invitation, answers)
    assert SurveyAnswer.objects.filter(response=response).count() == 5


@pytest.mark.django_db
def test_a_second_answer_on_the_same_link_is_refused(invitation, questions, english):
    submit(invitation, good_answers(questions))
    # When the same invitation (as first read, status "sent") is answered again
    stale = SurveyInvitation.objects.get(pk=invitation.pk)
    stale.status = "sent"
    with pytest.raises(ValidationError) as error:
        submit(stale, good_answers(questions, nps="0"))
    assert error.value.code == ALREADY_ANSWERED
    assert "already been answered" in error.value.messages[0]
    assert SurveyResponse.objects.count() == 1
    assert SurveyResponse.objects.get().nps == 9


@pytest.mark.django_db
def test_an_expired_link_is_refused_and_the_invitation_marked_expired(
    questionnaire, dealer, questions, english
):
    customer = CustomerFactory(dealer=dealer)
    with time_machine.travel(NOW, tick=False):
        invitation, _token = make_invitation(
            questionnaire=questionnaire, customer=customer, expires_in=datetime.timedelta(days=7)
        )
    with (
        time_machine.travel(NOW + datetime.timedelta(days=7, seconds=1), tick=False),
        pytest.raises(ValidationError) as error,
    ):
        submit(invitation, good_answers(questions))
    assert error.value.code == EXPIRED
    assert "expired" in error.value.messages[0]
    invitation.refresh_from_db()
    assert invitation.status == "expired"
    assert SurveyResponse.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["cancelled", "not_sent"])
def test_a_cancelled_or_unsent_invitation_takes_no_online_answer(
    questionnaire, dealer, questions, status, english
):
    customer = CustomerFactory(dealer=dealer)
    invitation, _token = make_invitation(
        questionnaire=questionnaire, customer=customer, status=status
    )
    with pytest.raises(ValidationError) as error:
        submit(invitation, good_answers(questions))
    assert error.value.code == CLOSED
    assert SurveyResponse.objects.count() == 0


@pytest.mark.django_db
def test_an_unsent_invitation_may_still_be_answered_by_phone(
    questionnaire, dealer, questions, make_user
):
    specialist = make_user(Role.CARE_SPECIALIST)
    customer = CustomerFactory(dealer=dealer)
    invitation, _token = make_invitation(
        questionnaire=questionnaire, customer=customer, status="not_sent"
    )
    response = submit(invitation, good_answers(questions), channel="phone", entered_by=specialist)
    assert response.channel == "phone"
    assert response.entered_by == specialist


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_answers_on_one_link_exactly_one_is_recorded(brand, dealer):
    # Given one invitation opened in two browser tabs
    questionnaire = make_questionnaire(brand=brand)
    customer = CustomerFactory(dealer=dealer)
    invitation, _token = make_invitation(questionnaire=questionnaire, customer=customer)
    rows = list(Question.objects.filter(version_id=questionnaire.current_version_id))
    q = dict(zip(["nps", "expect", "service", "waiting", "single", "text"], rows, strict=True))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def customer_tab(nps: str) -> None:
        try:
            with dealer_scope(dealer.pk):
                stale = SurveyInvitation.objects.get(pk=invitation.pk)
                barrier.wait(timeout=10)
                survey_response_submit(
                    invitation=stale, answers=good_answers(q, nps=nps), channel="web"
                )
            outcomes.append("recorded")
        except ValidationError as error:
            outcomes.append(error.code or "")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=customer_tab, args=(n,)) for n in ("9", "3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # Then one is recorded and the other told the survey was already answered
    assert sorted(outcomes) == [ALREADY_ANSWERED, "recorded"]
    assert SurveyResponse.objects.count() == 1
    assert SurveyAnswer.objects.count() == 6


@pytest.mark.django_db
def test_the_unique_key_catches_an_answer_that_skipped_the_status_check(
    invitation, questions, monkeypatch, english
):
    # Given the status check switched off (as if a write raced past it)
    from dealercrm.feedback.services import answering

    submit(invitation, good_answers(questions))
    monkeypatch.setattr(answering, "_refuse_unless_open", lambda *args, **kwargs: None)
    with pytest.raises(ValidationError) as error:
        submit(invitation, good_answers(questions))
    assert error.value.code == ALREADY_ANSWERED
    assert SurveyResponse.objects.count() == 1


# --- the phone survey and the response page ------------------------------------------------


@pytest.fixture
def specialist(make_user):
    return make_user(Role.CARE_SPECIALIST)


@pytest.mark.django_db
def test_a_care_specialist_enters_a_phone_survey(
    client_for, specialist, invitation, questions, django_assert_max_num_queries
):
    client = client_for(specialist)
    url = reverse("surveys:phone_survey", kwargs={"invitation_id": invitation.pk})
    with django_assert_max_num_queries(12):
        page = client.get(url)
    assert page.status_code == 200
    assert questions["nps"].text in page.content.decode()
    posted = client.post(url, good_answers(questions, nps="3"))
    response = SurveyResponse.objects.get()
    assert posted.status_code == 302
    assert posted["Location"] == reverse("surveys:response", kwargs={"response_id": response.pk})
    assert response.channel == "phone"
    assert response.entered_by == specialist
    assert response.is_low is True
    # The form is no longer offered once answered
    again = client.get(url)
    assert 'data-state="answered"' in again.content.decode()
    client.post(url, good_answers(questions))
    assert SurveyResponse.objects.count() == 1


@pytest.mark.django_db
def test_a_phone_survey_with_a_bad_answer_shows_the_message_and_saves_nothing(
    client_for, make_user, invitation, questions
):
    client = client_for(make_user(Role.CARE_SPECIALIST, language="en"))
    url = reverse("surveys:phone_survey", kwargs={"invitation_id": invitation.pk})
    posted = client.post(url, good_answers(questions, service="7", text="客户说等了两个小时"))
    assert posted.status_code == 400
    page = posted.content.decode()
    assert "choose a whole number from 1 to 5" in page
    assert "客户说等了两个小时" in page
    assert SurveyResponse.objects.count() == 0


@pytest.mark.django_db
def test_an_expired_invitation_cannot_be_entered_by_phone(
    client_for, specialist, questionnaire, dealer, questions
):
    with time_machine.travel(NOW, tick=False):
        invitation, _token = make_invitation(
            questionnaire=questionnaire, customer=CustomerFactory(dealer=dealer)
        )
    client = client_for(specialist)
    url = reverse("surveys:phone_survey", kwargs={"invitation_id": invitation.pk})
    with time_machine.travel(NOW + datetime.timedelta(days=30), tick=False):
        page = client.get(url)
        assert 'data-state="expired"' in page.content.decode()
        client.post(url, good_answers(questions))
    assert SurveyResponse.objects.count() == 0


@pytest.mark.django_db
def test_another_dealers_invitation_is_404(client_for, other_dealer, make_user, invitation):
    outsider = make_user(Role.CARE_SPECIALIST, dealer_=other_dealer)
    url = reverse("surveys:phone_survey", kwargs={"invitation_id": invitation.pk})
    assert client_for(outsider).get(url).status_code == 404


@pytest.mark.django_db
def test_the_response_page_shows_answers_scores_and_the_complaint_raised(
    client_for, manager, invitation, questions, django_assert_max_num_queries
):
    from tests.feedback.factories import ComplaintFactory

    response = submit(invitation, good_answers(questions, service="1"))
    complaint = ComplaintFactory(
        customer=invitation.customer,
        source_kind="feedback.survey_response",
        source_id=str(response.pk),
    )
    client = client_for(manager)
    url = reverse("surveys:response", kwargs={"response_id": response.pk})
    with django_assert_max_num_queries(12):
        page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    for question in questions.values():
        assert question.text in html
    assert "data-low" in html
    assert reverse("feedback:complaint", kwargs={"complaint_id": complaint.pk}) in html
    # The gap of service quality: expectation 4 → 75, experience 1 → 0, gap −75
    assert "-75.0" in html
