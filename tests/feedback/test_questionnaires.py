"""The questionnaire builder and its versions: the standard questionnaires, which version a
dealer's survey uses, drafts, publishing and its checks, and the builder's pages and API."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from dealercrm.core.permissions import Role
from dealercrm.core.tenancy import dealer_scope
from dealercrm.feedback.models import (
    Question,
    Questionnaire,
    QuestionnaireVersion,
    SurveyKind,
    VersionStatus,
)
from dealercrm.feedback.selectors.questionnaires import questionnaire_for
from dealercrm.feedback.services import questionnaires as svc
from dealercrm.feedback.services.answering import survey_response_submit
from tests.core.factories import BrandFactory
from tests.customers.factories import CustomerFactory
from tests.feedback.factories import make_invitation, make_questionnaire


@pytest.fixture
def oem_admin(make_user):
    return make_user(Role.OEM_ADMIN)


# --- the standard questionnaires ----------------------------------------------------------


@pytest.mark.django_db
def test_install_defaults_gives_the_brand_three_published_questionnaires_once(brand):
    # When the defaults are installed twice
    first = svc.questionnaires_install_defaults(brand=brand)
    second = svc.questionnaires_install_defaults(brand=brand)
    # Then the brand has one published questionnaire per kind, the same rows both times
    assert [q.pk for q in first] == [q.pk for q in second]
    assert sorted(q.kind for q in first) == sorted(["delivery", "service", "complaint"])
    assert Questionnaire.objects.filter(brand=brand).count() == 3
    for questionnaire in first:
        assert questionnaire.dealer_id is None
        version = questionnaire.current_version
        assert version.status == VersionStatus.PUBLISHED
        questions = list(version.questions.order_by("position"))
        kinds = {q.kind for q in questions}
        assert {"nps", "rating5", "single", "text"} <= kinds
        # and every expectation has its experience on the same dimension and scale
        assert svc.version_problems(questions) == []
        assert any(q.aspect == "expectation" for q in questions)


# --- which questionnaire a survey uses ----------------------------------------------------


@pytest.mark.django_db
def test_questionnaire_for_prefers_the_dealers_own_then_the_brands(brand, dealer, other_dealer):
    brands = make_questionnaire(brand=brand, title="品牌问卷")
    own = make_questionnaire(brand=brand, dealer=dealer, title="本店问卷")
    # An unpublished own questionnaire and one of another kind do not count
    make_questionnaire(brand=brand, dealer=other_dealer, published=False)
    make_questionnaire(brand=brand, dealer=other_dealer, kind=SurveyKind.AFTER_DELIVERY)
    assert questionnaire_for(dealer.pk, SurveyKind.AFTER_SERVICE).pk == own.current_version_id
    assert (
        questionnaire_for(other_dealer.pk, SurveyKind.AFTER_SERVICE).pk == brands.current_version_id
    )
    assert questionnaire_for(dealer.pk, SurveyKind.AFTER_COMPLAINT) is None


@pytest.mark.django_db
def test_questionnaire_for_ignores_inactive_and_other_brands(brand, dealer):
    make_questionnaire(brand=BrandFactory(code="other", name="别的品牌"))
    inactive = make_questionnaire(brand=brand, dealer=dealer)
    Questionnaire.objects.filter(pk=inactive.pk).update(is_active=False)
    assert questionnaire_for(dealer.pk, SurveyKind.AFTER_SERVICE) is None


# --- versions -----------------------------------------------------------------------------


def _question(text="您对洗车的评价？", **fields):
    data = {
        "kind": "rating5",
        "dimension": "service_quality",
        "aspect": "experience",
        "text": text,
        "required": True,
    }
    data.update(fields)
    return data


@pytest.mark.django_db
def test_editing_a_published_questionnaire_starts_a_draft_and_answers_keep_their_version(
    brand, dealer, manager, client_for
):
    # Given a dealer's questionnaire, published as v1, and a customer's answer to v1
    questionnaire = make_questionnaire(brand=brand, dealer=dealer)
    v1 = questionnaire.current_version
    v1_texts = list(v1.questions.order_by("position").values_list("text", flat=True))
    invitation, _token = make_invitation(
        questionnaire=questionnaire, customer=CustomerFactory(dealer=dealer)
    )
    answers = {}
    for q in v1.questions.all():
        answers[f"q{q.pk}"] = {"nps": "9", "single": "电话", "text": "好"}.get(q.kind, "4")
    with dealer_scope(dealer.pk):
        response = survey_response_submit(invitation=invitation, answers=answers, channel="web")
    # When the manager edits a question's text and adds one
    first = v1.questions.order_by("position").first()
    svc.question_update(
        actor=manager,
        questionnaire=questionnaire,
        question_id=first.pk,
        data={"kind": "nps", "dimension": "overall", "text": "改过的推荐问题？"},
    )
    svc.question_add(actor=manager, questionnaire=questionnaire, data=_question())
    # Then a v2 draft holds the changes and v1 is untouched and still current
    questionnaire.refresh_from_db()
    v2 = QuestionnaireVersion.objects.get(questionnaire=questionnaire, number=2)
    assert v2.status == VersionStatus.DRAFT
    assert questionnaire.current_version_id == v1.pk
    assert list(v1.questions.order_by("position").values_list("text", flat=True)) == v1_texts
    assert v2.questions.count() == len(v1_texts) + 1
    # When v2 is published
    svc.questionnaire_publish(actor=manager, questionnaire=questionnaire)
    questionnaire.refresh_from_db()
    v1.refresh_from_db()
    assert questionnaire.current_version_id == v2.pk
    assert v1.status == VersionStatus.RETIRED
    # Then the v1 response still shows v1's questions and texts
    answered = list(response.answers.select_related("question").order_by("question__position"))
    assert [a.question.text for a in answered] == v1_texts
    assert {a.question.version_id for a in answered} == {v1.pk}
    # and so does the response page
    page = client_for(manager).get(reverse("surveys:response", args=[response.pk]))
    html = page.content.decode()
    assert v1_texts[0] in html
    assert "改过的推荐问题？" not in html
    assert 'data-version="1"' in html


@pytest.mark.django_db
def test_two_edits_use_one_draft(brand, dealer, manager):
    questionnaire = make_questionnaire(brand=brand, dealer=dealer)
    svc.question_add(actor=manager, questionnaire=questionnaire, data=_question("一"))
    svc.question_add(actor=manager, questionnaire=questionnaire, data=_question("二"))
    assert QuestionnaireVersion.objects.filter(questionnaire=questionnaire).count() == 2


@pytest.mark.django_db
def test_move_and_delete_renumber_the_draft(brand, dealer, manager):
    questionnaire = svc.questionnaire_create(actor=manager, title="测试", kind="service")
    a = svc.question_add(actor=manager, questionnaire=questionnaire, data=_question("甲"))
    b = svc.question_add(actor=manager, questionnaire=questionnaire, data=_question("乙"))
    c = svc.question_add(actor=manager, questionnaire=questionnaire, data=_question("丙"))
    svc.question_move(actor=manager, questionnaire=questionnaire, question_id=c.pk, direction="up")
    order = list(
        Question.objects.filter(version_id=a.version_id)
        .order_by("position")
        .values_list("text", flat=True)
    )
    assert order == ["甲", "丙", "乙"]
    svc.question_delete(actor=manager, questionnaire=questionnaire, question_id=a.pk)
    rows = list(
        Question.objects.filter(version_id=a.version_id)
        .order_by("position")
        .values_list("position", "text")
    )
    assert rows == [(1, "丙"), (2, "乙")]
    assert b.pk in Question.objects.values_list("pk", flat=True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("questions", "message"),
    [
        ([], "at least one question"),
        ([_question(kind="single", choices=["仅一项"])], "at least two options"),
        ([_question(aspect="expectation")], "add an experience question"),
        (
            [
                _question("期望", aspect="expectation"),
                _question("体验", kind="rating10", aspect="experience"),
            ],
            "same scale",
        ),
    ],
)
def test_publishing_refuses_an_unfit_draft(brand, dealer, manager, english, questions, message):
    questionnaire = svc.questionnaire_create(actor=manager, title="测试", kind="service")
    draft = questionnaire.versions.get()
    for position, data in enumerate(questions, start=1):
        # Written around the service: the builder refuses a one-option choice question itself
        Question.objects.create(version=draft, position=position, **data)
    with pytest.raises(ValidationError) as error:
        svc.questionnaire_publish(actor=manager, questionnaire=questionnaire)
    assert any(message in text for text in error.value.messages)
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT


@pytest.mark.django_db
def test_a_choice_question_needs_two_options(brand, dealer, manager, english):
    questionnaire = svc.questionnaire_create(actor=manager, title="测试", kind="service")
    with pytest.raises(ValidationError) as error:
        svc.question_add(
            actor=manager,
            questionnaire=questionnaire,
            data=_question(kind="multiple", choices="只有一个"),
        )
    assert "choices" in error.value.message_dict


@pytest.mark.django_db
def test_a_dealer_cannot_edit_the_brands_questionnaire(brand, dealer, manager, oem_admin):
    brands = make_questionnaire(brand=brand)
    with pytest.raises(PermissionDenied):
        svc.question_add(actor=manager, questionnaire=brands, data=_question())
    # while the OEM administrator can
    svc.question_add(actor=oem_admin, questionnaire=brands, data=_question())
    assert brands.versions.count() == 2


@pytest.mark.django_db
def test_questionnaire_create_belongs_to_the_dealer_or_the_brand(brand, dealer, manager, oem_admin):
    own = svc.questionnaire_create(actor=manager, title="本店", kind="delivery")
    brands = svc.questionnaire_create(actor=oem_admin, title="品牌", kind="delivery")
    assert (own.brand_id, own.dealer_id) == (brand.pk, dealer.pk)
    assert (brands.brand_id, brands.dealer_id) == (brand.pk, None)
    with pytest.raises(ValidationError) as error:
        svc.questionnaire_create(actor=manager, title="", kind="nope")
    assert set(error.value.message_dict) == {"title", "kind"}


# --- the builder's pages ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_shows_the_dealers_own_and_the_brands_read_only(
    client_for, manager, brand, dealer, other_dealer, django_assert_max_num_queries
):
    own = make_questionnaire(brand=brand, dealer=dealer, title="本店问卷")
    brands = make_questionnaire(brand=brand, title="品牌问卷")
    make_questionnaire(brand=brand, dealer=other_dealer, title="别家问卷")
    client = client_for(manager)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("surveys:questionnaire_list"))
    page = response.content.decode()
    assert "本店问卷" in page and "品牌问卷" in page
    assert "别家问卷" not in page
    assert f'data-questionnaire="{own.pk}"' in page
    row = page.split(f'data-questionnaire="{brands.pk}"')[1].split("</tr>")[0]
    assert "data-read-only" in row


@pytest.mark.django_db
def test_a_dealer_cannot_change_the_brands_questionnaire_through_the_pages(
    client_for, manager, brand
):
    brands = make_questionnaire(brand=brand)
    question = brands.current_version.questions.first()
    client = client_for(manager)
    # They may look at it …
    assert client.get(reverse("surveys:questionnaire", args=[brands.pk])).status_code == 200
    # … but not change it
    urls = [
        reverse("surveys:questionnaire", args=[brands.pk]),
        reverse("surveys:question_create", args=[brands.pk]),
        reverse("surveys:question_edit", args=[brands.pk, question.pk]),
        reverse("surveys:questionnaire_publish", args=[brands.pk]),
    ]
    for url in urls:
        assert client.post(url, _question()).status_code == 403
    assert brands.versions.count() == 1


@pytest.mark.django_db
def test_another_dealers_questionnaire_is_404(client_for, make_user, brand, dealer, other_dealer):
    theirs = make_questionnaire(brand=brand, dealer=other_dealer)
    question = theirs.current_version.questions.first()
    client = client_for(make_user(Role.DEALER_MANAGER))
    for url in (
        reverse("surveys:questionnaire", args=[theirs.pk]),
        reverse("surveys:question_edit", args=[theirs.pk, question.pk]),
        reverse("surveys:questionnaire_preview", args=[theirs.pk]),
    ):
        assert client.get(url).status_code == 404
    assert (
        client.post(reverse("surveys:questionnaire_publish", args=[theirs.pk])).status_code == 404
    )


@pytest.mark.django_db
def test_build_and_publish_through_the_pages(client_for, make_user):
    manager = make_user(Role.DEALER_MANAGER, language="en")
    client = client_for(manager)
    # Create
    created = client.post(
        reverse("surveys:questionnaire_create"),
        {"title": "试驾回访", "kind": "ad_hoc", "introduction": "谢谢！"},
    )
    questionnaire = Questionnaire.objects.get(title="试驾回访")
    assert created.status_code == 302
    add_url = reverse("surveys:question_create", args=[questionnaire.pk])
    # Add a question by HTMX: the list comes back
    added = client.post(
        add_url,
        {**_question("期望？", aspect="expectation"), "required": "on"},
        HTTP_HX_REQUEST="true",
    )
    assert added.status_code == 200
    assert "期望？" in added.content.decode()
    assert "data-problems" in added.content.decode()
    # A bad question comes back on the add form with the message
    refused = client.post(
        add_url,
        {"text": "选哪个？", "kind": "single", "choices": "只有一个"},
        HTTP_HX_REQUEST="true",
    )
    assert refused["HX-Retarget"] == "#new-question"
    assert "at least two options" in refused.content.decode()
    # Publishing is refused while the expectation has no experience
    client.post(reverse("surveys:questionnaire_publish", args=[questionnaire.pk]))
    assert questionnaire.versions.get().status == "draft"
    client.post(add_url, {**_question("体验？"), "required": "on"})
    published = client.post(reverse("surveys:questionnaire_publish", args=[questionnaire.pk]))
    assert published.status_code == 302
    questionnaire.refresh_from_db()
    assert questionnaire.current_version.status == "published"
    assert list(
        questionnaire.current_version.questions.order_by("position").values_list("text", flat=True)
    ) == ["期望？", "体验？"]


@pytest.mark.django_db
def test_editing_a_published_question_through_the_page_makes_a_draft(
    client_for, manager, brand, dealer, django_assert_max_num_queries
):
    questionnaire = make_questionnaire(brand=brand, dealer=dealer)
    question = questionnaire.current_version.questions.order_by("position").first()
    client = client_for(manager)
    with django_assert_max_num_queries(12):
        detail = client.get(reverse("surveys:questionnaire", args=[questionnaire.pk]))
    assert detail.status_code == 200
    url = reverse("surveys:question_edit", args=[questionnaire.pk, question.pk])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "text": "新的推荐问题？",
            "kind": "nps",
            "dimension": "overall",
            "aspect": "experience",
            "required": "on",
        },
    )
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.text == "您有多大可能向亲友推荐我们？"
    draft = questionnaire.versions.get(number=2)
    assert draft.questions.order_by("position").first().text == "新的推荐问题？"
    # Moving by HTMX works on the draft's questions
    second = draft.questions.order_by("position")[1]
    moved = client.post(
        reverse("surveys:question_edit", args=[questionnaire.pk, second.pk]),
        {"action": "up"},
        HTTP_HX_REQUEST="true",
    )
    assert moved.status_code == 200
    assert draft.questions.order_by("position").first().pk == second.pk


@pytest.mark.django_db
def test_preview_renders_the_customers_form_and_saves_nothing(client_for, manager, brand, dealer):
    from dealercrm.feedback.models import SurveyResponse

    questionnaire = make_questionnaire(brand=brand, dealer=dealer)
    client = client_for(manager)
    url = reverse("surveys:questionnaire_preview", args=[questionnaire.pk])
    page = client.get(url).content.decode()
    assert "您有多大可能向亲友推荐我们？" in page
    assert 'name="viewport"' in page
    checked = client.post(url, {})
    assert checked.status_code == 200
    assert 'role="alert"' in checked.content.decode()
    assert SurveyResponse.objects.count() == 0


# --- the API --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_builds_and_publishes_a_questionnaire(client_for, manager, brand):
    client = client_for(manager)
    make_questionnaire(brand=brand, title="品牌问卷")
    created = client.post(
        "/api/feedback/questionnaires",
        {"title": "交车回访", "kind": "delivery"},
        content_type="application/json",
    )
    assert created.status_code == 201
    qid = created.json()["id"]
    assert created.json()["draft_version"] == 1
    for body in (
        {"kind": "nps", "text": "推荐吗？", "dimension": "overall"},
        {"kind": "single", "text": "怎么来的？", "choices": ["朋友", "网络"]},
    ):
        added = client.post(
            f"/api/feedback/questionnaires/{qid}/questions", body, content_type="application/json"
        )
        assert added.status_code == 201
    refused = client.post(
        f"/api/feedback/questionnaires/{qid}/questions",
        {"kind": "rating11", "text": ""},
        content_type="application/json",
    )
    assert refused.status_code == 422
    assert set(refused.json()["errors"]) == {"kind", "text"}
    published = client.post(f"/api/feedback/questionnaires/{qid}/publish")
    assert published.status_code == 200
    body = published.json()
    assert body["current_version"] == 1
    assert body["draft"] is None
    assert [q["text"] for q in body["published"]["questions"]] == ["推荐吗？", "怎么来的？"]
    listed = client.get("/api/feedback/questionnaires").json()
    assert {row["title"]: row["editable"] for row in listed} == {
        "交车回访": True,
        "品牌问卷": False,
    }
    # Publishing again with no draft is refused
    assert client.post(f"/api/feedback/questionnaires/{qid}/publish").status_code == 422


@pytest.mark.django_db
def test_the_api_refuses_a_dealer_changing_the_brands_questionnaire(client_for, manager, brand):
    brands = make_questionnaire(brand=brand)
    client = client_for(manager)
    assert client.get(f"/api/feedback/questionnaires/{brands.pk}").status_code == 200
    added = client.post(
        f"/api/feedback/questionnaires/{brands.pk}/questions",
        {"kind": "nps", "text": "推荐吗？"},
        content_type="application/json",
    )
    assert added.status_code == 403
    assert client.post(f"/api/feedback/questionnaires/{brands.pk}/publish").status_code == 403
