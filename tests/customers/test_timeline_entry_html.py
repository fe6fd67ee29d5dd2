"""The timeline entry's HTML (built in Python for speed): every text escaped, times local."""

from __future__ import annotations

import datetime

from django.template import Context, Template

from dealercrm.customers.timeline import TimelineEntry

MARKUP = '<script>alert("x")</script>'


def render(entry: TimelineEntry) -> str:
    return Template("{% load timeline_tags %}{% timeline_entry entry %}").render(
        Context({"entry": entry})
    )


def test_every_text_of_an_entry_is_escaped_and_its_time_shown_in_the_local_zone():
    entry = TimelineEntry(
        occurred_at=datetime.datetime(2026, 3, 1, 2, 5, tzinfo=datetime.UTC),
        kind='note"><b>',
        icon="note",
        title=MARKUP,
        body=f"第一行\n{MARKUP}",
        actor=MARKUP,
        url='/x/?a=1&b="2"',
        source="customers",
    )
    html = render(entry)
    assert "<script>" not in html and "<b>" not in html
    assert html.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") == 3
    assert 'href="/x/?a=1&amp;b=&quot;2&quot;"' in html
    assert 'data-kind="note&quot;&gt;&lt;b&gt;"' in html
    # 02:05 UTC is 10:05 in Shanghai, the default time zone.
    assert 'title="2026-03-01T10:05:00+08:00">2026-03-01 10:05</span>' in html


def test_an_entry_without_link_body_or_actor_has_none_of_them():
    entry = TimelineEntry(
        occurred_at=datetime.datetime(2026, 3, 1, 2, 5, tzinfo=datetime.UTC),
        kind="mileage",
        icon="gauge",
        title="里程 12,000 km",
    )
    html = render(entry)
    assert "<strong>里程 12,000 km</strong>" in html
    assert "<a " not in html and "text-wrap" not in html and 'text-secondary small">' not in html
