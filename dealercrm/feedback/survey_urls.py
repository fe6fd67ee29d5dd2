"""Survey pages for staff (mounted at /surveys/)."""

from django.urls import path

from .views import answering, invitations, questionnaires, stats

app_name = "surveys"
urlpatterns = [
    path("", questionnaires.questionnaire_list, name="questionnaire_list"),
    path("new/", questionnaires.questionnaire_create, name="questionnaire_create"),
    path("dashboard/", stats.survey_dashboard, name="dashboard"),
    path("settings/", invitations.survey_settings, name="settings"),
    path("send/", invitations.survey_send, name="send"),
    path("invitations/", invitations.invitation_list, name="invitation_list"),
    path("invitations/<int:invitation_id>/", invitations.invitation_detail, name="invitation"),
    path("invitations/<int:invitation_id>/phone/", answering.phone_survey, name="phone_survey"),
    path("responses/<int:response_id>/", answering.response_detail, name="response"),
    path("<int:questionnaire_id>/", questionnaires.questionnaire_detail, name="questionnaire"),
    path(
        "<int:questionnaire_id>/questions/new/",
        questionnaires.question_create,
        name="question_create",
    ),
    path(
        "<int:questionnaire_id>/questions/<int:question_id>/",
        questionnaires.question_edit,
        name="question_edit",
    ),
    path(
        "<int:questionnaire_id>/preview/",
        questionnaires.questionnaire_preview,
        name="questionnaire_preview",
    ),
    path(
        "<int:questionnaire_id>/publish/",
        questionnaires.questionnaire_publish,
        name="questionnaire_publish",
    ),
]
