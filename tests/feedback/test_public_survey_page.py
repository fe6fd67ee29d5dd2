"""The public survey page behind a customer's personal link: no login, mobile-friendly, the
dealer's name and nothing of the customer's; unknown, answered and expired links; guessing."""

from __future__ import annotations

import datetime
import secrets

import pytest
import time_machine
from django.urls import reverse

from dealercrm.feedback.models import Question, SurveyInvitation, SurveyResponse
from dealercrm.feedback.views.answering import GUESS_LIMIT
from tests.customers.factories import CustomerFactory, CustomerPhoneFactory
from tests.feedback.factories import make_invitation, make_questionnaire

NOW = datetime.datetime(2026, 6, 10, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def questionnaire(brand):
    questionnaire = make_questionnaire(brand=brand)
    questionnaire.introduction = "感谢您本次到店保养！"
    questionnaire.save(update_fields=["introduction"])
    return questionnaire


@pytest.fixture
def customer(dealer):
    customer = CustomerFactory(dealer=dealer, name="王小明")
    CustomerPhoneFactory(customer=customer, number="+8613812345678")
    return customer


@pytest.fixture
def link(questionnaire, customer):
    invitation, token = make_invitation(questionnaire=questionnaire, customer=customer)
    return invitation, reverse("surveys_public:answer", kwargs={"survey_token": token})


def answers_for(invitation, **values):
    rows = list(Question.objects.filter(version_id=invitation.version_id).order_by("position"))
    data = {}
    for q in rows:
        data[f"q{q.pk}"] = {"nps": "9", "single": "微信", "text": "很满意"}.get(q.kind, "4")
    for position, value in values.items():
        data[f"q{rows[int(position[1:]) - 1].pk}"] = value
    return data, rows


@pytest.mark.django_db
def test_the_page_shows_the_dealer_and_the_questions_and_nothing_of_the_customer(
    client, link, dealer, customer, django_assert_max_num_queries
):
    invitation, url = link
    with django_assert_max_num_queries(3):
        response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert dealer.name in page
    assert "感谢您本次到店保养！" in page
    assert "您有多大可能向亲友推荐我们？" in page
    # Nothing of the customer's: no name, no phone (whole or masked)
    assert "王小明" not in page
    assert "13812345678" not in page
    assert "138****5678" not in page
    # Mobile first: the viewport, and the 0–10 scale as eleven buttons
    assert 'name="viewport"' in page
    nps = Question.objects.filter(version_id=invitation.version_id, kind="nps").get()
    assert page.count(f'name="q{nps.pk}"') == 11
    # No staff menu, and not to be cached or indexed
    assert "navbar" not in page
    assert response["Cache-Control"] == "no-store"
    assert "noindex" in response["X-Robots-Tag"]
    # In the customer's language, whatever the browser asks for
    assert '<html lang="zh-hans">' in page
    assert client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode().count('lang="zh-hans"') == 1


@pytest.mark.django_db
def test_answering_records_the_response_and_thanks_the_customer(client, link):
    invitation, url = link
    data, _rows = answers_for(invitation)
    response = client.post(url, data)
    assert response.status_code == 200
    assert 'data-page="thanks"' in response.content.decode()
    recorded = SurveyResponse.objects.get()
    assert recorded.invitation_id == invitation.pk
    assert recorded.channel == "web"
    assert recorded.nps == 9


@pytest.mark.django_db
def test_a_bad_answer_re_renders_the_form_with_the_message_and_the_values_kept(client, link):
    invitation, url = link
    data, rows = answers_for(invitation, q3="9")  # a 1–5 rating answered 9 (a forged post)
    data[f"q{rows[5].pk}"] = "等待太久了"
    response = client.post(url, data)
    assert response.status_code == 200
    page = response.content.decode()
    # The message names the question, next to it
    assert rows[2].text in page
    assert 'role="alert"' in page
    # The other answers are kept
    assert "等待太久了" in page
    assert f'id="q{rows[0].pk}-9" value="9" checked' in page
    assert SurveyResponse.objects.count() == 0


@pytest.mark.django_db
def test_a_second_answer_on_the_same_link_gets_410(client, link):
    invitation, url = link
    data, _rows = answers_for(invitation)
    client.post(url, data)
    again = client.post(url, data)
    assert again.status_code == 410
    assert 'data-page="answered"' in again.content.decode()
    assert client.get(url).status_code == 410
    assert SurveyResponse.objects.count() == 1


@pytest.mark.django_db
def test_an_expired_link_gets_410_and_saves_nothing(client, questionnaire, customer):
    with time_machine.travel(NOW, tick=False):
        invitation, token = make_invitation(questionnaire=questionnaire, customer=customer)
    url = reverse("surveys_public:answer", kwargs={"survey_token": token})
    data, _rows = answers_for(invitation)
    with time_machine.travel(NOW + datetime.timedelta(days=8), tick=False):
        assert client.get(url).status_code == 410
        posted = client.post(url, data)
    assert posted.status_code == 410
    assert 'data-page="expired"' in posted.content.decode()
    assert SurveyResponse.objects.count() == 0
    invitation.refresh_from_db()
    assert invitation.status == "expired"


@pytest.mark.django_db
def test_a_cancelled_link_looks_like_an_unknown_one(client, questionnaire, customer):
    invitation, token = make_invitation(
        questionnaire=questionnaire, customer=customer, status="cancelled"
    )
    url = reverse("surveys_public:answer", kwargs={"survey_token": token})
    unknown = reverse("surveys_public:answer", kwargs={"survey_token": secrets.token_urlsafe(32)})
    cancelled, missing = client.get(url), client.get(unknown)
    assert cancelled.status_code == missing.status_code == 404
    assert cancelled.content == missing.content


@pytest.mark.django_db
def test_random_tokens_get_the_same_plain_404(client, link, dealer):
    bodies = set()
    for token in (secrets.token_urlsafe(32), "short", "x" * 200, secrets.token_urlsafe(32)):
        response = client.get(reverse("surveys_public:answer", kwargs={"survey_token": token}))
        assert response.status_code == 404
        bodies.add(response.content)
    assert len(bodies) == 1
    page = bodies.pop().decode()
    assert 'data-page="unknown"' in page
    assert dealer.name not in page


@pytest.mark.django_db
def test_guessing_more_than_twenty_links_gets_429_even_for_a_real_link(client, link):
    _invitation, url = link
    for _n in range(GUESS_LIMIT):
        token = secrets.token_urlsafe(32)
        response = client.get(reverse("surveys_public:answer", kwargs={"survey_token": token}))
        assert response.status_code == 404
    token = secrets.token_urlsafe(32)
    blocked = client.get(reverse("surveys_public:answer", kwargs={"survey_token": token}))
    assert blocked.status_code == 429
    # The real link from the same address is refused alike, so a guesser learns nothing
    assert client.get(url).status_code == 429
    # Another address is not held up
    assert client.get(url, REMOTE_ADDR="10.0.0.9").status_code == 200


@pytest.mark.django_db
def test_guesses_count_for_ten_minutes(client):
    with time_machine.travel(NOW, tick=False):
        for _n in range(GUESS_LIMIT):
            client.get(
                reverse("surveys_public:answer", kwargs={"survey_token": secrets.token_urlsafe(32)})
            )
    # locmem's expiry reads time.time(), which time-machine moves too
    with time_machine.travel(NOW + datetime.timedelta(minutes=11), tick=False):
        response = client.get(
            reverse("surveys_public:answer", kwargs={"survey_token": secrets.token_urlsafe(32)})
        )
    assert response.status_code == 404


@pytest.mark.django_db
def test_the_page_needs_the_csrf_token(link):
    from django.test import Client

    invitation, url = link
    strict = Client(enforce_csrf_checks=True)
    data, _rows = answers_for(invitation)
    assert strict.post(url, data).status_code == 403
    page = strict.get(url)
    assert "csrfmiddlewaretoken" in page.content.decode()
    assert SurveyResponse.objects.count() == 0
    assert SurveyInvitation.objects.get().status == "sent"
