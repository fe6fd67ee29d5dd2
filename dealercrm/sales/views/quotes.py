"""Pages: quotes."""

from __future__ import annotations

from django.urls import path  # noqa: F401

urlpatterns: list = []

# Public (no login): the quote's share link, under /p/ (see ../public_urls.py).
public_urlpatterns: list = []
