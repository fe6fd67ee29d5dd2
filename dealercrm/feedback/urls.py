"""Complaint pages (mounted at /complaints/)."""

from django.urls import path

from .views import complaints, sla, stats

app_name = "feedback"
urlpatterns = [
    path("", complaints.complaint_list, name="complaint_list"),
    path("new/", complaints.complaint_create, name="complaint_create"),
    path("stats/", stats.complaint_stats, name="complaint_stats"),
    path("sla/", sla.sla_settings, name="sla_settings"),
    path("<int:complaint_id>/", complaints.complaint_detail, name="complaint"),
    path("<int:complaint_id>/contact/", complaints.complaint_contact, name="complaint_contact"),
    path("<int:complaint_id>/solution/", complaints.complaint_solution, name="complaint_solution"),
    path("<int:complaint_id>/analysis/", complaints.complaint_analysis, name="complaint_analysis"),
    path("<int:complaint_id>/assign/", complaints.complaint_assign, name="complaint_assign"),
    path(
        "<int:complaint_id>/follow-up/", complaints.complaint_follow_up, name="complaint_follow_up"
    ),
]
