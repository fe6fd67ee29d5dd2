"""Browser tests: Playwright driving Debian's Chromium, headless, against pytest-django's live
server. Skipped, saying why, where /usr/bin/chromium is missing (`make test` installs it when
the machine allows)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def allow_orm_beside_playwright(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test still arranges and
    # checks data with the (synchronous) ORM, which Django refuses next to a running loop
    # unless told this is deliberate.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium, or a skip that says why (checked before any database or server work)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests skipped: {CHROMIUM} is missing (apt-get install chromium, "
            "or run `make test`, which installs it when the machine allows)"
        )
    return CHROMIUM


@pytest.fixture
def browser(chromium, allow_orm_beside_playwright, transactional_db, live_server):
    # Order matters for PostgreSQL, which will not drop the test database while a session is
    # open: the test database first, then the (session-wide) live server, so the server stops
    # before the database is dropped; Chromium last, so it closes first and ends its keep-alive
    # connections, and with them the server threads that hold database connections.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
            # ORM calls made while Playwright runs get connections of their own (its greenlets
            # carry their own context); close them here, where they are still reachable.
            connections.close_all()


@pytest.fixture
def page(chromium, transactional_db, live_server, browser):
    """A fresh browser tab on the live server, in English (the source language of the UI)."""
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    context.set_default_timeout(float(os.environ.get("E2E_TIMEOUT_MS", "10000")))
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
