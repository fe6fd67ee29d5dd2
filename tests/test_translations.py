"""Simplified Chinese is the default UI language: every catalogue must be complete."""

from __future__ import annotations

from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parent.parent / "dealercrm"
CATALOGUES = sorted(ROOT.rglob("locale/zh_Hans/LC_MESSAGES/django.po"))


def test_every_app_with_strings_has_a_chinese_catalogue():
    apps_with_catalogues = {p.relative_to(ROOT).parts[0] for p in CATALOGUES}
    assert {
        "core",
        "customers",
        "vehicles",
        "search",
        "demo",
        "messaging",
        "worklist",
        "bookings",
        "sales",
        "service",
        "care",
        "feedback",
        "dataquality",
        "locale",
    } <= apps_with_catalogues


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_chinese_catalogue_has_no_untranslated_or_fuzzy_entry(path):
    catalogue = polib.pofile(str(path))
    assert [e.msgid for e in catalogue.untranslated_entries()] == []
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_placeholders_survive_translation(path):
    """A translation that drops or renames %(name)s would crash or mislead at run time."""
    import re

    pattern = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
    for entry in polib.pofile(str(path)).translated_entries():
        if entry.msgid_plural:
            continue
        assert sorted(pattern.findall(entry.msgid)) == sorted(pattern.findall(entry.msgstr)), (
            entry.msgid
        )
