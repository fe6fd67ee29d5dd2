"""The low-score alert: a low answer opens a complaint and/or a recovery task for the manager,
exactly once, whether the listener, the sweep or both raise it."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from dealercrm.core.permissions import Role
from dealercrm.feedback.models import (
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintSeverity,
    LowScoreAction,
    ResponseChannel,
    SurveyResponse,
    SurveySettings,
)
from dealercrm.feedback.services.alerts import on_response_recorded, survey_alerts_sweep
from dealercrm.feedback.services.answering import survey_response_submit
from dealercrm.feedback.survey_events import (
    register_response_listener,
    unregister_response_listener,
)
from dealercrm.worklist.models import Notice, Task, TaskKind
from tests.customers.factories import CustomerFactory
from tests.feedback.factories import make_invitation, make_questionnaire

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime.datetime(2026, 3, 10, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def survey(dealer):
    return make_questionnaire(brand=dealer.brand)


@pytest.fixture
def managers(make_user):
    return [make_user(Role.DEALER_MANAGER), make_user(Role.DEALER_MANAGER)]


def _answer(survey, customer, *, nps, quality, waiting, text="", capture=None):
    """Answer the factory's service questionnaire: NPS, expectation 4, quality, waiting."""
    invitation, _token = make_invitation(questionnaire=survey, customer=customer)
    questions = list(survey.current_version.questions.order_by("position"))
    by_text = {q.position: q for q in questions}
    answers = {
        f"q{by_text[1].pk}": nps,
        f"q{by_text[2].pk}": 4,
        f"q{by_text[3].pk}": quality,
        f"q{by_text[4].pk}": waiting,
        f"q{by_text[5].pk}": "电话",
        f"q{by_text[6].pk}": text,
    }
    if capture is not None:
        with capture(execute=True):
            return survey_response_submit(
                invitation=invitation, answers=answers, channel=ResponseChannel.WEB
            )
    return survey_response_submit(
        invitation=invitation, answers=answers, channel=ResponseChannel.WEB
    )


def test_a_low_answer_opens_a_complaint_a_recovery_task_and_notices_once(
    dealer, survey, managers, clock, django_capture_on_commit_callbacks, english
):
    # Given a customer who answers 2 for waiting time, 3 for quality and 5 for NPS
    customer = CustomerFactory(dealer=dealer, name="王芳")

    # When the response is recorded (the listener runs on commit), then the sweep runs too
    response = _answer(
        survey,
        customer,
        nps=5,
        quality=3,
        waiting=2,
        text="等了三个小时",
        capture=django_capture_on_commit_callbacks,
    )
    clock.move_to(NOON + datetime.timedelta(hours=1))
    assert survey_alerts_sweep() == 0
    on_response_recorded(response.pk, dealer.pk)

    # Then one complaint from the survey, about waiting time, medium, quoting the answers
    response.refresh_from_db()
    assert response.is_low and response.alerted_at == NOON
    complaint = Complaint.objects.get()
    assert complaint.channel == ComplaintChannel.SURVEY
    assert (complaint.source_kind, complaint.source_id) == (
        "feedback.survey_response",
        str(response.pk),
    )
    assert complaint.category == ComplaintCategory.WAITING_TIME
    assert complaint.severity == ComplaintSeverity.MEDIUM
    assert "您对等待时间的评价？: 2/5" in complaint.description
    assert "等了三个小时" in complaint.description
    # And one recovery task for a manager, due within two hours
    task = Task.objects.get()
    assert task.kind == TaskKind.RECOVERY
    assert task.assignee_id == managers[0].pk
    assert task.due_at == NOON + datetime.timedelta(hours=2)
    assert task.source_kind == "feedback.survey_response"
    assert "王芳" in task.title
    # And a notice to each manager
    assert sorted(Notice.objects.values_list("recipient_id", flat=True)) == sorted(
        m.pk for m in managers
    )


