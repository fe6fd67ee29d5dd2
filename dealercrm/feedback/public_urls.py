"""The public survey page behind a customer's personal link (mounted at /s/, no login)."""

from django.urls import path

from .views import answering

app_name = "surveys_public"
urlpatterns = [
    path("<str:survey_token>/", answering.public_answer, name="answer"),
]
