"""Bookable resources: demo cars (later service bays, loan cars) and their calendar."""

from __future__ import annotations

from django.urls import path  # noqa: F401

app_name = "bookings"
urlpatterns: list = []
