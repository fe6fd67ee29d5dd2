from __future__ import annotations

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english_messages():
    """Messages are asserted in English (the source); pages still use the user's language."""
    with translation.override("en"):
        yield
