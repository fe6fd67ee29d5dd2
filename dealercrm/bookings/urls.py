"""Bookable resources: demo cars (later service bays, loan cars)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "bookings"
urlpatterns = [
    path("", views.resource_list, name="resources"),
    path("new/", views.resource_create, name="resource_create"),
    path("<int:resource_id>/edit/", views.resource_edit, name="resource_edit"),
]