def test_an_nps_of_3_or_a_rating_of_1_is_a_high_severity_complaint(
    dealer, survey, managers, clock, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(dealer=dealer)
    _answer(
        survey, customer, nps=8, quality=1, waiting=4, capture=django_capture_on_commit_callbacks
    )
    complaint = Complaint.objects.get()
    assert complaint.severity == ComplaintSeverity.HIGH
    assert complaint.category == ComplaintCategory.SERVICE_QUALITY

    other = CustomerFactory(dealer=dealer)
    _answer(survey, other, nps=3, quality=4, waiting=4, capture=django_capture_on_commit_callbacks)
    complaint = Complaint.objects.get(customer=other)
    assert complaint.severity == ComplaintSeverity.HIGH
    assert complaint.category == ComplaintCategory.OTHER  # only the NPS (overall) was low


def test_a_good_answer_raises_nothing(
    dealer, survey, managers, clock, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(dealer=dealer)
    response = _answer(
        survey, customer, nps=9, quality=5, waiting=4, capture=django_capture_on_commit_callbacks
    )
    assert not response.is_low
    assert survey_alerts_sweep(now=NOON + datetime.timedelta(hours=1)) == 0
    assert not Complaint.objects.exists()
    assert not Task.objects.exists()


def test_the_thresholds_are_the_dealers(
    dealer, survey, managers, clock, django_capture_on_commit_callbacks
):
    # Given a dealer who counts a 3 of 5 as low
    SurveySettings.objects.create(dealer=dealer, low_rating5=3, low_nps=2)
    customer = CustomerFactory(dealer=dealer)

    # When the customer rates quality 3 (NPS 5 is fine by this dealer)
    _answer(
        survey, customer, nps=5, quality=3, waiting=4, capture=django_capture_on_commit_callbacks
    )

    # Then a complaint about service quality
    assert Complaint.objects.get().category == ComplaintCategory.SERVICE_QUALITY


@pytest.mark.parametrize(
    ("action", "complaints", "tasks"),
    [
        (LowScoreAction.COMPLAINT, 1, 0),
        (LowScoreAction.RECOVERY_TASK, 0, 1),
        (LowScoreAction.BOTH, 1, 1),
    ],
)
def test_the_low_action_setting_chooses_complaint_task_or_both(
    dealer, survey, managers, clock, django_capture_on_commit_callbacks, action, complaints, tasks
):
    SurveySettings.objects.create(dealer=dealer, low_action=action)
    _answer(
        survey,
        CustomerFactory(dealer=dealer),
        nps=2,
        quality=2,
        waiting=2,
        capture=django_capture_on_commit_callbacks,
    )
    assert Complaint.objects.count() == complaints
    assert Task.objects.filter(kind=TaskKind.RECOVERY).count() == tasks
    assert Notice.objects.count() == len(managers)


def test_the_sweep_catches_a_response_the_listener_missed(dealer, survey, managers, clock):
    # Given a low response whose listener never ran (on-commit callbacks not executed)
    unregister_response_listener(on_response_recorded)
    try:
        response = _answer(survey, CustomerFactory(dealer=dealer), nps=1, quality=2, waiting=2)
    finally:
        register_response_listener(on_response_recorded)
    assert SurveyResponse.objects.get(pk=response.pk).alerted_at is None

    # When the hourly sweep runs (twice)
    clock.move_to(NOON + datetime.timedelta(hours=1))
    first = survey_alerts_sweep()
    second = survey_alerts_sweep()

    # Then one alert
    assert (first, second) == (1, 0)
    assert Complaint.objects.count() == 1
    assert Task.objects.count() == 1
    response.refresh_from_db()
    assert response.alerted_at == NOON + datetime.timedelta(hours=1)


def test_a_failing_alert_leaves_the_response_for_the_sweep(
    dealer, survey, managers, clock, monkeypatch
):
    # Given a low response and a complaint intake that fails once
    response = _answer(survey, CustomerFactory(dealer=dealer), nps=1, quality=2, waiting=2)
    import dealercrm.feedback.services.intake as intake

    real = intake.complaint_open

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(intake, "complaint_open", broken)
    with pytest.raises(RuntimeError):
        on_response_recorded(response.pk, dealer.pk)

    # Then nothing was claimed or written half-way
    response.refresh_from_db()
    assert response.alerted_at is None
    assert not Task.objects.exists()

    # And the sweep raises it once intake works again
    monkeypatch.setattr(intake, "complaint_open", real)
    assert survey_alerts_sweep(now=NOON + datetime.timedelta(hours=1)) == 1
    assert Complaint.objects.count() == 1
