from __future__ import annotations

from django.http import HttpRequest


def shell(request: HttpRequest) -> dict:
    """What the page shell (navigation, search box, language switch) needs on every page."""
    return {}
