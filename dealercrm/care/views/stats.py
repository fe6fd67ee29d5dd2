"""Care pages: stats."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
